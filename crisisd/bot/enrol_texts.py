"""Every word of enrolment in the bot (/start, the shared number, invites, /stop, /test),
in Persian and English, as Telegram HTML fragments (values are escaped by :func:`words`)."""

from __future__ import annotations

from html import escape

from crisisd.bot.texts import Html, norm, num

E: dict[str, dict[str, str]] = {
    "ask_number": {
        "fa": "سلام! این ربات هشدارهای بحران کارخانه را می‌فرستد.\n"
        "برای وصل شدن، دکمهٔ «📱 اشتراک شمارهٔ من» را در پایین صفحه بزنید تا شماره‌تان با "
        "فهرست تماس‌ها مقایسه شود. شماره جای دیگری نگه داشته نمی‌شود.",
        "en": "Hello! This bot sends the factory's crisis alerts.\n"
        "To connect, press “📱 Share my number” at the bottom of the screen, so your number "
        "can be matched with the contacts directory. It is not kept anywhere else.",
    },
    "share_button": {"fa": "📱 اشتراک شمارهٔ من", "en": "📱 Share my number"},
    "connected": {
        "fa": "✅ وصل شدید: <b>{name}</b>\n{factories}\nبرای آزمایش: /test — برای توقف: /stop",
        "en": "✅ Connected: <b>{name}</b>\n{factories}\nTo try it: /test — to stop: /stop",
    },
    "connected_again": {
        "fa": "✅ دوباره وصل شدید: <b>{name}</b>\n{factories}\n"
        "برای آزمایش: /test — برای توقف: /stop",
        "en": "✅ Connected again: <b>{name}</b>\n{factories}\nTo try it: /test — to stop: /stop",
    },
    "already": {
        "fa": "این گفت‌وگو پیش‌تر وصل شده است: <b>{name}</b>\n{factories}\n"
        "برای آزمایش: /test — برای توقف: /stop",
        "en": "This chat is already connected: <b>{name}</b>\n{factories}\n"
        "To try it: /test — to stop: /stop",
    },
    "factories": {
        "fa": "هشدارهای {names} در همین گفت‌وگو می‌رسد.",
        "en": "Alerts of {names} will arrive in this chat.",
    },
    "no_factory": {
        "fa": "هنوز فهرست هشدار هیچ کارخانه‌ای شما را نام نبرده است.",
        "en": "No factory's alert list names you yet.",
    },
    "replaced": {
        "fa": "گفت‌وگوی پیشین شما در این پیام‌رسان دیگر هشدار نمی‌گیرد.",
        "en": "Your earlier chat on this messenger no longer gets alerts.",
    },
    "not_yours": {
        "fa": "این شمارهٔ خود شما نیست. لطفاً شمارهٔ خودتان را با دکمهٔ «📱 اشتراک شمارهٔ من» بفرستید.",
        "en": "That is not your own number. Please send yours with the “📱 Share my number” "
        "button.",
    },
    "unreadable": {
        "fa": "این شماره را نتوانستم بخوانم. لطفاً با دکمهٔ «📱 اشتراک شمارهٔ من» بفرستید، یا "
        "از {who} بخواهید پیوند دعوت برایتان بفرستد.",
        "en": "I could not read that number. Please send it with the “📱 Share my number” "
        "button, or ask {who} for an invite link.",
    },
    "no_match": {
        "fa": "شمارهٔ شما در فهرست تماس‌های سامانهٔ هشدار نیست. از {who} بخواهید آن را "
        "اضافه کند، سپس دوباره /start را بزنید.",
        "en": "Your number is not in the alerting system's contacts directory. Ask {who} to "
        "add it, then send /start again.",
    },
    "shared_number": {
        "fa": "این شماره برای بیش از یک نفر ثبت شده است و نمی‌دانم شما کدام‌یک هستید. از {who} "
        "بخواهید پیوند دعوت برایتان بفرستد.",
        "en": "This number is listed for more than one person, so I cannot tell which one you "
        "are. Ask {who} to send you an invite link.",
    },
    "taken": {
        "fa": "این گفت‌وگو هشدارهای <b>{holder}</b> را می‌گیرد و همین‌طور می‌ماند: هر گفت‌وگو "
        "از آنِ یک نفر است. اگر درست نیست، با {who} تماس بگیرید.",
        "en": "This chat receives the alerts of <b>{holder}</b>, and it stays so: one chat "
        "serves one person. If that is wrong, ask {who}.",
    },
    "who_default": {"fa": "مسئول روابط عمومی کارخانه‌تان", "en": "your factory's PR officer"},
    "too_many": {
        "fa": "تلاش‌ها بیش از حد شد؛ یک ساعت دیگر دوباره امتحان کنید.",
        "en": "Too many attempts: please try again in an hour.",
    },
    "not_connected": {
        "fa": "این گفت‌وگو به کسی وصل نیست. برای وصل شدن /start را بزنید.",
        "en": "This chat is not connected to anyone. Send /start to connect.",
    },
    "stop_ask": {
        "fa": "ارسال هشدارهای <b>{name}</b> به این گفت‌وگو متوقف شود؟\n"
        "پس از آن هشدارهای شما {fallback}.",
        "en": "Stop sending the alerts of <b>{name}</b> to this chat?\n"
        "Your alerts would then {fallback}.",
    },
    "stop_yes": {"fa": "⛔ بله، متوقف شود", "en": "⛔ Yes, stop"},
    "stop_no": {"fa": "ادامه بدهد", "en": "Keep them coming"},
    "stopped": {
        "fa": "متوقف شد. هشدارهای <b>{name}</b> از این پس {fallback}.\nبرای وصل شدن دوباره: /start",
        "en": "Stopped. The alerts of <b>{name}</b> now {fallback}.\nTo connect again: /start",
    },
    "kept": {
        "fa": "تغییری نکرد؛ هشدارها همچنان اینجا می‌رسد.",
        "en": "Nothing changed: alerts still arrive here.",
    },
    "invite_invalid": {
        "fa": "این پیوند دعوت معتبر نیست. از {who} پیوند تازه بخواهید، یا /start را بزنید و "
        "شماره‌تان را بفرستید.",
        "en": "This invite link is not valid. Ask {who} for a new one, or send /start and "
        "share your number.",
    },
    "invite_expired": {
        "fa": "این پیوند دعوت منقضی شده است. از {who} پیوند تازه بخواهید، یا /start را بزنید و "
        "شماره‌تان را بفرستید.",
        "en": "This invite link has expired. Ask {who} for a new one, or send /start and share "
        "your number.",
    },
    "invite_used": {
        "fa": "این پیوند دعوت پیش‌تر از حساب دیگری به کار رفته است و فقط یک‌بار کار می‌کند. "
        "از {who} پیوند تازه بخواهید.",
        "en": "This invite link was already used from another account; it works once. Ask "
        "{who} for a new one.",
    },
    "invite_revoked": {
        "fa": "دعوت تازه‌تری جای این پیوند را گرفته است؛ تازه‌ترین پیوندی را که گرفته‌اید باز کنید.",
        "en": "A newer invite replaced this link: open the newest one you received.",
    },
    "invite_other_messenger": {
        "fa": "این پیوند برای {other} است: آن را در {other} باز کنید، یا همین‌جا /start را "
        "بزنید و شماره‌تان را بفرستید.",
        "en": "This link is for {other}: open it there, or send /start here and share your number.",
    },
    "test_alert": {
        "fa": "🔔 <b>هشدار آزمایشی</b> — فقط آزمایش است؛ حادثه‌ای در کار نیست.\n"
        "هشدارهای واقعی {factories} همین‌جا و همین‌طور می‌رسد. دریافت را با دکمهٔ زیر تأیید "
        "کنید، همان‌طور که زیر هشدار واقعی تأیید می‌کنید.",
        "en": "🔔 <b>Test alert</b> — only a test; there is no incident.\n"
        "Real alerts of {factories} arrive here, like this. Confirm you received it with the "
        "button below, as you would under a real alert.",
    },
    "test_button": {"fa": "✅ دریافت شد", "en": "✅ Acknowledge"},
    "test_stamp": {
        "fa": "✅ دریافت شد، ساعت {time}: آزمایش موفق بود.",
        "en": "✅ Received at {time}: the test worked.",
    },
    "test_thanks": {"fa": "آزمایش موفق بود.", "en": "The test worked."},
    "stale_button": {
        "fa": "این دکمه دیگر کاری نمی‌کند.",
        "en": "This button does nothing any more.",
    },
}


def words(key: str, lang: str, **values: object) -> Html:
    """The text ``key`` in ``lang`` with every value escaped unless it is :class:`Html`
    (numbers in the reader's digits), as the officers' :func:`~crisisd.bot.texts.say`."""
    lang = norm(lang)
    filled = {k: _field(v, lang) for k, v in values.items()}
    return Html(E[key][lang].format(**filled))


def _field(value: object, lang: str) -> str:
    if isinstance(value, Html):
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return num(value, lang)
    return escape(str(value), quote=False)
