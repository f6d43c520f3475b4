"""`crisisd run` that cannot start says why in one line, with the fix, and exits non-zero:
no traceback, no password, no hint about a port when the port is not the problem. Each case
is a real subprocess against a real fault: a store folder nobody may write (``chattr +i``,
which stops root too), a missing PostgreSQL database, a port nobody listens on, a port in
use."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.conftest import pg_url

ROOT = Path(__file__).parent.parent


def start(tmp: Path, **settings: Any) -> tuple[int, list[dict[str, Any]], str]:
    """Run the daemon with ``settings`` over the sample tree until it gives up."""
    config = {
        "playbooks": str(ROOT / "playbooks"),
        "templates": str(ROOT / "templates"),
        "sandbox": True,
        "sandbox_port": 0,
        "api": {"bind": "127.0.0.1", "port": 0},
        "log_json": True,
        **settings,
    }
    path = tmp / "config.yaml"
    path.write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
    done = subprocess.run(
        [sys.executable, "-m", "crisisd", "run", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    output = done.stdout + done.stderr
    events = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return done.returncode, events, output


def refused(tmp: Path, **settings: Any) -> str:
    """The one start.failed line of a start that must fail."""
    code, events, output = start(tmp, **settings)
    assert code != 0, output
    assert "Traceback" not in output, output
    failed = [e for e in events if e["event"] == "start.failed"]
    assert len(failed) == 1, output
    error: str = failed[0]["error"]
    assert "\n" not in error and "port already in use" not in error
    return error


@pytest.fixture
def frozen(tmp_path: Path) -> Iterator[Path]:
    """A folder nobody, root included, may create files in."""
    folder = tmp_path / "frozen"
    folder.mkdir()
    if shutil.which("chattr") is None:
        pytest.skip("no chattr here")
    made = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"chattr +i refused: {made.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=False)


def test_a_store_folder_that_cannot_be_written(tmp_path: Path, frozen: Path) -> None:
    error = refused(tmp_path, store_url=f"sqlite+aiosqlite:///{frozen}/crisisd.sqlite3")
    assert f"the store {frozen}/crisisd.sqlite3 cannot be opened for writing" in error
    assert f"make its folder {frozen} exist and writable" in error


def test_a_store_path_through_a_file(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    error = refused(tmp_path, store_url=f"sqlite+aiosqlite:///{tmp_path}/afile/c.sqlite3")
    assert "afile" in error and "writable" in error


def test_a_postgresql_port_nobody_listens_on(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql://crisisd:S3cret-pw@127.0.0.1:{port}/crisisd"
    error = refused(tmp_path, store_url=url)
    assert f"nothing answers at 127.0.0.1:{port}" in error
    assert "start PostgreSQL there" in error and "S3cret-pw" not in error


def test_a_missing_postgresql_database(tmp_path: Path) -> None:
    parts = urlsplit(pg_url())
    missing = urlunsplit(parts._replace(path="/crisisd_no_such_database"))
    error = refused(tmp_path, store_url=missing)
    assert "the database 'crisisd_no_such_database' does not exist" in error
    assert "createdb" in error


def test_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        error = refused(
            tmp_path,
            store_url=f"sqlite+aiosqlite:///{tmp_path}/s.sqlite3",
            api={"bind": "127.0.0.1", "port": port},
        )
    assert f"cannot listen on 127.0.0.1:{port}" in error
    assert "api.port" in error
