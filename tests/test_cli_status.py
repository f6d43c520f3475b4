"""`crisisd status` reads as a person expects: Persian names and a Jalali date, or English."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from crisisd.cli import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def config(tmp_path: Path) -> Path:
    for name in ("playbooks", "templates"):
        shutil.copytree(ROOT / name, tmp_path / name)
    text = (ROOT / "config.yaml").read_text(encoding="utf-8")
    (tmp_path / "config.yaml").write_text(text, encoding="utf-8")
    return tmp_path / "config.yaml"


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_status_in_persian_and_english(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(config.parent)
    c = str(config)
    run("trigger", "shahriar-steel", "fire", "major", "--reporter", "officer.rezaei", "--config", c)
    fa = run("status", "--lang", "fa", "--config", c)
    assert "فولاد شهریار" in fa and "آتش‌سوزی" in fa and "(جدی)" in fa
    assert "۱۴۰۵" in fa or "۱۴۰۶" in fa  # a Jalali year, in Persian digits
    assert "shahriar-steel" not in fa and "pending" not in fa
    en = run("status", "--lang", "en", "--config", c)
    assert "Shahriar Steel" in en and "Fire (major)" in en and "2026" in en
    rows = json.loads(run("status", "--json", "--config", c))
    assert rows[0]["factory"] == "shahriar-steel" and "line" not in rows[0]


def test_a_cli_incident_carries_signed_ack_links(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from crisisd.store import Store

    monkeypatch.chdir(config.parent)
    out = run(
        "trigger",
        "shahriar-steel",
        "fire",
        "major",
        "--reporter",
        "officer.rezaei",
        "--config",
        str(config),
    )
    found_id = re.search(r"incident ([A-Z]{3}-[0-9]{3})", out)
    assert found_id, out
    incident = found_id.group(1)

    async def messages() -> list[tuple[bool, str]]:
        store = Store(f"sqlite+aiosqlite:///{config.parent / 'var' / 'crisisd.sqlite3'}")
        await store.start()
        try:
            rows = await store.messages_of(incident)
            return [
                (m.ack_required, m.rendering("sms").text) for m in rows if "sms" in m.renderings
            ]
        finally:
            await store.aclose()

    found = asyncio.run(messages())
    asked = [text for ack, text in found if ack]
    assert asked and all("/v1/ack/" in text for text in asked)
