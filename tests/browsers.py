"""What the two browser tests share: Debian's Chromium, how it is launched, the check that
it is there, and the sandbox daemon's config on the repo's sample playbooks.

Playwright's own browser downloads are not possible here, so Playwright drives Debian's
Chromium (``.ci/browser-deps``) through ``executable_path``. Without Chromium or Playwright
a browser test is skipped, except under CI=true, where it fails.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.daemon_harness import ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def need_browser(test: str) -> None:
    """Skip ``test`` (fail it under CI=true) when Chromium or Playwright is missing."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (install it with: bash .ci/browser-deps)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package (pip install playwright; no browser download)")
    if not missing:
        return
    reason = f"{test} needs " + " and ".join(missing)
    if os.environ.get("CI") == "true":
        pytest.fail(reason + " — under CI=true it must run")
    pytest.skip(reason)


def sample_config(root: Path, extra: str = "") -> Path:
    """The repo's sample playbooks and templates on a fresh store, the sandbox and an API
    on a free port; ``extra`` is appended as more top-level YAML."""
    root.mkdir(parents=True, exist_ok=True)
    cfg = root / "config.yaml"
    cfg.write_text(
        f"""\
store_url: sqlite:///{root / "store.sqlite3"}
playbooks: {ROOT / "playbooks"}
templates: {ROOT / "templates"}
sandbox: true
sandbox_port: 0
log_json: true
messengers:
  - {{name: bale, base_url: "https://tapi.bale.ai/bot"}}
  - {{name: telegram}}
sms:
  gateways:
    - {{name: kavenegar, provider: kavenegar, sender: "10008663"}}
api:
  bind: 127.0.0.1
  port: 0
{extra}""",
        encoding="utf-8",
    )
    return cfg
