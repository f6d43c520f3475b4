"""A person in a browser: the real daemon (subprocess, sandbox: true, the repo's sample
playbooks) and headless Chromium on the training chat page.

The officer reports a fire with /report and the inline buttons, reads the preview, confirms
and gets the incident ID; the head of safety sees the alert and presses "✅ دریافت شد"; the
officer's progress message counts the acknowledgement; the inbox page lists the messages
in Persian. Screenshots of every stage go to tests/artifacts/ (git-ignored).

Chromium is found and launched as tests/browsers.py says.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.browsers import CHROMIUM, CHROMIUM_ARGS, need_browser, sample_config
from tests.daemon_harness import ROOT, Proc

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, ConsoleMessage, Locator, Page

pytestmark = pytest.mark.slow

ARTIFACTS = ROOT / "tests" / "artifacts"
STEP_MS = 30_000  # the longest wait for one thing to appear on the page

# From playbooks/directory.yaml and playbooks/shahriar-steel.yaml (sample data).
OFFICER = "1000001101"  # officer.rezaei, مریم رضایی, PR officer of Shahriar Steel
SAFETY_HEAD = "1000001103"  # hse.mousavi, emergency team (must acknowledge) on Bale
FACTORY, FIRE, MINOR = "فولاد شهریار", "آتش‌سوزی", "جزئی"
DETAILS = "آتش‌سوزی کوچک در قفسه‌های کاغذ؛ مهار شده."
PLACE = "انبار مواد اولیه"  # one of factory.locations
INCIDENT_ID = re.compile(r"[A-Z]{3}-[0-9]{3}")
PERSIAN = re.compile(r"[\u0600-\u06FF]")


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[Proc, dict[str, Any]]]:
    need_browser("the browser test")
    proc = Proc(["run", "--config", str(sample_config(tmp_path))], tmp_path / "daemon.log")
    proc.start()
    try:
        ready = proc.wait_for(lambda e: e.get("event") == "daemon.ready", 60)
        yield proc, ready
    finally:
        proc.stop()


class Shots:
    """Numbered screenshots of the stages, under tests/artifacts/."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.n = 0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for old in ARTIFACTS.glob("browser-*.png"):
            old.unlink()

    def __call__(self, stage: str, *, full: bool = False) -> None:
        self.n += 1
        self.page.screenshot(path=ARTIFACTS / f"browser-{self.n:02d}-{stage}.png", full_page=full)


def bot_message(page: Page, text: str | re.Pattern[str]) -> Locator:
    """The newest bot message containing ``text`` (waited for)."""
    found = page.locator(".msg.bot").filter(has_text=text).last
    found.wait_for(timeout=STEP_MS)
    return found


def press(page: Page, label: str) -> None:
    """Press the newest inline button labelled ``label``."""
    button = page.locator(".msg.bot .kb-btn").filter(has_text=label).last
    button.wait_for(timeout=STEP_MS)
    button.click()


def play(page: Page, chat_id: str, name: str) -> None:
    """Pick who is played on Bale (the option is labelled with their Persian name)."""
    page.select_option("#messenger", "bale")
    option = page.locator(f'#who option[value="{chat_id}"]')
    assert name in option.inner_text()
    page.select_option("#who", chat_id)
    page.wait_for_function(f"new URLSearchParams(location.search).get('u') === '{chat_id}'")


def write(page: Page, text: str) -> None:
    page.fill("#text", text)
    page.press("#text", "Enter")
    page.locator(".msg.user").filter(has_text=text).last.wait_for(timeout=STEP_MS)


def test_report_confirm_acknowledge_in_the_browser(
    daemon: tuple[Proc, dict[str, Any]], tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    proc, ready = daemon
    training = ready.get("training_chat")
    assert training, (
        "the daemon does not announce a training chat page (addresses: "
        f"{sorted(ready)}); runner.py must mount crisisd.sandbox.trainer"
    )
    inbox = ready["inbox_page"]
    problems: list[str] = []

    with sync_playwright() as pw:
        context: BrowserContext = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh user-data dir
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            locale="fa-IR",
            timezone_id="Asia/Tehran",
            viewport={"width": 412, "height": 860},
        )
        page = context.pages[0] if context.pages else context.new_page()
        page.set_default_timeout(STEP_MS)
        expect.set_options(timeout=STEP_MS)
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        page.on("console", lambda msg: _console(msg, problems))
        page.on(
            "request",
            lambda req: (
                None
                if req.url.startswith(("http://127.0.0.1", "data:"))
                else problems.append(f"request outside the sandbox: {req.url}")
            ),
        )
        shot = Shots(page)
        try:
            _scenario(page, shot, training, inbox)
        except BaseException:
            shot("failure", full=True)
            print(f"daemon log tail:\n{proc.tail(6000)}")
            raise
        finally:
            context.close()
    assert problems == []


