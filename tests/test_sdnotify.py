"""sd_notify over a real datagram socket; the watchdog pings come from the event loop."""

from __future__ import annotations

import asyncio
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from crisisd import sdnotify


class Listener:
    """systemd's side: a datagram socket read by a thread, stamping each arrival."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.05)
        self.got: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(256)
            except TimeoutError:
                continue
            self.got.append((time.monotonic(), data.decode()))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def listener(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Listener]:
    path = tmp_path / "notify.sock"
    lst = Listener(path)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    yield lst
    lst.close()


def test_notify_reaches_the_socket(listener: Listener) -> None:
    assert sdnotify.notify("READY=1")
    deadline = time.monotonic() + 2
    while not listener.got and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [m for _, m in listener.got] == ["READY=1"]


def test_no_socket_is_a_quiet_no(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert not sdnotify.notify("READY=1")


def test_watchdog_interval_is_half_of_watchdog_sec(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert sdnotify.watchdog_interval() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", "1")  # meant for another process
    assert sdnotify.watchdog_interval() is None


def _block(seconds: float) -> None:
    time.sleep(seconds)  # stands for a blocking call on the event loop


async def test_a_blocked_loop_stops_the_pings(listener: Listener) -> None:
    task = asyncio.create_task(sdnotify.watchdog(0.05))
    await asyncio.sleep(0.3)
    asyncio.get_running_loop().call_soon(_block, 0.6)
    await asyncio.sleep(0.3)
    task.cancel()
    await asyncio.sleep(0.1)
    pings = [t for t, m in listener.got if m == "WATCHDOG=1"]
    assert len(pings) >= 6
    gaps = [b - a for a, b in itertools.pairwise(pings)]
    assert max(gaps) >= 0.5  # the silence systemd acts on
    assert sorted(gaps)[len(gaps) // 2] < 0.2  # otherwise the pings are regular
