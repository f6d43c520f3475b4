"""Reload off the event loop: the child-process loader, the collector around it, and SIGHUPs
that merge while the watchdog keeps pinging (the loop-stall figures are in bench/reload.py)."""

from __future__ import annotations

import gc
import signal
import socket
import time
import weakref
from pathlib import Path

import pytest

from crisisd.config import Config, load_config
from crisisd.errors import CrisisError, ProblemsError
from crisisd.library.isolated import CHUNK, load_isolated
from crisisd.library.loader import load_library
from crisisd.library.offloop import HeapCare
from tests.daemon_harness import Proc
from tests.minitree import make_tree


def _tree(root: Path, extra_contacts: int = 0) -> Path:
    make_tree(root)
    directory = root / "playbooks" / "directory.yaml"
    directory.write_text(
        directory.read_text(encoding="utf-8")
        + "".join(
            f'  w{i}:\n    name: {{fa: کارگر {i}, en: Worker {i}}}\n    phone: "0912{i:07d}"\n'
            for i in range(extra_contacts)
        ),
        encoding="utf-8",
    )
    cfg = root / "config.yaml"
    cfg.write_text("playbooks: playbooks\ntemplates: templates\n", encoding="utf-8")
    return cfg


async def test_the_child_loads_what_the_daemon_would(tmp_path: Path) -> None:
    cfg = _tree(tmp_path, extra_contacts=CHUNK * 2 + 7)  # several pieces, one of them short
    here = load_library(load_config(cfg))
    there = await load_isolated(cfg, Config())
    assert there.directory.contacts == here.directory.contacts
    assert list(there.directory.contacts) == list(here.directory.contacts)  # order kept
    assert there.playbooks == here.playbooks
    assert there.config == here.config
    assert there.approvals == here.approvals
    assert there.warnings == here.warnings
    assert set(there.templates.refs) == set(here.templates.refs)
    # the templates came compiled from the child and render as the ones compiled here
    assert there.templates.compiled == here.templates.compiled
    for key, ref in here.templates.refs.items():
        assert there.templates.refs[key] == ref  # the same files, the same sha256


async def test_a_broken_playbook_comes_back_as_located_problems(tmp_path: Path) -> None:
    cfg = _tree(tmp_path)
    pb = tmp_path / "playbooks" / "mini.yaml"
    pb.write_text(
        pb.read_text(encoding="utf-8").replace("    members: [boss.c]", "\tmembers: [boss.c]"),
        encoding="utf-8",
    )
    with pytest.raises(ProblemsError) as caught:
        await load_isolated(cfg, Config())
    assert any("mini.yaml:10:" in p.format() for p in caught.value.problems)


async def test_an_unreadable_config_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("store_url: [\n", encoding="utf-8")
    with pytest.raises(CrisisError) as caught:
        await load_isolated(tmp_path / "config.yaml", Config())
    assert "config.yaml" in str(caught.value)


async def test_the_collector_pauses_for_a_load_and_comes_back_even_on_error() -> None:
    heap = HeapCare()
    seen: list[bool] = []

    async def load() -> int:
        seen.append(gc.isenabled())
        return 1

    async def fails() -> int:
        raise CrisisError("broken")

    assert gc.isenabled()
    assert await heap.load(load) == 1
    assert seen == [False]
    assert gc.isenabled()
    with pytest.raises(CrisisError):
        await heap.load(fails)
    assert gc.isenabled()


def test_replaced_libraries_wait_frozen_until_tidied() -> None:
    heap = HeapCare()
    try:
        assert heap.tidy() == 0  # nothing replaced yet: no full collection at all

        class Node:
            def __init__(self) -> None:
                self.me = self

        old = Node()
        heap.settle()  # the old library, frozen at start
        heap.replaced(old)  # kept until idle: freeing it now would hold the loop
        kept = weakref.ref(old)
        del old
        assert heap.dirty and kept() is not None
        assert heap.tidy() >= 1  # let go: its cycle is garbage only a full collection finds
        assert not heap.dirty and kept() is None
    finally:
        gc.unfreeze()


@pytest.mark.slow
def test_sighups_merge_into_one_more_reload_and_the_watchdog_keeps_pinging(
    tmp_path: Path,
) -> None:
    make_tree(tmp_path)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        f"store_url: sqlite:///{tmp_path / 'store.sqlite3'}\nplaybooks: playbooks\n"
        "templates: templates\nsandbox: true\nsandbox_port: 0\nlog_json: true\n"
        "api: {bind: 127.0.0.1, port: 0}\n",
        encoding="utf-8",
    )
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify.sock"))
    sock.settimeout(30)
    env = {"NOTIFY_SOCKET": str(tmp_path / "notify.sock"), "WATCHDOG_USEC": "1000000"}
    daemon = Proc(["run", "--config", str(cfg)], tmp_path / "daemon.log", env=env).start()
    try:
        assert sock.recv(64) == b"READY=1"
        for _ in range(20):  # what a nervous operator's loop does
            daemon.signal(signal.SIGHUP)
            time.sleep(0.01)
        daemon.wait_for(lambda e: e.get("event") == "reload.ok", 60)
        pings = 0
        while pings < 3:  # the loop keeps answering systemd after the burst
            if sock.recv(64) == b"WATCHDOG=1":
                pings += 1
        # a merged reload starts as soon as the one before ends: wait until none is running
        daemon.wait_for(lambda _e: _count(daemon, "reload.ok") == _count(daemon, "reload.started"))
    finally:
        assert daemon.stop() == 0, daemon.tail()
        sock.close()
    # twenty signals: the reload they started and at most one more, each applied
    assert 1 <= _count(daemon, "reload.started") <= 2
    assert _count(daemon, "reload.ok") == _count(daemon, "reload.started")


def _count(proc: Proc, event: str) -> int:
    return sum(1 for e in proc.events() if e.get("event") == event)
