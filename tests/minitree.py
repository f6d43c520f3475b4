"""A small, fully known playbook tree for tests that need exact file:line answers, a report
against it and a clock that stands still until a test moves it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from crisisd.approvals import approve
from crisisd.config import Config
from crisisd.domain import IncidentReport
from crisisd.store import MessageRow, OutcomeSent
from crisisd.templates import TemplateSet

DIRECTORY = """\
contacts:
  officer.a:
    name: {fa: مریم احمدی, en: Maryam Ahmadi}
    chats: {bale: 1001}
    phone: "۰۹۱۲ ۱۱۱ ۲۲۳۳"
  staff.b:
    name: {fa: علی بهرامی, en: Ali Bahrami}
    chats: {bale: 1002, telegram: 2002}
    phone: "0912 111 4455"
  boss.c:
    name: {fa: سارا کاظمی, en: Sara Kazemi}
    lang: en
    chats: {bale: 1003}
    email: boss@example.com
  press.d:
    name: {fa: میز خبر, en: News desk}
    email: desk@example.com
"""

PLAYBOOK = """\
factory:
  id: mini
  name: {fa: کارخانه کوچک, en: Mini Works}
  officers: [officer.a]
audiences:
  emergency_team:
    members: [staff.b]
    ack: {within: 5m, escalate_to: management}
  management:
    members: [boss.c]
  press:
    members: [press.d]
    external: true
incidents:
  fire:
    name: {fa: آتش‌سوزی, en: Fire}
    severities:
      major:
        steps:
          - {audience: emergency_team, template: alert, channels: [bale, sms]}
          - {audience: management, template: alert, channels: [bale, email]}
          - {audience: press, template: statement, channels: [email], after: 10m}
        update_every: 30m
        tasks:
          - {title: {fa: گزارش به تأمین اجتماعی, en: Report to Social Security}, due: 3 working days}
statements:
  update: {template: statement, audiences: [management, press], channels: [email]}
  all_clear: {template: statement}
  takeover: {template: statement, spokesperson: {fa: سخنگو, en: Spokesperson}}
drills:
  - {cron: "0 10 * * sat", scenario: fire/major, window: 1h}
"""

ALERT_CHAT = """\
<b>{{ factory.name }}: {{ incident.type_name }}</b>
{{ incident.opened_at|date }}
{{ incident.details }}
"""
ALERT_SMS = "{{ factory.name }} {{ incident.type_name }} {{ incident.details|truncate(60) }}\n"
ALERT_EMAIL = """\
{% block subject %}{{ factory.name }}: {{ incident.type_name }}{% endblock %}
{% block text %}{{ incident.details }}{% endblock %}
{% block html %}<p>{{ incident.details }}</p>{% endblock %}
"""
STATEMENT_EMAIL = """\
{% block subject %}{{ factory.name }} — {{ incident.type_name }}{% endblock %}
{% block text %}{{ factory.name }}: {{ incident.type_name }}. {{ update.details }}{% endblock %}
{% block html %}<h2>{{ factory.name }}</h2><p>{{ update.details }}</p>{% endblock %}
"""
STATEMENT_CHAT = "<b>{{ factory.name }}</b> {{ incident.type_name }}\n"
STATEMENT_SMS = "{{ factory.name }}: {{ incident.type_name }}\n"

TEMPLATES = {
    "alert.chat.j2": ALERT_CHAT,
    "alert.sms.j2": ALERT_SMS,
    "alert.email.j2": ALERT_EMAIL,
    "statement.email.j2": STATEMENT_EMAIL,
    "statement.chat.j2": STATEMENT_CHAT,
    "statement.sms.j2": STATEMENT_SMS,
}


def make_tree(root: Path, approve_statements: bool = True) -> Config:
    """Write the mini tree under ``root`` and return a config pointing at it."""
    (root / "playbooks").mkdir(parents=True, exist_ok=True)
    (root / "playbooks" / "directory.yaml").write_text(DIRECTORY, encoding="utf-8")
    (root / "playbooks" / "mini.yaml").write_text(PLAYBOOK, encoding="utf-8")
    for lang in ("fa", "en"):
        folder = root / "templates" / lang
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in TEMPLATES.items():
            (folder / name).write_text(text, encoding="utf-8")
    if approve_statements:
        approve_all(root / "templates", "statement")
    return Config(playbooks=root / "playbooks", templates=root / "templates")


def approve_all(troot: Path, name: str) -> None:
    templates = TemplateSet(troot)
    for ref in templates.refs.values():
        if ref.name == name:
            approve(troot, ref, "PR directorate", dt.date(2026, 11, 20))


T0 = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)  # Saturday 10:30 in Tehran


class Clock:
    """A clock that shows ``at`` until the test sets it."""

    def __init__(self, at: datetime = T0) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def report(**kw: object) -> IncidentReport:
    """A fire/major report on the mini factory by its officer; ``kw`` overrides fields."""
    base: dict[str, object] = {
        "factory": "mini",
        "incident_type": "fire",
        "severity": "major",
        "reporter": "officer.a",
        "details": "آتش در سالن ۲",
    }
    base.update(kw)
    return IncidentReport(**base)  # type: ignore[arg-type]


def chat_sends(claimed: Iterable[MessageRow], at: datetime = T0) -> list[OutcomeSent]:
    """Outcomes saying each claimed Bale or Telegram message was sent (provider id p<id>)."""
    return [
        OutcomeSent(
            m.id, m.channel, at, f"p{m.id}", m.incident_id, m.recipient, m.rendering("chat")
        )
        for m in claimed
        if m.channel in ("bale", "telegram")
    ]
