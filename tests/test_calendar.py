"""The calendar in force, from config.yaml to the deadlines planned and to `crisisd validate`."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from click.testing import CliRunner

from crisisd.cli.app import main
from crisisd.config import load_config
from crisisd.domain import IncidentFacts
from crisisd.formats.timefmt import TEHRAN
from crisisd.formats.workweek import public_holiday_source
from crisisd.library.loader import load_library
from crisisd.planning.planner import plan_open
from tests.minitree import make_tree

BEFORE_NOWRUZ = datetime(2026, 3, 18, 11, 0, tzinfo=TEHRAN)  # Wednesday 27 Esfand 1404


def config_file(root: Path, calendar: str = "") -> Path:
    make_tree(root)
    path = root / "config.yaml"
    path.write_text(
        f"playbooks: playbooks\ntemplates: templates\nsandbox: true\n{calendar}",
        encoding="utf-8",
    )
    return path


def task_due(path: Path, opened: datetime) -> datetime:
    """When mini's "3 working days" task falls due for a fire reported at ``opened``."""
    lib = load_library(load_config(path))
    facts = IncidentFacts("MIN-001", "mini", "fire", "major", "officer.a", opened)
    (task,) = plan_open(lib, facts).tasks
    return task.due_at


def test_public_holidays_count_by_default(tmp_path: Path) -> None:
    path = config_file(tmp_path)
    assert load_library(load_config(path)).calendar.iran_public
    # Thursday, Friday, Nowruz (Saturday to Tuesday): Wednesday, Saturday, Sunday
    assert task_due(path, BEFORE_NOWRUZ) == datetime(2026, 3, 29, 23, 59, 59, tzinfo=TEHRAN)


def test_local_holidays_add_and_public_ones_can_be_left_out(tmp_path: Path) -> None:
    local = config_file(
        tmp_path / "local",
        'calendar: {holidays: ["1405-01-09", "2026-03-30"]}\n',  # Sunday 29 and Monday 30 March
    )
    assert task_due(local, BEFORE_NOWRUZ).date() == date(2026, 3, 31)
    bare = config_file(tmp_path / "bare", "calendar: {public_holidays: false}\n")
    assert task_due(bare, BEFORE_NOWRUZ).date() == date(2026, 3, 23)  # Saturday to Monday


def test_validate_says_which_calendar_is_in_force(tmp_path: Path) -> None:
    path = config_file(
        tmp_path,
        'calendar: {thursday_working: true, holidays: ["1405-05-10", "2026-08-02"]}\n',
    )
    result = CliRunner().invoke(main, ["validate", "--config", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("ok: 1 playbook(s) (mini)")
    assert lines[1] == (
        f"calendar: Iran public holidays ({public_holiday_source()}) + 2 local; Thursday working"
    )
    bare = config_file(tmp_path / "bare", "calendar: {public_holidays: false}\n")
    result = CliRunner().invoke(main, ["validate", "--config", str(bare), "--json"])
    assert '"calendar": "no holidays besides Fridays; Thursday off"' in result.output
