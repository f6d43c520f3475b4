"""`crisisd demo` end to end: the scripted scenario on a throwaway store and the sandbox."""

from __future__ import annotations

import io
import re
from pathlib import Path

from crisisd.cli.demo import run_demo

CONFIG = Path(__file__).resolve().parent.parent / "config.yaml"
INCIDENT_ID = re.compile(r"incident ([A-Z]{3}-\d{3})")


def test_demo_runs_every_step_and_prints_the_report() -> None:
    out = io.StringIO()
    assert run_demo(CONFIG, fast=True, out=out) == 0, out.getvalue()[-3000:]
    text = out.getvalue()
    assert "\x1b[" not in text  # not a terminal: plain lines, no control codes
    found = INCIDENT_ID.search(text)
    assert found, text[:2000]
    incident = found.group(1)
    assert f"incident {incident} went through every step" in text
    assert "escalation: Dr Leila Nazari (hse.nazari) did not acknowledge in time" in text
    assert re.search(r"escalation messages sent: [1-9]", text)
    assert "acknowledges the alert" in text
    assert "gives the all-clear" in text
    assert "Bale refused (bot blocked), delivered by SMS instead" in text
    assert "delayed step due: 5 message(s) to press" in text
    assert "update delivered" in text
    # enrolment: a staff member with no chat id connects in two taps, and is reached there
    assert "Hassan Sadeghi (staff.sadeghi) has no Bale chat id in the directory" in text
    assert "taps “📱 Share my number”: connected on Bale" in text
    assert "staff.sadeghi: the staff alert reached them on Bale" in text
    # the incident report, after the scenario, with the Jalali date in Persian digits
    report = text[text.index(f"Incident report {incident}") :]
    assert "escalation" in report
    assert re.search(r"[۰-۹]{4}", report), report[:2000]  # a Jalali year such as ۱۴۰۵
    assert re.search(r"\b20\d\d\b", report)  # and the Gregorian alongside


def test_demo_with_a_missing_config_says_so_and_fails(tmp_path: Path) -> None:
    out = io.StringIO()
    assert run_demo(tmp_path / "nope.yaml", fast=True, out=out) == 1
    assert "nope.yaml:1:1: file not found" in out.getvalue()
