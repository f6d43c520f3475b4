"""What enrolment tells officers and people, as plain text in Persian and English."""

from __future__ import annotations

from crisisd.formats.timefmt import is_persian
from crisisd.playbook import Contact

MESSENGER_NAMES = {
    "bale": ("بله", "Bale"),
    "telegram": ("تلگرام", "Telegram"),
}


def messenger_name(messenger: str, lang: str) -> str:
    pair = MESSENGER_NAMES.get(messenger)
    return messenger if pair is None else pair[0 if is_persian(lang) else 1]


def fallback(contact: Contact | None, lang: str) -> str:
    """Where this person's alerts go without a messenger: "by SMS and email", …"""
    fa = is_persian(lang)
    phone, email = bool(contact and contact.phone), bool(contact and contact.email)
    if phone and email:
        return "با پیامک و ایمیل می‌رسد" if fa else "go by SMS and email"
    if phone:
        return "با پیامک می‌رسد" if fa else "go by SMS"
    if email:
        return "با ایمیل می‌رسد" if fa else "go by email"
    return (
        "به او نمی‌رسد: در فهرست تماس‌ها نه تلفن همراه دارد نه ایمیل"
        if fa
        else "cannot reach them: the directory has no mobile number or email for them"
    )


def stopped_notice(contact: Contact, messenger: str) -> dict[str, str]:
    """To the officers: someone said /stop."""
    return {
        lang: (
            f"{contact.name.fa} دریافت هشدار در {messenger_name(messenger, lang)} را متوقف کرد "
            f"(/stop). هشدارهای او از این پس {fallback(contact, lang)}."
            if lang == "fa"
            else f"{contact.name.en} stopped alerts on {messenger_name(messenger, lang)} "
            f"(/stop). Their alerts now {fallback(contact, lang)}."
        )
        for lang in ("fa", "en")
    }


def stale_notice(contact: Contact, messenger: str) -> dict[str, str]:
    """To the officers: the messenger refused someone's chat for good."""
    return {
        lang: (
            f"ربات در {messenger_name(messenger, lang)} نمی‌تواند به {contact.name.fa} پیام "
            "بدهد (ربات را مسدود کرده، شروعش نکرده یا حسابش بسته شده است)؛ هشدارهای او از "
            f"این پس {fallback(contact, lang)}. از او بخواهید ربات را باز کند و «شروع» "
            "(/start) را بزند."
            if lang == "fa"
            else f"The bot cannot write to {contact.name.en} on {messenger_name(messenger, lang)} "
            f"(they blocked it, never started it, or closed their account); their alerts now "
            f"{fallback(contact, lang)}. Ask them to open the bot and press Start (/start)."
        )
        for lang in ("fa", "en")
    }
