"""The mini tree (tests/minitree.py) with a roll call of a `staff` audience in fire/major."""

from __future__ import annotations

from pathlib import Path

from crisisd.config import Config
from tests.minitree import make_tree

ROLL_CALL = (
    "          - {roll_call: staff, channels: [bale, sms, email], within: 10m, reask_every: 5m,"
    " ask_location: true}\n"
)
STAFF = "  staff:\n    members: [staff.b, boss.c, officer.a]\n"
EXTRA = """\
  worker.e:
    name: {fa: رضا نوری, en: Reza Nouri}
    phone: "0912 111 6677"
  worker.f:
    name: {fa: نادر یزدی, en: Nader Yazdi}
"""


def make_rollcall_tree(root: Path, members: str = "staff.b, boss.c, officer.a") -> Config:
    """The mini tree plus ``staff`` (``members``) asked in fire/major, 10 min to answer."""
    config = make_tree(root)
    pb = root / "playbooks" / "mini.yaml"
    text = pb.read_text(encoding="utf-8")
    text = text.replace("  press:\n", STAFF.replace("staff.b, boss.c, officer.a", members)
                        + "  press:\n", 1)  # fmt: skip
    anchor = "          - {audience: press, template: statement, channels: [email], after: 10m}\n"
    text = text.replace(anchor, anchor + ROLL_CALL, 1)
    pb.write_text(text, encoding="utf-8")
    directory = root / "playbooks" / "directory.yaml"
    directory.write_text(directory.read_text(encoding="utf-8") + EXTRA, encoding="utf-8")
    return config
