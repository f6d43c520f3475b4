"""Every word the officers' bot says, in Persian and English.

Values are Telegram HTML fragments with ``{name}`` fields; whatever fills a field is
escaped by the caller (:func:`say` escapes every argument unless it is :class:`Html`).
Persian text gets Persian digits from the caller (numbers pass through :func:`num`), and
separates with the Persian comma, never "·" (it reads as the Persian zero "۰"); no
playbook key (``emergency_team``) appears in it, only names. The report's questions and
the update's wording are in :mod:`.texts_report`, following up in :mod:`.texts_follow`.
"""

from __future__ import annotations

from html import escape

from crisisd.bot.texts_follow import COMMANDS as COMMANDS  # the command menu, for app.py
from crisisd.bot.texts_follow import FOLLOW
from crisisd.bot.texts_report import REPORT
from crisisd.formats.timefmt import fa_digits, is_persian

LANGS = ("fa", "en")


class Html(str):
    """A string that is already Telegram HTML: :func:`say` inserts it unescaped."""

    __slots__ = ()


T: dict[str, dict[str, str]] = {
    # -- who may use the bot ------------------------------------------------------------
    "refused": {
        "fa": "با پوزش، این ربات فقط در اختیار مسئولان روابط عمومی کارخانه‌های عضو است. "
        "اگر هشداری برایتان آمده، دریافت آن را با دکمهٔ زیر همان پیام تأیید کنید.",
        "en": "Sorry — this bot is only for the PR officers of member factories. "
        "If you received an alert, confirm it with the button under that alert.",
    },
    "refused_factory": {
        "fa": "شما در فهرست مسئولان روابط عمومی این کارخانه نیستید.",
        "en": "You are not listed as a PR officer of that factory.",
    },
    "private_only": {
        "fa": "لطفاً در گفت‌وگوی خصوصی با من کار کنید.",
        "en": "Please talk to me in a private chat.",
    },
    "flood": {
        "fa": "در یک دقیقه پیام‌های زیادی فرستادید؛ تا یک دقیقهٔ دیگر به پیام تازه پاسخ نمی‌دهم.",
        "en": "Too many messages: I will not answer new ones for a minute.",
    },
    "no_incident": {
        "fa": "حادثهٔ باز «{id}» در کارخانه‌های شما پیدا نشد. فهرست: /status",
        "en": "No open incident “{id}” at your factories. See /status.",
    },
    "error": {
        "fa": "❌ پذیرفته نشد: {reason}\n"
        "چیزی فرستاده نشد. دوباره تلاش کنید یا با ستاد تماس بگیرید.",
        "en": "❌ NOT accepted: {reason}\nNothing was sent. Try again, or call the crisis desk.",
    },
    "store_down": {
        "fa": "پایگاه داده در دسترس نیست",
        "en": "the database is not available",
    },
    "not_recorded": {
        "fa": "❌ ثبت نشد: پایگاه داده در دسترس نیست. کمی بعد دوباره بزنید.",
        "en": "❌ NOT recorded: the database is not available. Press again in a moment.",
    },
    # -- the report flow -----------------------------------------------------------------
    "choose_factory": {"fa": "گزارش حادثه — کدام کارخانه؟", "en": "Report — which factory?"},
    "choose_factory_drill": {"fa": "مانور — کدام کارخانه؟", "en": "Drill — which factory?"},
    "choose_type": {
        "fa": "<b>{factory}</b>: چه اتفاقی افتاده؟",
        "en": "<b>{factory}</b>: what happened?",
    },
    "choose_severity": {
        "fa": "<b>{factory}</b>، {type}: شدت حادثه چقدر است؟",
        "en": "<b>{factory}</b> · {type}: how serious is it?",
    },
    "duplicate": {
        "fa": "یک حادثهٔ باز «{type}» در {factory} ثبت شده است: <b>{id}</b> (ثبت {when}).\n"
        "به‌جای گزارش تازه، برای همان به‌روزرسانی می‌فرستید؟",
        "en": "There is already an open {type} incident at {factory}: <b>{id}</b> "
        "(reported {when}).\nSend an update to it instead of a new report?",
    },
    "ask_details": {
        "fa": "{facts}\n\nجزئیات را در یک پیام بنویسید: آنچه تا این لحظه قطعی است. نام "
        "مصدومان را ننویسید. حداکثر {limit} نویسه. برای انصراف: /cancel",
        "en": "{facts}\n\nWrite the details in one message: what is certain so far. Do not "
        "name the injured. At most {limit} characters. To stop: /cancel",
    },
    "ask_update": {
        "fa": "به‌روزرسانی شمارهٔ {number} برای <b>{id}</b>: متن تازه را در یک پیام بنویسید "
        "(حداکثر {limit} نویسه). برای انصراف: /cancel",
        "en": "Update #{number} for <b>{id}</b>: write what is new in one message "
        "(at most {limit} characters). To stop: /cancel",
    },
    "details_empty": {
        "fa": "متن خالی است؛ لطفاً آنچه می‌دانید را بنویسید.",
        "en": "That is empty; please write what is known.",
    },
    "details_cut": {
        "fa": "⚠️ متن شما بیش از {limit} نویسه بود و بقیه‌اش حذف شد.",
        "en": "⚠️ Your text was longer than {limit} characters; the rest was cut.",
    },
    "use_buttons": {
        "fa": "لطفاً یکی از دکمه‌های بالا را بزنید، یا /cancel.",
        "en": "Please use the buttons above, or /cancel.",
    },
    "stale_button": {
        "fa": "این دکمه مربوط به مرحلهٔ قبلی است.",
        "en": "This button belongs to an earlier step.",
    },
    "cancelled": {"fa": "لغو شد. چیزی فرستاده نشد.", "en": "Cancelled. Nothing was sent."},
    "timed_out": {
        "fa": "⌛ {minutes} پاسخی نیامد؛ گزارش لغو شد و چیزی فرستاده نشد. "
        "برای شروع دوباره: /report",
        "en": "⌛ No answer for {minutes}: the report was cancelled and nothing was sent. "
        "Start again with /report.",
    },
    "sending": {"fa": "⏳ در حال ثبت…", "en": "⏳ Recording…"},
    "confirmed_note": {"fa": "✔️ تأیید شد", "en": "✔️ Confirmed"},
    "accepted": {
        "fa": "✅ پذیرفته شد. شناسهٔ حادثه: <b>{id}</b>\n{count} پیام در صف ارسال است.\n"
        "پیگیری: /status، /update، /resolve",
        "en": "✅ Accepted. Incident ID: <b>{id}</b>\n{count} messages are queued.\n"
        "Follow-up: /status, /update, /resolve",
    },
    "accepted_drill": {
        "fa": "✅ مانور آغاز شد. شناسه: <b>{id}</b> (تمرین)\n{count} پیام در صف ارسال است.",
        "en": "✅ Drill started. ID: <b>{id}</b> (drill)\n{count} messages are queued.",
    },
    "duplicate_known": {
        "fa": "این گزارش پیش‌تر با شناسهٔ <b>{id}</b> ثبت شده بود.",
        "en": "This report was already recorded as <b>{id}</b>.",
    },
    "update_done": {
        "fa": "✅ به‌روزرسانی {id} پذیرفته شد: {count} پیام در صف ارسال است.",
        "en": "✅ Update for {id} accepted: {count} messages are queued.",
    },
    "resolve_done": {
        "fa": "✅ پایان حادثهٔ {id} ثبت شد: اعلام پایان برای {count} نفر در صف است.",
        "en": "✅ {id} resolved: the all-clear to {count} people is queued.",
    },
    "takeover_done": {
        "fa": "✅ واگذاری {id} به ستاد بحران استان ثبت شد: {count} پیام ارجاع در صف است، "
        "{cancelled} پیام منتظر رسانه‌ها لغو شد.",
        "en": "✅ Takeover of {id} recorded: {count} referral messages queued, {cancelled} "
        "pending press messages cancelled.",
    },
    # -- buttons -------------------------------------------------------------------------
    "btn_confirm": {"fa": "✅ تأیید و ارسال", "en": "✅ Confirm and send"},
    "btn_edit": {"fa": "✏️ ویرایش متن", "en": "✏️ Edit the text"},
    "btn_back": {"fa": "↩️ تغییر نوع یا شدت", "en": "↩️ Change type or severity"},
    "btn_facts": {"fa": "🩹 تغییر مصدومان یا محل", "en": "🩹 Change casualties or place"},
    "btn_send_now": {
        "fa": "⚡ تأیید و ارسال همین حالا به همه",
        "en": "⚡ Confirm, send to all now",
    },
    "btn_skip": {"fa": "⏭ رد شدن", "en": "⏭ Skip"},
    "btn_cancel": {"fa": "✖️ انصراف", "en": "✖️ Cancel"},
    "btn_dup_update": {"fa": "به‌روزرسانی برای {id}", "en": "Send an update to {id}"},
    "btn_dup_new": {"fa": "نه، حادثهٔ تازه است", "en": "No, it is a new incident"},
    # -- previews ------------------------------------------------------------------------
    "preview_title": {
        "fa": "👁 پیش‌نمایش — هنوز چیزی فرستاده نشده",
        "en": "👁 Preview — nothing has been sent yet",
    },
    "preview_drill": {
        "fa": "⚠️ مانور: همهٔ پیام‌ها «تمرین» علامت می‌خورند؛ رسانه‌ها و مراجع بیرون از کارخانه "
        "چیزی دریافت نمی‌کنند.",
        "en": "⚠️ DRILL: every message is marked as a drill; press and outside authorities "
        "receive nothing.",
    },
    "who_is_told": {"fa": "چه کسانی باخبر می‌شوند:", "en": "Who is told:"},
    "aud_line": {
        "fa": "• {name}: {count} نفر — {channels}",
        "en": "• {name}: {count} — {channels}",
    },
    "aud_ack": {"fa": " — تأیید دریافت تا {within}", "en": " — acknowledge within {within}"},
    "aud_after": {"fa": " — {after} بعد", "en": " — after {after}"},
    "aud_at": {"fa": " — ساعت {time}", "en": " — at {time}"},
    "aud_sink": {
        "fa": "• {name} ({count} نفر): در مانور چیزی نمی‌گیرند؛ نسخهٔ نشان‌دار برای شما می‌آید",
        "en": "• {name} ({count}): nothing in a drill; a marked copy comes to you",
    },
    "aud_skipped": {
        "fa": "• {name}: در این مانور نیست",
        "en": "• {name}: not part of this drill",
    },
    "unreachable": {
        "fa": "⚠️ از هیچ‌یک از مسیرهای این مرحله در دسترس نیستند: {names}",
        "en": "⚠️ Reachable on none of the step's channels: {names}",
    },
    "statement_head": {
        "fa": "متن «{audience}» همان‌طور که فرستاده می‌شود ({channel}، {language}):",
        "en": "Text for “{audience}” exactly as it goes out ({channel}, {language}):",
    },
    "statement_cut": {
        "fa": "… (این‌جا کوتاه شده؛ متن کامل فرستاده می‌شود)",
        "en": "… (shortened here; the full text is sent)",
    },
    "subject": {"fa": "موضوع: {subject}", "en": "Subject: {subject}"},
    "next_update": {
        "fa": "⏱ نوبت به‌روزرسانی بعدی: ساعت {time} (هر {every})",
        "en": "⏱ Next update due at {time} (every {every})",
    },
    "tasks_head": {"fa": "کارهای پیگیری:", "en": "Follow-up tasks:"},
    "update_title": {
        "fa": "👁 پیش‌نمایش به‌روزرسانی شمارهٔ {number} برای {id}",
        "en": "👁 Preview of update #{number} for {id}",
    },
    "takeover_title": {
        "fa": "👁 واگذاری {id} به ستاد مدیریت بحران استان: از این پس رسانه‌ها به {who} ارجاع "
        "داده می‌شوند و {pending} پیام منتظر رسانه‌ها لغو می‌شود.",
        "en": "👁 The provincial crisis HQ takes over {id}: from now on the press is referred "
        "to {who}, and {pending} pending press messages are cancelled.",
    },
    "nobody": {"fa": "هیچ پیامی فرستاده نمی‌شود.", "en": "No message would be sent."},
}
T.update(REPORT)
T.update(FOLLOW)

