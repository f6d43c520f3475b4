"""The README's walkthrough runs as written: its shell block, top to bottom, against a real
daemon on the sample config (`make run`), every command succeeding and saying what the
README says it does.

The block is run from a copy of the sample tree whose config differs only in its ports
(free ones, so parallel runs and a developer's own `make run` do not collide);
``.venv/bin/crisisd`` is this interpreter's ``crisisd``.
"""

from __future__ import annotations

import json
import os
import random
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.daemon_harness import ROOT, Proc

pytestmark = pytest.mark.slow
HEADING = "## Walk through an incident"


def walkthrough() -> list[list[str]]:
    """The commands of the README's walkthrough block, as argument lists."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index(HEADING) :]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block, f"no ```sh block under {HEADING!r}"
    lines = block.group(1).replace("\\\n", " ").splitlines()
    return [words for line in lines if (words := shlex.split(line, comments=True))]


def _free_ports(count: int) -> int:
    """The first of ``count`` consecutive free ports on 127.0.0.1."""
    for _ in range(50):
        base = random.randrange(20000, 60000 - count)
        try:
            for port in range(base, base + count):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise AssertionError("no free ports")


def _tree(tmp: Path) -> Path:
    """A copy of the sample tree with its own ports."""
    for name in ("playbooks", "templates"):
        shutil.copytree(ROOT / name, tmp / name)
    sandbox = _free_ports(6)
    config = (ROOT / "config.yaml").read_text(encoding="utf-8")
    defaults = ("sandbox_port: 8790", "  port: 8787")
    assert all(config.count(d) == 1 for d in defaults), "config.yaml's default ports moved"
    changed = config.replace(defaults[0], f"sandbox_port: {sandbox}").replace(
        defaults[1], f"  port: {sandbox + 5}"
    )
    (tmp / "config.yaml").write_text(changed, encoding="utf-8")
    return tmp


def _run(words: list[str], cwd: Path) -> str:
    assert words[0] == ".venv/bin/crisisd", words
    done = subprocess.run(
        [sys.executable, "-m", "crisisd", *words[1:]],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "LANG": "C.UTF-8"},
        check=False,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, f"{shlex.join(words)} failed ({done.returncode}):\n{out}"
    return out


def _received(page: str, *needles: str, timeout: float = 30.0) -> bool:
    """Whether some message the fakes received (the inbox page's list) has every needle."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(page.rstrip("/") + "/api/messages", timeout=10) as resp:
            data = json.loads(resp.read())
        items = data["messages"] if isinstance(data, dict) else data
        if any(all(n in json.dumps(m, ensure_ascii=False) for n in needles) for m in items):
            return True
        time.sleep(0.2)
    return False


def test_the_readme_walkthrough_runs_as_written(tmp_path: Path) -> None:
    commands = walkthrough()
    tree = _tree(tmp_path)
    daemon = Proc(["run", "--config", str(tree / "config.yaml")], tmp_path / "daemon.log")
    daemon.start()
    try:
        page = daemon.wait_for(lambda e: e.get("event") == "daemon.ready", 90)["inbox_page"]
        said = [(words, _run(words, tree)) for words in commands]
        # What people received: casualties and place in the team's alerts.
        assert _received(page, "مصدوم: ۲ نفر", "انبار مواد اولیه")
        assert _received(page, "مصدوم: ۱ نفر", "واحد نورد")
    finally:
        daemon.stop()

    def answer(*needle: str) -> str:
        """The output of the (first) command with all of ``needle`` among its words."""
        return next(out for words, out in said if all(n in words for n in needle))

    fire = re.search(r"accepted: incident ([A-Z]{3}-\d{3})", answer("trigger"))
    assert fire, answer("trigger")
    assert fire.group(1) in answer("status")
    assert "written to report.html" in answer("report")
    report = (tree / "report.html").read_text(encoding="utf-8")
    assert fire.group(1) in report and "انبار مواد اولیه" in report

    chat = [out for words, out in said if words[1] == "chat"]
    assert "کسی آسیب دیده است؟" in chat[2]
    assert "چند نفر؟" in chat[3] and "واحد نورد" in chat[4]
    assert "🩹 مصدوم: ۱ نفر" in chat[6] and "📍 محل: واحد نورد" in chat[6]  # the preview
    accepted = re.search(r"پذیرفته شد\. شناسهٔ حادثه: \W*([A-Z]{3}-\d{3})", chat[7])
    assert accepted, chat[7]
    assert "دریافت شد" in chat[8]  # the acknowledgement stamp
    assert "به‌روزرسانی" in chat[13] and "پذیرفته شد" in chat[13]
    assert "کارهای پیگیری" in chat[14] and "✔️ انجام شد" in chat[14]
    assert "اعلام پایان را می‌گیرند" in chat[17]
    assert f"پایان حادثهٔ {accepted.group(1)} ثبت شد" in chat[18]
    assert "drill started" in answer("drill")
