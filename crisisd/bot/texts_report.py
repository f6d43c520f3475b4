"""The bot's words for the facts a report asks (casualties, their number, the place), for
wording an update per group and language, for when an update arrives, and for who gets
the all-clear.

Part of :data:`crisisd.bot.texts.T` (same rules: Telegram HTML with ``{name}`` fields).
"""

from __future__ import annotations

REPORT: dict[str, dict[str, str]] = {
    # -- casualties and place ------------------------------------------------------------
    "facts_head": {
        "fa": "<b>{factory}</b>، {type}، {severity}",
        "en": "<b>{factory}</b> · {type} · {severity}",
    },
    "ask_casualties": {
        "fa": "{facts}\n\nکسی آسیب دیده است؟",
        "en": "{facts}\n\nIs anyone hurt?",
    },
    "btn_cas_none": {"fa": "✅ کسی آسیب ندیده", "en": "✅ No one is hurt"},
    "btn_cas_injured": {"fa": "🩹 مصدوم دارد", "en": "🩹 Injured"},
    "btn_cas_fatalities": {"fa": "🖤 جان‌باخته دارد", "en": "🖤 Fatalities"},
    "btn_cas_unknown": {"fa": "❔ هنوز معلوم نیست", "en": "❔ Not known yet"},
    "ask_count": {
        "fa": "{facts}\n\nچند نفر؟ عدد را بزنید یا بنویسید؛ اگر هنوز معلوم نیست «⏭ رد شدن».",
        "en": "{facts}\n\nHow many? Tap or type the number; if not known yet, “⏭ Skip”.",
    },
    "count_bad": {
        "fa": "عددی از ۱ تا {max} بنویسید، یا «⏭ رد شدن» را بزنید.",
        "en": "Write a number from 1 to {max}, or tap “⏭ Skip”.",
    },
    "ask_location": {
        "fa": "{facts}\n\nکجای کارخانه؟ یکی از محل‌ها را بزنید یا محل را در یک پیام بنویسید "
        "(حداکثر {limit} نویسه).",
        "en": "{facts}\n\nWhere in the plant? Tap a place, or write it in one message "
        "(at most {limit} characters).",
    },
    "cas_none": {"fa": "🩹 کسی آسیب ندیده است", "en": "🩹 No one is hurt"},
    "cas_injured": {"fa": "🩹 مصدوم: {count} نفر", "en": "🩹 Injured: {count}"},
    "cas_injured_some": {
        "fa": "🩹 مصدوم دارد (شمارشان هنوز معلوم نیست)",
        "en": "🩹 Injured (how many is not known yet)",
    },
    "cas_fatalities": {"fa": "🖤 جان‌باخته: {count} نفر", "en": "🖤 Fatalities: {count}"},
    "cas_fatalities_some": {
        "fa": "🖤 جان‌باخته دارد (شمارشان هنوز معلوم نیست)",
        "en": "🖤 Fatalities (how many is not known yet)",
    },
    "cas_unknown": {
        "fa": "🩹 وضعیت مصدومان هنوز معلوم نیست",
        "en": "🩹 Casualties not known yet",
    },
    "place": {"fa": "📍 محل: {place}", "en": "📍 Place: {place}"},
    "place_unknown": {"fa": "📍 محل: گفته نشده", "en": "📍 Place: not given"},
    # -- an update, worded per group and language ----------------------------------------
    "ask_wording": {
        "fa": "این متن برای همه فرستاده می‌شود:\n<blockquote>{text}</blockquote>\n"
        "اگر می‌خواهید، برای یک گروه یا به زبانی دیگر متن جداگانه بنویسید؛ وگرنه "
        "«👁 پیش‌نمایش» را بزنید.{written}",
        "en": "This text goes to everyone:\n<blockquote>{text}</blockquote>\n"
        "If you like, word it apart for a group or in another language; otherwise tap "
        "“👁 Preview”.{written}",
    },
    "wording_written": {"fa": "\n\nمتن‌های جداگانه:", "en": "\n\nWorded apart:"},
    "wording_line": {
        "fa": "\n• {group}، {language}: {text}",
        "en": "\n• {group}, {language}: {text}",
    },
    "btn_preview": {"fa": "👁 پیش‌نمایش", "en": "👁 Preview"},
    "btn_word_for": {"fa": "✏️ {group}، {language}", "en": "✏️ {group}, {language}"},
    "ask_group_text": {
        "fa": "متن ویژهٔ «{group}» را به {language} در یک پیام بنویسید (حداکثر {limit} نویسه).",
        "en": "Write the text for “{group}” in {language}, in one message (at most {limit} "
        "characters).",
    },
    "group_all": {"fa": "همه", "en": "everyone"},
    "group_staff": {"fa": "کارکنان و مدیران", "en": "Staff and management"},
    "group_authorities": {"fa": "مراجع رسمی", "en": "Authorities"},
    "group_press": {"fa": "رسانه‌ها", "en": "Press"},
    # -- when an update arrives ----------------------------------------------------------
    "waits_head": {
        "fa": "⏳ به این گروه‌ها هنوز نخستین اطلاعیه نرسیده است؛ این به‌روزرسانی پس از آن "
        "می‌رود، مگر «⚡ همین حالا» را بزنید:",
        "en": "⏳ These audiences have not had their first statement yet; this update "
        "follows it, unless you choose “⚡ now”:",
    },
    "waits_line": {"fa": "• {name}: ساعت {time}", "en": "• {name}: at {time}"},
    # -- who gets the all-clear ----------------------------------------------------------
    "resolve_title": {
        "fa": "👁 اعلام پایان حادثهٔ {id}. فقط کسانی که پیامی دربارهٔ این حادثه گرفته‌اند "
        "اعلام پایان را می‌گیرند؛ پیام‌هایی که هنوز فرستاده نشده‌اند لغو می‌شوند.",
        "en": "👁 All-clear for {id}. Only people who received something about this "
        "incident get it; messages not sent yet are cancelled.",
    },
    "resolve_who": {"fa": "اعلام پایان را می‌گیرند:", "en": "The all-clear goes to:"},
    "resolve_line": {"fa": "• {name}: {people}", "en": "• {name}: {people}"},
    "resolve_not": {
        "fa": "• {name}: چیزی نمی‌گیرند (پیامی دربارهٔ این حادثه به آنان نرسیده است)",
        "en": "• {name}: nothing (they received nothing about this incident)",
    },
}