def _console(msg: ConsoleMessage, problems: list[str]) -> None:
    """Script errors and CSP violations are problems; a missing favicon is not."""
    where = str(msg.location.get("url", ""))
    if msg.type == "error" and not where.endswith("/favicon.ico"):
        problems.append(f"console error at {where}: {msg.text}")


def _scenario(page: Page, shot: Shots, training: str, inbox: str) -> None:
    page.goto(training)
    incident_id = _report(page, shot)
    _acknowledge(page, shot, incident_id)
    _progress(page, shot, incident_id)
    _inbox(page, shot, inbox)


def _report(page: Page, shot: Shots) -> str:
    """The officer: /report, (factory →) type → severity → casualties → how many (typed on
    a Persian keyboard) → place, details, preview, Confirm."""
    from playwright.sync_api import expect

    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    play(page, OFFICER, "مریم رضایی")
    expect(page.locator("#playing")).to_contain_text("مریم رضایی")
    shot("officer-picked")
    write(page, "/report")
    expect(page.locator(".msg.user").last.locator(".tick.fetched")).to_be_visible()  # ✓✓
    first = page.locator(".msg.bot .kb-btn").filter(has_text=re.compile(f"{FACTORY}|{FIRE}"))
    first.last.wait_for()
    shot("report-asked")
    if FACTORY in first.last.inner_text():  # an officer of several factories is asked first
        press(page, FACTORY)
    press(page, FIRE)  # each step edits the same message
    bot_message(page, "شدت")
    shot("type-chosen")
    press(page, MINOR)
    bot_message(page, "کسی آسیب دیده است؟")
    press(page, "مصدوم دارد")
    bot_message(page, "چند نفر؟")
    write(page, "۲")
    bot_message(page, "کجای کارخانه؟")
    shot("place-asked")
    press(page, PLACE)
    bot_message(page, "جزئیات را")
    shot("details-asked")
    write(page, DETAILS)
    preview = bot_message(page, "پیش‌نمایش")
    expect(preview).to_contain_text(DETAILS)
    expect(preview).to_contain_text("مصدوم: ۲ نفر")
    expect(preview).to_contain_text(f"محل: {PLACE}")
    expect(preview.locator(".kb-btn").filter(has_text="تأیید و ارسال")).to_be_visible()
    shot("preview", full=True)
    press(page, "تأیید و ارسال")
    accepted = bot_message(page, "پذیرفته شد")
    found = INCIDENT_ID.search(accepted.inner_text())
    assert found, accepted.inner_text()
    incident_id = found.group(0)
    expect(accepted.locator("b").filter(has_text=incident_id)).to_be_visible()
    bot_message(page, f"وضعیت ارسال {incident_id}")  # the progress message
    shot("accepted")
    return incident_id


def _acknowledge(page: Page, shot: Shots, incident_id: str) -> None:
    """The head of safety sees the alert and presses "✅ دریافت شد"."""
    from playwright.sync_api import expect

    play(page, SAFETY_HEAD, "سید حسین موسوی")
    ack_button = page.locator(".kb-btn").filter(has_text="دریافت شد")
    alert = page.locator(".msg.bot").filter(has=ack_button).last
    alert.wait_for()
    expect(alert).to_contain_text(FACTORY)
    expect(alert).to_contain_text(incident_id)
    shot("alert")
    alert.locator(".kb-btn").filter(has_text="دریافت شد").click()
    stamped = bot_message(page, "دریافت شد ساعت")
    expect(stamped.locator(".kb-btn")).to_have_count(0)
    expect(stamped.locator(".edited")).to_be_visible()
    shot("acknowledged")


def _progress(page: Page, shot: Shots, incident_id: str) -> None:
    """Back as the officer: the progress message counts the ack, edited in place."""
    from playwright.sync_api import expect

    play(page, OFFICER, "مریم رضایی")
    progress = page.locator(".msg.bot").filter(has_text=f"وضعیت ارسال {incident_id}").last
    expect(progress).to_contain_text(re.compile("تأیید ۱ از"))
    expect(progress.locator(".edited")).to_be_visible()
    shot("progress")


def _inbox(page: Page, shot: Shots, inbox: str) -> None:
    """The inbox page lists what went out, in Persian, right to left."""
    from playwright.sync_api import expect

    page.goto(inbox)
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("html")).to_have_attribute("lang", "fa")
    expect(page.locator("h1")).to_have_text("صندوق پیام‌های آزمایشی")
    to_safety = page.locator("article.msg").filter(has_text=SAFETY_HEAD)
    expect(to_safety.first).to_be_visible()
    assert PERSIAN.search(to_safety.first.locator(".text").inner_text())
    assert page.locator("article.msg").count() >= 3
    shot("inbox", full=True)
