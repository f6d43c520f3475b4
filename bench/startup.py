"""Start-up: ``crisisd run`` to READY (sd_notify) with 100 factory playbooks.

A fictional province (bench/provincegen.py) of ``--factories`` playbooks and
``--contacts`` people, the built-in sandbox on free ports, a fresh SQLite store. The
daemon is started as systemd would, with ``NOTIFY_SOCKET`` pointing at a datagram socket
here, and timed from the process start to ``READY=1``. Beside it, the same interpreter
starting and exiting (``python -c pass``), the floor of any Python daemon. Medians of
``--runs``; never part of the tests.

crisisd's modules are compiled to bytecode first, as installing the package does: a
daemon started where ``PYTHONDONTWRITEBYTECODE`` is set and no ``__pycache__`` exists
(a fresh checkout in CI) would otherwise compile ~300 modules on every start.
"""

from __future__ import annotations

import argparse
import compileall
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.provincegen import ROOT, Province
from bench.tally import emit, figure

TARGET_S = 3.0


def free_port_block(count: int) -> int:
    """A first port with ``count`` free ports after it (the sandbox takes consecutive ones)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            first = int(s.getsockname()[1])
        if first + count < 65000 and all(_free(first + i) for i in range(count)):
            return first
    raise RuntimeError("no block of free ports")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def config_for(root: Path, factories: int, contacts: int) -> Path:
    path = Province(root, contacts=contacts, playbooks=factories + 1).build()
    text = path.read_text("utf-8").replace("  port: 8787", "  port: 0")
    path.write_text(text, "utf-8")
    return path


def fresh_ports(config: Path) -> None:
    """Free ports for the sandbox, looked up just before each start (others use ports too)."""
    text = re.sub(r"sandbox_port: \d+", f"sandbox_port: {free_port_block(8)}", config.read_text())
    config.write_text(text, "utf-8")


def time_to_ready(config: Path, log: Path, timeout: float = 120.0) -> float:
    sock_path = config.parent / f"notify-{time.monotonic_ns()}.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(sock_path))
    listener.settimeout(0.2)
    env = {**os.environ, "NOTIFY_SOCKET": str(sock_path), "PYTHONUNBUFFERED": "1"}
    with log.open("ab") as sink:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "crisisd", "run", "--config", str(config)],
            cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    try:
        while time.perf_counter() - t0 < timeout:
            try:
                data = listener.recv(4096).decode()
            except TimeoutError:
                if proc.poll() is not None:
                    break  # it gave up: the log says why
                continue
            if "READY=1" in data.split("\n"):
                return time.perf_counter() - t0
        raise RuntimeError(f"no READY:\n{log.read_text()[-2000:]}")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        listener.close()
        sock_path.unlink(missing_ok=True)


def bare_python() -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--factories", type=int, default=100)
    ap.add_argument("--contacts", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    runs = []
    compileall.compile_dir(ROOT / "crisisd", quiet=1)
    with tempfile.TemporaryDirectory(prefix="crisisd-startup-") as tmp:
        config = config_for(Path(tmp), args.factories, args.contacts)
        for i in range(args.runs):
            (Path(tmp) / "crisisd.sqlite3").unlink(missing_ok=True)
            fresh_ports(config)
            ready = time_to_ready(config, Path(tmp) / f"run{i}.log")
            runs.append({"ready_s": ready, "python_s": bare_python()})
    fig = figure(
        f"crisisd run -> READY, {args.factories} playbooks, {args.contacts:,} contacts",
        [r["ready_s"] for r in runs],
        "s",
        raw=[r["python_s"] for r in runs],
        target=f"< {TARGET_S:g} s",
        check=lambda v, _raw: v < TARGET_S,
        note="raw: the interpreter starting and exiting",
    )
    emit("start-up", [fig], runs, args.json)


if __name__ == "__main__":
    main()
