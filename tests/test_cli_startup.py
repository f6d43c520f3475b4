"""The command starts without loading what it does not need: `crisisd --help` imports no
database driver, no Bot API client and no model of the playbooks (measured in bench, not
timed here: the test checks what is imported, which is what made it slow)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("sqlalchemy", "telegram", "aiohttp", "crisisd.playbook", "crisisd.incidents")


def test_help_imports_nothing_heavy() -> None:
    code = (
        "import sys; from click.testing import CliRunner; from crisisd.cli import main; "
        "r = CliRunner().invoke(main, ['--help']); assert r.exit_code == 0, r.output; "
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
