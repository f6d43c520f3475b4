"""A fictional province to load: 100,000 contacts and 50 playbooks (bench/province.py).

49 factories shaped like playbooks/malard-paint.yaml (its incidents, statements and drills,
with generated audiences of about 2,000 people) and the governor's office working group,
``province-hq``, whose ``everyone`` audience is every contact of the province (an
earthquake is told to all). Names, numbers, chat ids and addresses are made up; the
templates are the repository's own (templates/, with its approvals).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
FIRST = [
    ("مریم", "Maryam"), ("علی", "Ali"), ("زهرا", "Zahra"), ("حسین", "Hossein"),
    ("فاطمه", "Fatemeh"), ("رضا", "Reza"), ("نرگس", "Narges"), ("مهدی", "Mehdi"),
    ("سارا", "Sara"), ("محمد", "Mohammad"), ("لیلا", "Leila"), ("امیر", "Amir"),
]  # fmt: skip
LAST = [
    ("احمدی", "Ahmadi"), ("کریمی", "Karimi"), ("رضایی", "Rezaei"), ("موسوی", "Mousavi"),
    ("حسینی", "Hosseini"), ("جعفری", "Jafari"), ("صادقی", "Sadeghi"), ("نظری", "Nazari"),
    ("قاسمی", "Ghasemi"), ("باقری", "Bagheri"), ("رحیمی", "Rahimi"), ("یزدانی", "Yazdani"),
]  # fmt: skip
SIZES = {
    "emergency_team": 12,
    "management": 6,
    "staff": 1_980,
    "families": 20,
    "authorities": 5,
    "press": 5,
}
HQ = "province-hq"


class Province:
    """Writes the tree; ``contacts`` is how many people the directory holds in the end."""

    def __init__(self, root: Path, contacts: int = 100_000, playbooks: int = 50) -> None:
        self.root = root
        self.contacts = contacts
        self.factories = playbooks - 1
        self.rng = random.Random(1405)
        self.people: list[str] = []
        self.lines: list[str] = ["contacts:\n"]

    def person(self, cid: str, role: str) -> str:
        n = len(self.people)
        fa_first, en_first = FIRST[n % len(FIRST)]
        fa_last, en_last = LAST[(n // len(FIRST)) % len(LAST)]
        fa, en = f"{fa_first} {fa_last} {n}", f"{en_first} {en_last} {n}"
        out = [f"  {cid}:\n    name: {{fa: {fa}, en: {en}}}\n"]
        if self.rng.random() < 0.05:
            out.append("    lang: en\n")
        external = role in ("authorities", "press")
        chats = {}
        if role == "officer":
            chats["bale"] = 1_000_000_000 + n
        elif not external:
            if self.rng.random() < 0.7:
                chats["bale"] = 1_000_000_000 + n
            if self.rng.random() < 0.3:
                chats["telegram"] = 6_000_000_000 + n
        if chats:
            out.append(f"    chats: {{{', '.join(f'{k}: {v}' for k, v in chats.items())}}}\n")
        if role != "press":
            out.append(f'    phone: "0912 {n // 10_000:03d} {n % 10_000:04d}"\n')
        if external or role in ("management", "officer") or self.rng.random() < 0.3:
            out.append(f"    email: p{n}@example.com\n")
        self.people.append(cid)
        self.lines.append("".join(out))
        return cid

    def audiences(self, prefix: str, base: dict[str, Any], scale: float) -> dict[str, Any]:
        out = {}
        for aid, aud in base.items():
            size = max(1, round(SIZES.get(aid, 5) * scale))
            members = [self.person(f"{prefix}.{aid}{i}", aid) for i in range(size)]
            out[aid] = {**aud, "members": members}
        return out

    def playbook(
        self, fid: str, names: tuple[str, str], base: dict[str, Any], scale: float
    ) -> None:
        officer = self.person(f"{fid}.officer", "officer")
        pb = dict(base)
        pb["factory"] = {
            **base["factory"],
            "id": fid,
            "name": {"fa": names[0], "en": names[1]},
            "officers": [officer],
            "sender_name": {"fa": f"روابط عمومی {names[0]}", "en": f"{names[1]} Public Relations"},
        }
        pb["audiences"] = self.audiences(fid, base["audiences"], scale)
        pb["audiences"]["emergency_team"]["members"].insert(0, officer)
        self.write(fid, pb)

    def write(self, fid: str, pb: dict[str, Any]) -> None:
        text = yaml.safe_dump(pb, allow_unicode=True, sort_keys=False, width=10_000)
        (self.root / "playbooks" / f"{fid}.yaml").write_text(text, encoding="utf-8")

    def build(self) -> Path:
        """Write playbooks/, directory.yaml and config.yaml; return the config's path."""
        (self.root / "playbooks").mkdir(parents=True, exist_ok=True)
        base = yaml.safe_load((ROOT / "playbooks" / "malard-paint.yaml").read_text("utf-8"))
        per_factory = sum(SIZES.values()) + 1
        scale = max(0.01, (self.contacts - 200) / (self.factories * per_factory))
        for k in range(self.factories):
            names = (f"کارخانه {k + 1}", f"Works {k + 1}")
            self.playbook(f"factory-{k + 1:02d}", names, base, scale)
        self.hq(base)
        (self.root / "playbooks" / "directory.yaml").write_text("".join(self.lines), "utf-8")
        config = self.root / "config.yaml"
        config.write_text(
            (ROOT / "config.yaml")
            .read_text("utf-8")
            .replace("playbooks: playbooks", f"playbooks: {self.root / 'playbooks'}")
            .replace("templates: templates", f"templates: {ROOT / 'templates'}")
            .replace("sqlite+aiosqlite:///var/", f"sqlite+aiosqlite:///{self.root}/"),
            "utf-8",
        )
        return config

    def hq(self, base: dict[str, Any]) -> None:
        """The working group: its own small audiences, and ``everyone`` for an earthquake."""
        while len(self.people) < self.contacts - 30:  # the rest of the province
            self.person(f"hq.staff{len(self.people)}", "staff")
        names = ("کارگروه استان", "Province Group")
        self.playbook(HQ, names, base, 0.01)
        path = self.root / "playbooks" / f"{HQ}.yaml"
        pb = yaml.safe_load(path.read_text("utf-8"))
        pb["audiences"]["everyone"] = {
            "name": {"fa": "همهٔ کارکنان استان", "en": "Everyone in the province"},
            "members": [
                p for p in self.people if not p.split(".")[1].startswith(("press", "auth"))
            ],
        }
        step = {
            "audience": "everyone",
            "template": "staff_alert",
            "channels": ["bale", "telegram", "sms"],
        }
        pb["incidents"]["earthquake"] = {
            "name": {"fa": "زلزله", "en": "Earthquake"},
            "severities": {"major": {"steps": [step]}},
        }
        self.write(HQ, pb)
