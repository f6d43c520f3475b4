"""Iran's public holidays are looked up while the daemon starts, not by the first incident
with a deadline in working days: that lookup imports the holidays package's tables of
every country and computes the year's dates (~0.1 s), a stall of the event loop in the
middle of an open (bench/core.py's probes). Checked in a fresh interpreter, where nothing
has looked them up yet; what is imported and cached is checked, never how long it took."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.minitree import make_tree

PROBE = """
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from crisisd.cli import startup
from crisisd.formats.workweek import iran_public_holidays
daemon = startup._prepare(Path(sys.argv[1]))
assert not isinstance(daemon, int), daemon
warmed = iran_public_holidays.cache_info().currsize
before = iran_public_holidays.cache_info().misses
now = datetime.now(UTC)
daemon.library().calendar.add_working_days(now, 3)
daemon.library().calendar.add_working_days(now.replace(month=12, day=28), 5)
print(warmed, iran_public_holidays.cache_info().misses - before)
"""


def _prepare_and_look_up(root: Path, extra: str = "") -> list[int]:
    """The mini tree under ``root``, the daemon prepared in a fresh interpreter; how many
    years were looked up at start, and how many more the deadlines needed after."""
    make_tree(root)
    config = root / "config.yaml"
    config.write_text(f"playbooks: playbooks\ntemplates: templates\n{extra}", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(config)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-2000:])
    return [int(x) for x in done.stdout.split()[-2:]]


def test_the_public_holidays_are_looked_up_at_start_not_at_the_first_deadline(
    tmp_path: Path,
) -> None:
    warmed, looked_up_later = _prepare_and_look_up(tmp_path)
    assert warmed == 2  # this year's and the next
    assert looked_up_later == 0  # nothing left for an open to compute


def test_without_public_holidays_nothing_is_looked_up(tmp_path: Path) -> None:
    off = "calendar:\n  public_holidays: false\n"
    assert _prepare_and_look_up(tmp_path, off) == [0, 0]
