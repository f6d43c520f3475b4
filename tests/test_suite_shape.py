"""The test suite keeps honest habits: shared helpers live in fixture modules, not in test
modules; a background task that dies unseen fails its test; the slowest tests are shown."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
ROOT = TESTS.parent


def _imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "tests." * (node.level > 0) + (node.module or "")
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def test_test_modules_do_not_import_each_other() -> None:
    """A test module imported by another runs its tests twice and ties the two together."""
    offenders = {
        path.name: sorted(n for n in _imported(path) if n.startswith("tests.test_"))
        for path in sorted(TESTS.glob("test_*.py"))
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_every_test_module_holds_tests() -> None:
    """A ``test_*.py`` without tests is a fixture module in disguise: name it for what it is."""
    empty = []
    for path in sorted(TESTS.glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        if not any(
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and node.name.startswith(("test_", "Test"))
            for node in tree.body
        ):
            empty.append(path.name)
    assert empty == []


LEAKY = """
import asyncio


async def boom() -> None:
    raise RuntimeError("lost in the background")


async def test_leaks_a_dead_task() -> None:
    task = asyncio.create_task(boom())
    while not task.done():
        await asyncio.sleep(0)
    del task  # nobody ever looks at its exception


async def test_awaits_what_it_starts() -> None:
    task = asyncio.create_task(boom())
    try:
        await task
    except RuntimeError:
        pass


def test_sync_tests_are_untouched() -> None:
    assert True
"""


def test_a_task_that_dies_unseen_fails_its_test(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    pytester.makepyfile(test_leaky=LEAKY)
    result = pytester.runpytest("-p", "tests.loopguard")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_leaks_a_dead_task*",
            "*Task exception was never retrieved*lost in the background*",
        ]
    )


def test_the_slowest_tests_are_listed() -> None:
    """A test that grows slow on a loaded machine shows up in every run's summary."""
    options = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    addopts = options["tool"]["pytest"]["ini_options"]["addopts"].split()
    assert "--durations=15" in addopts
