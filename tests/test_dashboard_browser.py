"""The dashboard in a browser: the real daemon (subprocess, sandbox: true, the sample
playbooks) and Debian's Chromium driven by Playwright (see tests/test_browser.py).

A province user and a factory officer each sign in with the code the bot sends to their
Bale chat (read from the sandbox Bot API's record of sent messages); the officer reports
a fire with preview → confirm; the province overview, left open, shows it without a
reload, then its delivery and acknowledgement move as the sandbox delivers and a member
of the emergency team presses the alert's button; the officer of one factory is refused
the other factory's drill. A screenshot of every page goes to /tmp/dashboard-shots/.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from crisisd.formats.timefmt import ascii_digits
from tests.browsers import CHROMIUM, CHROMIUM_ARGS, need_browser, sample_config
from tests.daemon_harness import Proc

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.slow

SHOTS = Path("/tmp/dashboard-shots")
STEP_MS = 30_000
PROVINCE, PROVINCE_CHAT = "province.pr", 1000009001  # playbooks/directory.yaml (sample)
OFFICER, OFFICER_CHAT = "officer.karimi", 1000002201  # Malard Paint's PR officer
RESPONDER_CHAT = 1000002202  # hse.bagheri, Malard's emergency team (must acknowledge)
HOSTILE = '<script>alert("x")</script> \u202eخطر\u202c'
INCIDENT_ID = re.compile(r"[A-Z]{3}-[0-9]{3}")


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[dict[str, Any]]:
    need_browser("the dashboard browser test")
    cfg = sample_config(tmp_path, f"dashboard: {{province: [{PROVINCE}]}}\n")
    proc = Proc(["run", "--config", str(cfg)], tmp_path / "daemon.log").start()
    try:
        ready = proc.wait_for(lambda e: e.get("event") == "daemon.ready", 60)
        ready["proc"] = proc
        yield ready
    finally:
        proc.stop()


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:  # loopback only
        return json.loads(resp.read().decode())


def _post(url: str, body: dict[str, Any]) -> Any:
    req = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read().decode())


def _wait(what: str, found: Any, page: Page) -> Any:
    for _ in range(300):
        got = found()
        if got:
            return got
        page.wait_for_timeout(100)
    raise AssertionError(f"timed out waiting for {what}")


def _code(bale: str, chat: int, page: Page, seen: int = 0) -> str:
    """The newest sign-in code the bot sent to ``chat`` (after ``seen`` of them)."""

    def codes() -> list[str]:
        sent = _get(f"{bale}/_control/sent?chat_id={chat}")
        texts = [ascii_digits(m["text"] or "") for m in sent if "crisisd" in (m["text"] or "")]
        return [m.group(1) for t in texts if (m := re.search(r"\b(\d{6})\b", t))]

    return str(
        _wait(f"a code in chat {chat}", lambda: (c := codes()) and len(c) > seen and c[-1], page)
    )


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


def _sign_in(page: Page, base: str, bale: str, who: str, chat: int) -> None:
    from playwright.sync_api import expect

    page.goto(f"{base}/dashboard/")
    expect(page).to_have_url(re.compile(r"/dashboard/signin$"))
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    page.fill("#who", who)
    page.click("button:has-text('فرستادن کد')")
    expect(page.locator("#code")).to_be_visible()
    page.fill("#code", _code(bale, chat, page))
    page.click("main button")
    expect(page.locator("h1")).to_have_text("نمای استان")


def test_province_and_officer_in_the_browser(daemon: dict[str, Any], tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    base, bale = daemon["api"], daemon["bale_Bot_API"].removesuffix("/bot")
    assert daemon["dashboard"] == f"{base}/dashboard/"
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            _scenario(browser, base, bale, problems)
        except BaseException:
            print(daemon["proc"].tail(6000))
            raise
        finally:
            browser.close()
    assert problems == []
    # the banner `make run` prints names the dashboard (the daemon's stderr is in its log)
    banner = re.search(
        r"dashboard\s+(http://127\.0\.0\.1:\d+/dashboard/)", daemon["proc"].tail(100_000)
    )
    assert banner and banner.group(1) == daemon["dashboard"]


def _page(browser: Browser, problems: list[str], **kw: Any) -> Page:
    context = browser.new_context(locale="fa-IR", timezone_id="Asia/Tehran", **kw)
    page = context.new_page()
    page.set_default_timeout(STEP_MS)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on(
        "console",
        lambda m: (
            problems.append(f"console: {m.text}")
            if m.type == "error"
            and "favicon" not in str(m.location.get("url", ""))
            and "403" not in m.text
            else None
        ),
    )
    return page


def _scenario(browser: Browser, base: str, bale: str, problems: list[str]) -> None:
    from playwright.sync_api import expect

    wall = _page(browser, problems, viewport={"width": 1366, "height": 900})
    shot_signin(wall, base)
    _sign_in(wall, base, bale, PROVINCE, PROVINCE_CHAT)
    expect(wall.locator(".me")).to_contain_text("استان")
    shot(wall, "02-overview-province-empty")

    phone = _page(browser, problems, viewport={"width": 412, "height": 860}, is_mobile=True)
    _sign_in(phone, base, bale, OFFICER, OFFICER_CHAT)
    shot(phone, "02b-overview-officer-phone")
    incident_id = _report(phone)

    # the wall screen, never reloaded, shows the new incident and its progress
    row = wall.locator("#open-incidents tr").filter(has_text=incident_id)
    expect(row).to_be_visible()
    expect(row).to_contain_text("رنگ و شیمی ملارد")
    expect(row.locator("td.headcount")).to_have_text("—")
    expect(row.locator("td").nth(5)).not_to_have_text(re.compile(r"^(—|۰٪)$"))  # delivered
    _acknowledge(bale, wall, incident_id)
    expect(row.locator("td").nth(6)).not_to_have_text(re.compile(r"^(—|۰٪)$"))  # acknowledged
    shot(wall, "04-overview-live")

    wall.goto(f"{base}/dashboard/incidents/{incident_id}")
    expect(wall.locator(".usertext").first).to_contain_text('<script>alert("x")</script>')
    expect(wall.locator(".chart svg").first).to_be_visible()
    expect(wall.locator("pre.sent").first).to_be_attached()
    shot(wall, "05-incident-province")

    drill_id = _drill_now(wall)
    shot(wall, "06-drill-province")

    # the Malard officer is refused Shahriar's drill
    phone.goto(f"{base}/dashboard/drills/{drill_id}")
    expect(phone.locator("h1")).to_have_text("403")
    shot(phone, "07-officer-refused")

    wall.goto(f"{base}/dashboard/contacts?factory=malard-paint")
    expect(wall.locator("h2").first).to_contain_text("٪")
    shot(wall, "08-contacts")
    wall.goto(f"{base}/dashboard/lang/en?next=%2Fdashboard%2F")
    expect(wall.locator("h1")).to_have_text("Province overview")
    expect(wall.locator("html")).to_have_attribute("dir", "ltr")
    shot(wall, "09-overview-english")


def shot_signin(page: Page, base: str) -> None:
    page.goto(f"{base}/dashboard/signin")
    shot(page, "01-signin")


def _report(phone: Page) -> str:
    """The officer reports a fire on the phone: preview, then confirm."""
    from playwright.sync_api import expect

    phone.click("a.button")  # گزارش حادثه
    phone.select_option("#scenario", "malard-paint/fire/major")
    phone.fill("#location", "انبار حلال‌ها")
    phone.fill("#details", HOSTILE)
    phone.click("button:has-text('پیش‌نمایش')")
    preview = phone.locator(".preview pre")
    expect(preview).to_contain_text("== step 1: emergency_team")
    expect(preview).to_contain_text('<script>alert("x")</script>')
    shot(phone, "03-trigger-preview-officer")
    phone.click("button:has-text('تأیید و ارسال')")
    expect(phone.locator("h1")).to_contain_text("رنگ و شیمی ملارد")
    found = INCIDENT_ID.search(phone.locator("h1").inner_text())
    assert found
    return found.group(0)


def _acknowledge(bale: str, page: Page, incident_id: str) -> None:
    """hse.bagheri presses the ack button of the alert in his Bale chat."""

    def alert() -> dict[str, Any] | None:
        for m in _get(f"{bale}/_control/sent?chat_id={RESPONDER_CHAT}"):
            rows = (m.get("reply_markup") or {}).get("inline_keyboard") or []
            if incident_id in (m["text"] or "") and rows:
                return dict(m)
        return None

    msg = _wait("the alert with its button", alert, page)
    data = msg["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    _post(
        f"{bale}/_control/callback",
        {"user_id": RESPONDER_CHAT, "message_id": msg["message_id"], "data": data},
    )


def _drill_now(page: Page) -> str:
    """Province staff: drill now at Shahriar Steel (province may drill, not report)."""
    from playwright.sync_api import expect

    page.click("nav a >> nth=0")
    page.click("a.button")
    page.select_option("#scenario", "shahriar-steel/fire/minor")
    page.click("button:has-text('پیش‌نمایش')")
    expect(page.locator(".preview pre")).to_contain_text("DRILL")
    page.click("button:has-text('تأیید و ارسال')")
    expect(page.locator("h1")).to_contain_text("نتیجهٔ مانور")
    found = INCIDENT_ID.search(page.locator("h1").inner_text())
    assert found
    return found.group(0)