CHANNEL_NAMES = {
    "fa": {"bale": "بله", "telegram": "تلگرام", "sms": "پیامک", "email": "ایمیل"},
    "en": {"bale": "Bale", "telegram": "Telegram", "sms": "SMS", "email": "email"},
}
LANG_NAMES = {"fa": {"fa": "فارسی", "en": "انگلیسی"}, "en": {"fa": "Persian", "en": "English"}}


def norm(lang: str | None) -> str:
    """``fa`` or ``en``: Persian for Persian (and for nothing known), English otherwise."""
    if not lang or is_persian(lang):
        return "fa"
    return "en"


def num(value: object, lang: str) -> str:
    """A number as the reader writes it."""
    return fa_digits(value) if lang == "fa" else str(value)


def say(key: str, lang: str, **values: object) -> Html:
    """The text ``key`` in ``lang`` with every value escaped (numbers in the reader's digits)."""
    template = T[key][norm(lang)]
    filled = {k: _field(v, norm(lang)) for k, v in values.items()}
    return Html(template.format(**filled))


def _field(value: object, lang: str) -> str:
    if isinstance(value, Html):
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return num(value, lang)
    return escape(str(value), quote=False)


def channel_name(channel: str, lang: str) -> str:
    return CHANNEL_NAMES[norm(lang)].get(channel, channel)


def status_name(status: str, lang: str) -> str:
    names = dict(pair.split("=", 1) for pair in T["status_names"][norm(lang)].split("|"))
    return names.get(status, status)


def joined(items: list[str], lang: str) -> str:
    return ("، " if norm(lang) == "fa" else ", ").join(items)
