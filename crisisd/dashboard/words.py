"""The dashboard's words in Persian and English, and the filters that show numbers and
times to a reader: Persian digits and Jalali dates in Persian, Gregorian in English."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Any

from crisisd.formats.timefmt import duration_words, fa_digits, local_date

LANGS = ("fa", "en")

WORDS: dict[str, tuple[str, str]] = {
    "title": ("داشبورد کارگروه صنعت و رسانه", "Industry & Media working group dashboard"),
    "overview": ("نمای استان", "Province overview"),
    "incidents": ("حادثه‌ها", "Incidents"),
    "contacts": ("دسترس‌پذیری", "Reachability"),
    "open_incidents": ("حادثه‌های باز", "Open incidents"),
    "no_open": ("حادثهٔ بازی نیست.", "No open incidents."),
    "factory": ("کارخانه", "Factory"),
    "type": ("نوع", "Type"),
    "severity": ("شدت", "Severity"),
    "age": ("مدت", "Age"),
    "delivered": ("ارسال‌شده", "Delivered"),
    "acked": ("تأییدشده", "Acknowledged"),
    "headcount": ("حضور و غیاب", "Headcount"),
    "headcount_note": (
        "پاسخ داده / پرسیده‌شده؛ 🆘 کمک لازم دارد؛ — بدون حضور و غیاب",
        "answered / asked; 🆘 needs help; — no roll call",
    ),
    "next_update": ("به‌روزرسانی بعدی", "Next update due"),
    "taken_over": ("واگذار به ستاد بحران", "Taken over"),
    "yes": ("بله", "yes"),
    "no": ("خیر", "no"),
    "overdue": ("گذشته", "overdue"),
    "upcoming_drills": ("مانورهای پیش رو", "Upcoming drills"),
    "readiness": ("آمادگی کارخانه‌ها", "Readiness per factory"),
    "last_drill": ("امتیاز آخرین مانور", "Last drill score"),
    "trend": ("روند", "Trend"),
    "reachability": ("دسترس‌پذیری", "Reachability"),
    "stale": ("ارتباط قطع‌شده", "Stale contacts"),
    "overdue_tasks": ("کارهای عقب‌افتاده", "Overdue tasks"),
    "when": ("زمان", "When"),
    "scenario": ("سناریو", "Scenario"),
    "signin": ("ورود", "Sign in"),
    "signout": ("خروج", "Sign out"),
    "who_prompt": ("شناسه یا شمارهٔ همراه شما", "Your directory id or mobile number"),
    "send_code": ("فرستادن کد", "Send me a code"),
    "code_sent": (
        "اگر شما عضو کارگروه باشید، کدی در بله/تلگرام (یا پیامک و ایمیل) برایتان فرستاده شد.",
        "If you are a member of the working group, a code was sent to your Bale/Telegram "
        "chat (or by SMS or email).",
    ),
    "code_prompt": ("کد شش‌رقمی", "The six-digit code"),
    "enter": ("ورود", "Sign in"),
    "code_bad": ("این کد درست نیست یا دیگر اعتبار ندارد.", "This code is wrong, used or expired."),
    "signed_in_as": ("واردشده:", "Signed in:"),
    "role_province": ("استان", "province"),
    "role_officer": ("مسئول روابط عمومی", "officer"),
    "role_viewer": ("بیننده", "viewer"),
    "timeline": ("رویدادها", "Timeline"),
    "messages": ("پیام‌ها", "Messages"),
    "tasks": ("کارهای پیگیری", "Follow-up tasks"),
    "due": ("مهلت", "Due"),
    "done": ("انجام شد", "done"),
    "recipient": ("گیرنده", "Recipient"),
    "audience": ("گروه", "Audience"),
    "channel": ("کانال", "Channel"),
    "status": ("وضعیت", "Status"),
    "text_sent": ("متن فرستاده‌شده", "Text sent"),
    "chart_note": (
        "ارسال (پررنگ) و تأیید (خط‌چین) در طول زمان",
        "Sent (solid) and acknowledged (dashed) over time",
    ),
    "details": ("جزئیات", "Details"),
    "location": ("محل", "Place"),
    "opened": ("آغاز", "Opened"),
    "actions": ("اقدام‌ها", "Actions"),
    "update": ("فرستادن به‌روزرسانی", "Send an update"),
    "resolve": ("پایان حادثه", "All clear"),
    "takeover": ("واگذاری به ستاد بحران استان", "Crisis HQ takes over"),
    "trigger": ("گزارش حادثه", "Report an incident"),
    "preview": ("پیش‌نمایش", "Preview"),
    "confirm": ("تأیید و ارسال", "Confirm and send"),
    "drill_now": ("اکنون مانور", "Drill now"),
    "drill": ("مانور", "Drill"),
    "drill_score": ("نتیجهٔ مانور", "Drill score"),
    "previous_drill": ("مانور قبلی", "Previous drill"),
    "never_answered": ("کسانی که پاسخ ندادند", "Who never answered"),
    "unreached": ("کسانی که پیام به آن‌ها نرسید", "Who was never reached"),
    "first_notice": ("نخستین اطلاع‌رسانی پس از", "First notification after"),
    "person": ("فرد", "Person"),
    "state": ("وضعیت", "State"),
    "page": ("صفحه", "Page"),
    "next": ("بعدی", "Next"),
    "prev": ("قبلی", "Previous"),
    "all": ("همه", "All"),
    "forbidden": ("دسترسی به این بخش برای شما مجاز نیست.", "You may not see or do this."),
    "not_found": ("پیدا نشد.", "Not found."),
    "refused": ("انجام نشد", "Refused"),
    "live": ("زنده", "live"),
    "none": ("—", "—"),
}


def say(key: str, lang: str) -> str:
    fa, en = WORDS[key]
    return fa if lang == "fa" else en


def digits(value: object, lang: str) -> str:
    return fa_digits(value) if lang == "fa" else str(value)


def percent(value: float | None, lang: str) -> str:
    if value is None:
        return "—"
    text = f"{value:.0f}%"
    return fa_digits(text).replace("%", "٪") if lang == "fa" else text


def when(at: datetime | None, lang: str, tz: tzinfo) -> str:
    return "—" if at is None else local_date(at, lang, tz=tz)


def age(d: timedelta, lang: str) -> str:
    return duration_words(max(d, timedelta(0)), lang)


def filters(lang: str, tz: tzinfo) -> dict[str, Any]:
    """What templates call: ``t('key')``, ``n(3)``, ``pct(50.0)``, ``date(dt)``, ``age(td)``."""
    return {
        "t": lambda key: say(key, lang),
        "n": lambda value: digits(value, lang),
        "pct": lambda value: percent(value, lang),
        "date": lambda at: when(at, lang, tz),
        "age": lambda d: age(d, lang),
        "lang": lang,
        "dir": "rtl" if lang == "fa" else "ltr",
    }
