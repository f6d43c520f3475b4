"""sd_notify over a real datagram socket; the watchdog pings come from the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from crisisd import sdnotify


class Listener:
    """systemd's side: a datagram socket. A datagram is in its queue once ``send`` returns,
    so draining it says exactly what was sent so far: no thread, no arrival times."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.setblocking(False)

    def drain(self) -> list[str]:
        """Every datagram sent so far and not yet read."""
        got = []
        while True:
            try:
                got.append(self.sock.recv(256).decode())
            except BlockingIOError:
                return got

    async def next(self) -> str:
        """The next datagram, waiting for it on the event loop (a test timeout bounds it)."""
        data = await asyncio.get_running_loop().sock_recv(self.sock, 256)
        return data.decode()

    def close(self) -> None:
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
    assert listener.drain() == ["READY=1"]


def test_no_socket_is_a_quiet_no(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert not sdnotify.notify("READY=1")


def test_watchdog_interval_is_half_of_watchdog_sec(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert sdnotify.watchdog_interval() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", "1")  # meant for another process
    assert sdnotify.watchdog_interval() is None


BLOCK = 0.3  # how long the stand-in blocking call holds the loop: many ping intervals


async def test_a_blocked_loop_stops_the_pings(listener: Listener) -> None:
    """The pings come from the loop itself: while a call blocks it, none is sent, and they
    come back once it returns. Asserted on what was sent, not on when it arrived."""
    task = asyncio.create_task(sdnotify.watchdog(0.01))
    try:
        async with asyncio.timeout(30):
            for _ in range(3):  # the pings keep coming while the loop runs
                assert await listener.next() == "WATCHDOG=1"
        loop = asyncio.get_running_loop()
        during: asyncio.Future[list[str]] = loop.create_future()

        def block() -> None:  # stands for a blocking call on the event loop
            listener.drain()  # whatever was sent before the block
            time.sleep(BLOCK)
            during.set_result(listener.drain())

        loop.call_soon(block)
        assert await during == [], "a ping was sent while the loop was blocked"
        async with asyncio.timeout(30):
            assert await listener.next() == "WATCHDOG=1"  # and they resume
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
