"""systemd notification protocol (sd_notify) over $NOTIFY_SOCKET; a no-op elsewhere."""

from __future__ import annotations

import asyncio
import os
import socket

import structlog

log = structlog.get_logger("crisisd.systemd")


def notify(state: str) -> bool:
    """Send ``state`` (e.g. "READY=1") to systemd; False when not under systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # abstract namespace
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(state.encode())
    except OSError as exc:
        log.warning("systemd.notify_failed", error=str(exc))
        return False
    return True


def watchdog_interval() -> float | None:
    """Half of systemd's WatchdogSec for this process, or None when no watchdog is asked for."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 1_000_000 / 2


async def watchdog(interval: float) -> None:
    """Ping from the event loop itself: a blocked loop stops the pings and trips the watchdog."""
    while True:
        notify("WATCHDOG=1")
        await asyncio.sleep(interval)
