"""The house keeps its shape: no import circles, modules a reader can hold in mind.

The layers themselves are import-linter's contract in pyproject.toml (``lint-imports``,
run by ``make check``); these tests add what a layers contract cannot see.
"""

from __future__ import annotations

from pathlib import Path

import grimp

PACKAGE = Path(__file__).resolve().parent.parent / "crisisd"
MAX_LINES = 420  # "about 400": a little slack, never a 600-line module
# Modules still being split by their owners in this series; this list only shrinks.
KNOWN_LONG: dict[str, int] = {}


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_circles() -> None:
    graph = grimp.build_graph("crisisd", cache_dir=None)
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_circle() -> None:
    """The check above would pass vacuously if the finder were broken."""
    graph = grimp.ImportGraph()
    for name in ("a", "a.b", "a.c", "a.d"):
        graph.add_module(name)
    graph.add_import(importer="a.b", imported="a.c")
    graph.add_import(importer="a.c", imported="a.b")
    graph.add_import(importer="a.d", imported="a.b")
    assert _cycles(graph) == [["a.b", "a.c"]]


def test_no_module_is_long() -> None:
    long = {
        str(path.relative_to(PACKAGE.parent)): n
        for path in PACKAGE.rglob("*.py")
        if "migrations" not in path.parts
        and (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    grown = {k: n for k, n in long.items() if n > KNOWN_LONG.get(k, MAX_LINES)}
    assert grown == {}, f"split these by responsibility: {grown}"


def test_the_package_root_holds_only_vocabulary_models_and_the_shell() -> None:
    root = sorted(p.stem for p in PACKAGE.glob("*.py"))
    assert root == [
        "__init__",
        "__main__",
        "approvals",
        "context",
        "domain",
        "errors",
        "incidents",
        "logs",
        "metrics",
        "playbook",
        "problems",
        "redaction",
        "sdnotify",
        "service",
        "steps",
        "supervision",
        "templates",
    ]


def test_nothing_at_run_time_imports_the_docs_generator() -> None:
    graph = grimp.build_graph("crisisd", cache_dir=None)
    assert not any(m.startswith("tools") for m in graph.modules)
    for path in PACKAGE.rglob("*.py"):
        assert "tools.docsgen" not in path.read_text(encoding="utf-8"), path
