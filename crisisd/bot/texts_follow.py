"""The bot's words for following an incident: progress, /status, /tasks, the choice of an
open incident, acknowledgements, /help and the command menu.

Part of :data:`crisisd.bot.texts.T` (same rules: Telegram HTML with ``{name}`` fields).
Persian text separates with the Persian comma, never "·" (it reads as the Persian zero).
"""

from __future__ import annotations

FOLLOW: dict[str, dict[str, str]] = {
    # -- progress and status -------------------------------------------------------------
    "progress_title": {"fa": "📊 وضعیت ارسال {id}", "en": "📊 Delivery of {id}"},
    "progress_line": {
        "fa": "{name}: فرستاده {sent} از {total}",
        "en": "{name}: sent {sent}/{total}",
    },
    "progress_failed": {"fa": "، ناموفق {failed}", "en": " · failed {failed}"},
    "progress_acked": {"fa": "، تأیید {acked} از {need}", "en": " · acknowledged {acked}/{need}"},
    "progress_waiting": {"fa": "، در انتظار {pending}", "en": " · waiting {pending}"},
    "progress_cancelled": {"fa": "، لغوشده {cancelled}", "en": " · cancelled {cancelled}"},
    "progress_done": {
        "fa": "✔️ همهٔ پیام‌ها به سرانجام رسید.",
        "en": "✔️ Every message is settled.",
    },
    "progress_stale": {
        "fa": "(این پیام دیگر به‌روز نمی‌شود؛ برای وضعیت تازه /status را بفرستید.)",
        "en": "(no longer updated; send /status for the latest)",
    },
    "sink_name": {"fa": "{name} (نسخهٔ تمرینی برای شما)", "en": "{name} (drill copy to you)"},
    "status_none": {
        "fa": "در کارخانه‌های شما حادثهٔ بازی نیست.",
        "en": "No open incidents at your factories.",
    },
    "status_head": {"fa": "حادثه‌های باز:", "en": "Open incidents:"},
    "status_item": {
        "fa": "• <b>{id}</b> {drill}{factory}، {type}، {severity} — {when}\n   {counts}",
        "en": "• <b>{id}</b> {drill}{factory} · {type} · {severity} — {when}\n   {counts}",
    },
    "status_counts": {
        "fa": "فرستاده {sent}، ناموفق {failed}، در انتظار {pending}، تأیید {acked} از {need}",
        "en": "sent {sent} · failed {failed} · waiting {pending} · acknowledged {acked}/{need}",
    },
    "drill_tag": {"fa": "[تمرین] ", "en": "[DRILL] "},
    "status_detail": {
        "fa": "<b>{id}</b> {drill}— {factory}، {type}، {severity}\nوضعیت: {status}؛ ثبت {when}",
        "en": "<b>{id}</b> {drill}— {factory} · {type} · {severity}\nStatus: {status} · "
        "reported {when}",
    },
    "btn_detail": {"fa": "🔎 {type} — {id}", "en": "🔎 {type} — {id}"},
    "not_acked": {"fa": "هنوز تأیید نکرده‌اند: {names}", "en": "Not acknowledged yet: {names}"},
    "failures": {"fa": "به این افراد نرسید:", "en": "Could not be reached:"},
    "failure_line": {
        "fa": "• {name} ({audience}): {reason}",
        "en": "• {name} ({audience}): {reason}",
    },
    "status_names": {
        "fa": "open=باز|taken_over=در دست ستاد استان|resolved=پایان‌یافته|cancelled=لغوشده",
        "en": "open=open|taken_over=taken over by the province|resolved=resolved|"
        "cancelled=cancelled",
    },
    # -- follow-up tasks -----------------------------------------------------------------
    "tasks_none": {
        "fa": "✔️ کار پیگیری انجام‌نشده‌ای نمانده است.",
        "en": "✔️ No follow-up task is left to do.",
    },
    "tasks_title": {"fa": "📋 کارهای پیگیری", "en": "📋 Follow-up tasks"},
    "tasks_incident": {
        "fa": "<b>{id}</b> — {factory}، {type} (ثبت {when})",
        "en": "<b>{id}</b> — {factory} · {type} (reported {when})",
    },
    "task_line": {"fa": "• {title} — مهلت: {due}{late}", "en": "• {title} — due {due}{late}"},
    "task_late": {"fa": " ⚠️ مهلت گذشته", "en": " ⚠️ overdue"},
    "tasks_hint": {
        "fa": "کاری را که انجام شد با دکمه‌اش علامت بزنید؛ یادآوری‌اش هم قطع می‌شود.",
        "en": "Tap a task's button once it is done; its reminders stop too.",
    },
    "btn_task_done": {"fa": "✔️ انجام شد: {title}", "en": "✔️ Done: {title}"},
    "task_done": {"fa": "✔️ ثبت شد: «{title}» انجام شد.", "en": "✔️ Recorded as done: {title}"},
    "task_gone": {
        "fa": "این کار پیش‌تر انجام شده یا حادثه‌اش بسته شده است.",
        "en": "That task is already done, or its incident is closed.",
    },
    # -- which incident ------------------------------------------------------------------
    "act_update": {"fa": "اطلاعیهٔ تکمیلی", "en": "Update"},
    "act_resolve": {"fa": "اعلام پایان حادثه", "en": "All-clear"},
    "act_takeover": {"fa": "واگذاری به ستاد بحران استان", "en": "Provincial HQ takeover"},
    "pick_incident": {
        "fa": "{action} — برای کدام حادثه؟",
        "en": "{action} — for which incident?",
    },
    "pick_the_one": {
        "fa": "{action} برای این حادثه؟\n<b>{id}</b> — {factory}، {type}، {severity} (ثبت {when})",
        "en": "{action} for this incident?\n<b>{id}</b> — {factory} · {type} · {severity} "
        "(reported {when})",
    },
    "btn_incident": {"fa": "{type}، ساعت {time} — {id}", "en": "{type}, {time} — {id}"},
    "btn_this_one": {"fa": "✅ بله، همین حادثه", "en": "✅ Yes, this one"},
    "pick_none": {
        "fa": "در کارخانه‌های شما حادثهٔ بازی نیست؛ برای گزارش حادثهٔ تازه: /report",
        "en": "No open incidents at your factories; to report one: /report",
    },
    # -- acknowledgements ----------------------------------------------------------------
    "ack_stamp": {"fa": "✅ دریافت شد ساعت {time}", "en": "✅ Acknowledged at {time}"},
    "ack_again": {
        "fa": "پیش‌تر ساعت {time} تأیید شده بود.",
        "en": "Already acknowledged at {time}.",
    },
    "ack_not_yours": {
        "fa": "این دکمه برای شما نیست: فقط گیرندهٔ همین هشدار می‌تواند دریافت آن را تأیید کند.",
        "en": "This button is not yours: only the person this alert was sent to can "
        "acknowledge it.",
    },
    "ack_unknown": {"fa": "این دکمه دیگر معتبر نیست.", "en": "This button is no longer valid."},
    # -- help ----------------------------------------------------------------------------
    "help": {
        "fa": "ربات اطلاع‌رسانی بحران — {name}\n"
        "/report — گزارش حادثه (پیش‌نمایش، سپس تأیید)\n"
        "/status — حادثه‌های باز، ارسال و تأییدها\n"
        "/update — فرستادن اطلاعیهٔ تکمیلی\n"
        "/resolve — اعلام پایان حادثه\n"
        "/takeover — واگذاری به ستاد بحران استان\n"
        "/drill — آغاز مانور (نشان‌دار)\n"
        "/tasks — کارهای پیگیری و مهلت‌ها\n"
        "/headcount — حضور و غیاب: چه کسی سالم است، چه کسی کمک می‌خواهد\n"
        "/cancel — انصراف از کار جاری\n"
        "حادثه را از میان دکمه‌ها انتخاب می‌کنید؛ نوشتن شناسه لازم نیست.",
        "en": "Crisis alerting bot — {name}\n"
        "/report — report an incident (preview, then confirm)\n"
        "/status — open incidents, delivery and acknowledgements\n"
        "/update — send an update\n"
        "/resolve — the all-clear\n"
        "/takeover — the provincial crisis HQ has taken over\n"
        "/drill — start a drill now (clearly marked)\n"
        "/tasks — follow-up tasks and deadlines\n"
        "/headcount — roll call: who is safe, who needs help, who has not answered\n"
        "/cancel — stop what you are doing\n"
        "You pick the incident from buttons; no need to type its ID.",
    },
}

COMMANDS: dict[str, dict[str, str]] = {
    "report": {"fa": "گزارش حادثه", "en": "Report an incident"},
    "status": {"fa": "حادثه‌های باز و وضعیت ارسال", "en": "Open incidents and delivery"},
    "update": {"fa": "اطلاعیهٔ تکمیلی دربارهٔ یک حادثه", "en": "Send an update"},
    "resolve": {"fa": "اعلام پایان حادثه", "en": "All-clear"},
    "takeover": {"fa": "واگذاری به ستاد بحران استان", "en": "Provincial HQ took over"},
    "drill": {"fa": "آغاز مانور", "en": "Start a drill"},
    "tasks": {"fa": "کارهای پیگیری", "en": "Follow-up tasks"},
    "headcount": {"fa": "حضور و غیاب", "en": "Roll call headcount"},
    "help": {"fa": "راهنما", "en": "Help"},
    "cancel": {"fa": "انصراف", "en": "Cancel"},
}
