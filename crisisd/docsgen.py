"""docs/playbooks.md, generated from crisisd's own models and code.

``python -m crisisd.docsgen > docs/playbooks.md`` writes it. The reference part walks the
pydantic models (:class:`~crisisd.playbook.Playbook`, :class:`~crisisd.playbook.Directory`,
:class:`~crisisd.config.Config`) field by field: YAML key, type in words, whether it is
required, its default and its ``description``. The guide part (a sample playbook walked
through step by step, value syntax, templates, approvals, secrets) is written here, and
whatever in it can be computed is: the duration, due-time and cron examples are parsed by
crisisd's own parsers, the filter examples are rendered by the template environment.

``tests/test_docs.py`` fails when the committed file differs from :func:`playbook_reference`,
when a model field has no description, when :data:`TEMPLATE_VARIABLES` is not exactly what
:func:`crisisd.planner.template_context` gives templates, and when the samples here stop
validating.
"""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types as at
import yaml
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, BeforeValidator, SecretStr
from pydantic.fields import FieldInfo

from crisisd import config as config_module
from crisisd import playbook as playbook_module
from crisisd.config import Config
from crisisd.crontab import parse_cron
from crisisd.durations import Due, format_duration, parse_due, parse_duration
from crisisd.playbook import DEFAULT_PRIORITY, FALLBACK_PRIORITY, Directory, Playbook
from crisisd.templates import DRILL_MARK, RLM
from crisisd.templates import _env as template_environment
from crisisd.timefmt import TEHRAN, duration_words, gregorian, jalali
from crisisd.workweek import WorkCalendar

COMMAND = "python -m crisisd.docsgen > docs/playbooks.md"

# The moment every example is computed at: Saturday 28 November 2026 (۷ آذر ۱۴۰۵), 10:30.
OPENED = datetime(2026, 11, 28, 10, 30, tzinfo=TEHRAN)


# -- the files documented, and the models that describe them ------------------------------


@dataclass(frozen=True, slots=True)
class Root:
    """One kind of file and the model its whole content is validated against."""

    label: str  # short name used after paths, e.g. "directory"
    title: str
    file: str
    model: type[BaseModel]


ROOTS: tuple[Root, ...] = (
    Root("playbook", "Playbook", "playbooks/<factory-id>.yaml", Playbook),
    Root("directory", "Contacts directory", "playbooks/directory.yaml", Directory),
    Root("config", "Daemon configuration", "config.yaml", Config),
)

# What a mapping's keys are called in the paths shown (`audiences.<audience>`).
KEY_NAMES = {
    "audiences": "<audience>",
    "incidents": "<incident-type>",
    "severities": "<severity>",
    "contacts": "<contact-id>",
    "chats": "<messenger>",
    "headers": "<header>",
}

_VALIDATOR_WORDS: dict[Callable[..., Any], str] = {
    playbook_module._duration: "[duration](#durations)",
    playbook_module._due: "[due time](#due-times)",
    playbook_module._phone: "[phone number](#phone-numbers)",
}
_PATTERN_WORDS = {
    playbook_module.NAME_ID: "[id](#ids)",
    config_module.NAME_ID: "[id](#ids)",
    playbook_module.CONTACT_ID: "[contact id](#ids)",
    r"^[a-z][a-z0-9_-]*/[a-z][a-z0-9_-]*$": "`<incident-type>/<severity>`",
    r"^[0-9a-f]{64}$": "64 lower-case hex digits",
}
_BASIC_WORDS: dict[Any, str] = {
    str: "text",
    int: "whole number",
    float: "number",
    bool: "`true` or `false`",
    timedelta: "[duration](#durations)",
    Due: "[due time](#due-times)",
    Path: "path",
    SecretStr: "[secret reference](#secrets-in-configyaml)",
    date: "date",
}


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _is_union(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType)


def _children(tp: Any, path: str, key: str) -> list[tuple[type[BaseModel], str]]:
    """The models inside an annotation, each with the YAML path that leads to it."""
    origin = get_origin(tp)
    if origin is Annotated:
        return _children(get_args(tp)[0], path, key)
    if _is_model(tp):
        return [(tp, path)]
    if _is_union(tp):
        return [found for arg in get_args(tp) for found in _children(arg, path, key)]
    if origin is list:
        return _children(get_args(tp)[0], f"{path}[]", key)
    if origin is dict:
        return _children(get_args(tp)[1], f"{path}.{KEY_NAMES.get(key, '<key>')}", key)
    return []


def shown_fields(model: type[BaseModel]) -> Iterator[tuple[str, FieldInfo]]:
    """(YAML key, field) for every field a file may set; internal fields are left out."""
    for name, info in model.model_fields.items():
        if info.exclude:
            continue
        yield info.alias or name, info


@dataclass(slots=True)
class _Found:
    root: Root
    paths: list[tuple[Root, str]]


def _collect() -> dict[type[BaseModel], _Found]:
    """Every model reachable from the roots, in reading order, with every path to it."""
    found: dict[type[BaseModel], _Found] = {}

    def visit(root: Root, model: type[BaseModel], path: str, depth: int) -> None:
        if depth > 20:
            raise RuntimeError(f"models nest too deep at {path}")
        if model not in found:
            found[model] = _Found(root, [])
        found[model].paths.append((root, path))
        for key, info in shown_fields(model):
            child = f"{path}.{key}" if path else key
            for sub, subpath in _children(info.annotation, child, key):
                visit(root, sub, subpath, depth + 1)

    for root in ROOTS:
        visit(root, root.model, "", 0)
    return found


def documented_models() -> list[type[BaseModel]]:
    """Every model the reference documents (the test checks each has descriptions)."""
    return list(_collect())


# -- a field in words --------------------------------------------------------------------


def _flatten(meta: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in meta:
        out.extend(item.metadata if isinstance(item, FieldInfo) else [item])
    return out


def _number(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _constraints(meta: list[Any], tp: Any) -> list[str]:
    words: list[str] = []
    ge = next((m.ge for m in meta if isinstance(m, at.Ge)), None)
    le = next((m.le for m in meta if isinstance(m, at.Le)), None)
    if ge is not None and le is not None:
        words.append(f"{_number(ge)} to {_number(le)}")
    elif ge is not None:
        words.append(f"{_number(ge)} or more")
    elif le is not None:
        words.append(f"at most {_number(le)}")
    for m in meta:
        if isinstance(m, at.Gt):
            words.append(f"more than {_number(m.gt)}")
        elif isinstance(m, at.Lt):
            words.append(f"less than {_number(m.lt)}")
        elif isinstance(m, at.MinLen):
            text = tp in (str, SecretStr)
            unit = "character" if text else ("entry" if get_origin(tp) is dict else "item")
            plural = {"entry": "entries"}.get(unit, unit + "s")
            words.append(f"at least {m.min_length} {unit if m.min_length == 1 else plural}")
        elif isinstance(m, at.MaxLen):
            words.append(f"at most {m.max_length} characters")
    return words


def _special(meta: list[Any]) -> str | None:
    for m in meta:
        if isinstance(m, BeforeValidator) and m.func in _VALIDATOR_WORDS:
            return _VALIDATOR_WORDS[m.func]
        pattern = getattr(m, "pattern", None)
        if isinstance(pattern, str):
            return _PATTERN_WORDS.get(pattern, f"text matching `{pattern}`")
    return None


def _plural(words: str) -> str:
    """``[contact id](#ids)`` -> ``[contact ids](#ids)``; model links stay as they are."""
    link = re.fullmatch(r"\[([^\]]+)\]\((#[^)]+)\)", words)
    if link is not None:
        label, target = link.groups()
        return words if label[:1].isupper() else f"[{label}s]({target})"
    if words in ("text", "whole number", "number", "path"):
        return f"{words}s"
    return words


def type_words(tp: Any, meta: list[Any] | None = None) -> str:
    """An annotation as a reader says it: ``list of [contact ids](#ids), at least 1 item``."""
    meta = _flatten(list(meta or []))
    origin = get_origin(tp)
    if origin is Annotated:
        base, *extra = get_args(tp)
        return type_words(base, [*_flatten(extra), *meta])
    if _is_union(tp):
        parts = [arg for arg in get_args(tp) if arg is not type(None)]
        return " or ".join(type_words(arg, meta) for arg in parts)
    special = _special(meta)
    if special is not None:
        noun = special
    elif origin is Literal:
        noun = "one of " + ", ".join(f"`{value}`" for value in get_args(tp))
    elif origin is list:
        noun = "list of " + _plural(type_words(get_args(tp)[0]))
    elif origin is dict:
        key, value = get_args(tp)
        noun = f"mapping of {type_words(key)} → {type_words(value)}"
    elif _is_model(tp):
        noun = f"[{tp.__name__}](#{_slug(tp.__name__)})"
    else:
        noun = _BASIC_WORDS.get(tp, getattr(tp, "__name__", str(tp)))
    return ", ".join([noun, *_constraints(meta, tp)])


def _flow(value: object) -> str:
    text = yaml.safe_dump(
        value, default_flow_style=True, allow_unicode=True, sort_keys=False, width=10_000
    )
    return text.strip().removesuffix("...").strip()


def default_words(info: FieldInfo) -> str:
    """The default as it would be written in YAML; ``—`` when unset."""
    if info.is_required():
        return "—"
    value = info.get_default(call_default_factory=True)
    if value is None:
        return "— (unset)"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, timedelta):
        return f"`{format_duration(value)}`"
    if isinstance(value, int | float):
        return f"`{_number(value)}`"
    if isinstance(value, str | Path):
        return f"`{value}`"
    if isinstance(value, BaseModel):
        dumped = value.model_dump(mode="json", exclude_defaults=True, by_alias=True)
        return f"`{_flow(dumped)}`" if dumped else "all defaults"
    if isinstance(value, list | dict):
        if not value:
            return "`[]`" if isinstance(value, list) else "`{}`"
        items = [
            v.model_dump(mode="json", exclude_defaults=True, by_alias=True)
            if isinstance(v, BaseModel)
            else v
            for v in value
        ]
        return f"`{_flow(items)}`"
    return f"`{value}`"


def _cell(text: str) -> str:
    """Text made safe for a table cell: pipes escaped (code spans too, as GFM wants)."""
    return text.replace("|", "\\|").replace("\n", " ")


def _prose(text: str) -> str:
    """``<`` outside code spans escaped, so ``<factory-id>`` is not taken for an HTML tag."""
    parts = text.split("`")
    return "`".join(p if i % 2 else p.replace("<", "&lt;") for i, p in enumerate(parts))


def _doc(model: type[BaseModel]) -> str:
    doc = model.__dict__.get("__doc__") or ""
    return _prose(" ".join(doc.split()))


def _model_section(model: type[BaseModel], found: _Found) -> list[str]:
    out = [f"### {model.__name__}", ""]
    if _doc(model):
        out += [_doc(model), ""]
    places = []
    for root, path in found.paths:
        where = f"`{path}`" if path else f"the whole of `{root.file}`"
        if root is not found.root and path:
            where += f" ({root.label})"
        if where not in places:
            places.append(where)
    out += ["Found at: " + ", ".join(places) + ".", ""]
    out += [
        "| key | type | required | default | description |",
        "| --- | --- | --- | --- | --- |",
    ]
    for key, info in shown_fields(model):
        out.append(
            "| "
            + " | ".join(
                _cell(cell)
                for cell in (
                    f"`{key}`",
                    type_words(info.annotation, info.metadata),
                    "yes" if info.is_required() else "no",
                    default_words(info),
                    _prose(info.description or ""),
                )
            )
            + " |"
        )
    out.append("")
    return out


def _reference() -> list[str]:
    found = _collect()
    out: list[str] = []
    for root in ROOTS:
        out += [f"## Reference: {root.title} (`{root.file}`)", ""]
        for model, where in found.items():
            if where.root is root:
                out += _model_section(model, where)
    return out


# -- the samples walked through (tests/test_docs.py validates them) ---------------------

SAMPLE_DIRECTORY = """\
contacts:
  officer.hosseini:
    name: {fa: نرگس حسینی, en: Narges Hosseini}
    title: {fa: مسئول روابط عمومی, en: PR officer}
    chats: {bale: 1000005501, telegram: 6000005501}
    phone: "0912 000 5501"
    email: n.hosseini@example.com
  hse.karimi:
    name: {fa: مهدی کریمی, en: Mehdi Karimi}
    title: {fa: رئیس ایمنی و آتش‌نشانی, en: Head of safety and fire}
    chats: {bale: 1000005502}
    phone: "0935 000 5502"
  mgmt.rahmani:
    name: {fa: پروین رحمانی, en: Parvin Rahmani}
    title: {fa: مدیرعامل, en: Chief executive}
    chats: {bale: 1000005503}
    email: p.rahmani@example.com
  staff.nouri:
    name: {fa: اکبر نوری, en: Akbar Nouri}
    title: {fa: سرپرست شیفت, en: Shift supervisor}
    phone: "0901 000 5504"
  auth.crisis-hq:
    name: {fa: اداره‌کل مدیریت بحران استان تهران, en: Tehran Province Crisis Management Directorate}
    phone: "0912 000 5505"
    email: crisis-ops@example.org
  press.desk:
    name: {fa: خبرگزاری نمونه — میز استان تهران, en: Sample news agency — Tehran desk}
    email: news-desk@example.com
"""

SAMPLE_PLAYBOOK = """\
factory:
  id: eslamshahr-glass
  name: {fa: شیشهٔ اسلامشهر, en: Eslamshahr Glass}
  officers: [officer.hosseini]

audiences:
  emergency_team:
    name: {fa: تیم واکنش اضطراری, en: Emergency team}
    members: [hse.karimi]
    ack: {within: 5m, escalate_to: management}
  management:
    name: {fa: مدیران, en: Management}
    members: [mgmt.rahmani]
  staff:
    name: {fa: کارکنان, en: Staff}
    members: [staff.nouri]
  authorities:
    name: {fa: مراجع رسمی, en: Authorities}
    members: [auth.crisis-hq]
    external: true
  press:
    name: {fa: رسانه‌ها, en: Press}
    members: [press.desk]
    external: true

incidents:
  fire:
    name: {fa: آتش‌سوزی, en: Fire}
    severities:
      major:
        steps:
          - {audience: emergency_team, template: emergency_alert, channels: [bale, sms]}
          - {audience: management, template: management_briefing, channels: [bale, email]}
          - {audience: authorities, template: authority_notice, channels: [email, sms]}
          - {audience: staff, template: staff_alert, channels: [sms]}
          - {audience: press, template: holding_statement, channels: [email], after: 15m}
        update_every: 30m
        tasks:
          - title:
              fa: گزارش کتبی حادثه به تأمین اجتماعی
              en: Report the accident to Social Security in writing
            due: 3 working days

statements:
  update:
    template: press_update
    audiences: [management, authorities, press]
    channels: [email, bale, sms]
  all_clear: {template: all_clear}
  takeover:
    template: authority_referral
    spokesperson:
      fa: سخنگوی ستاد مدیریت بحران استان تهران
      en: spokesperson of the Tehran Province Crisis Management HQ
    phone: "021 8800 1120"

drills:
  - cron: "0 10 * * sat"
    scenario: fire/major
    window: 2h
    audiences: [emergency_team, management]
"""

SAMPLE_SECRETS = """\
messengers:
  - name: bale
    base_url: https://tapi.bale.ai/bot
    token: ${BALE_TOKEN}
  - name: telegram
    token: file:/etc/crisisd/telegram.token
sms:
  gateways:
    - {name: kavenegar, provider: kavenegar, api_key: cred:kavenegar, sender: "10008663"}
smtp:
  host: smtp.example.com
  port: 587
  tls: starttls
  username: crisisd@example.com
  password: cred:smtp-password
  from: {address: crisisd@example.com, name: روابط عمومی}
"""

SAMPLE_APPROVALS = """\
approvals:
  fa/holding_statement.email.j2:
    sha256: 1f0c0e4c27b5e0c3a1b2d6f1e1c2a8e5f4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9
    approved_by: Governor's office PR directorate
    approved_on: '2026-11-27'
"""

# -- template variables: what crisisd.planner.template_context gives every template ---------

TEMPLATE_VARIABLES: tuple[tuple[str, str, str], ...] = (
    ("lang", "`fa` or `en`: the recipient's language (the template's folder)", "`fa`"),
    ("drill", "`true` in a drill (crisisd adds the drill marker itself)", "`false`"),
    ("incident.id", "incident ID, as the officer sees it", "`KMT-479`"),
    ("incident.type", "incident type key", "`fire`"),
    ("incident.type_name", "incident type name in the recipient's language", "آتش‌سوزی"),
    ("incident.severity", "severity key", "`major`"),
    ("incident.severity_name", "severity in the recipient's language", "جدی"),
    ("incident.details", "what the officer wrote, cleaned and capped (user text)", "…"),
    ("incident.location", "where in the factory, cleaned and capped (user text)", "سالن ۲"),
    ("incident.casualties", "`none`, `unknown` or `yes`", "`unknown`"),
    ("incident.opened_at", "when it was reported (a datetime in the daemon's zone)", "—"),
    ("incident.status", "`open`, `taken_over`, `resolved` or `cancelled`", "`open`"),
    ("factory.id", "factory id", "`eslamshahr-glass`"),
    ("factory.name", "factory name in the recipient's language", "شیشهٔ اسلامشهر"),
    ("officer.name", "reporting officer's name in the recipient's language", "نرگس حسینی"),
    ("officer.phone", "their phone, E.164, or empty", "`+989120005501`"),
    ("officer.email", "their email, or empty", "`n.hosseini@example.com`"),
    ("recipient.name", "this recipient's name in their language", "مهدی کریمی"),
    ("recipient.lang", "this recipient's language", "`fa`"),
    ("audience.id", "the audience key this message is for", "`emergency_team`"),
    ("audience.name", "its name in the recipient's language (else the key)", "تیم واکنش اضطراری"),
    ("update.number", "update number: 0 before the first /update, then 1, 2, …", "`1`"),
    ("update.details", "what the officer wrote in the update (user text)", "…"),
    ("takeover.spokesperson", "the spokesperson named in `statements.takeover`", "…"),
    ("takeover.phone", "their phone, E.164, or empty", "`+982188001120`"),
    ("update_every", "the severity's `update_every` (a timedelta), or none", "—"),
    ("next_update", "when the next update is due (a datetime), or none", "—"),
    ("ack_required", "whether this message asks for an acknowledgement", "`true`"),
    ("ack_url", "signed acknowledgement link for SMS and email, or none", "—"),
)


def template_variable_names() -> set[str]:
    return {name for name, _, _ in TEMPLATE_VARIABLES}


# Filters crisisd adds to Jinja2's own, with an expression to show each one at work.
FILTERS: dict[str, tuple[str, str]] = {
    "date": (
        "the date (and time) in the reader's calendar: Jalali for `fa`, Gregorian for `en`; "
        "`|date(false)` leaves the time out",
        "incident.opened_at|date",
    ),
    "clock": ("the time of day, `HH:MM`, in the reader's digits", "incident.opened_at|clock"),
    "duration": ("a duration in words, in the reader's language", "update_every|duration"),
    "digits": ("Persian digits when the reader's language is `fa`", "'021 8800 1120'|digits"),
    "jalali": ("the Jalali date in Persian, whatever the reader's language", "when|jalali"),
    "gregorian": ("the Gregorian date in English, whatever the language", "when|gregorian"),
    "fa_digits": ("Persian digits always", "'KMT-479'|fa_digits"),
}


def custom_filters() -> set[str]:
    """The filters the template environment adds to Jinja2's built-in ones."""
    env = template_environment(Path(), autoescape=False)
    return set(env.filters) - set(SandboxedEnvironment().filters)


def _filter_rows() -> list[str]:
    env = template_environment(Path(), autoescape=False)
    values = {
        "incident": {"opened_at": OPENED},
        "update_every": timedelta(minutes=90),
        "when": OPENED,
    }
    rows = ["| filter | what it gives | `fa` | `en` |", "| --- | --- | --- | --- |"]
    for meaning, expr in FILTERS.values():
        shown = [
            env.from_string("{{ " + expr + " }}").render(values, lang=lang) for lang in ("fa", "en")
        ]
        cells = (f"`{{{{ {expr} }}}}`", meaning, shown[0], shown[1])
        rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return rows


# -- the guide ---------------------------------------------------------------------------


def _when(moment: datetime) -> str:
    return f"{gregorian(moment)} ({jalali(moment)})"


def _duration_rows() -> list[str]:
    rows = ["| you write | crisisd reads | in words |", "| --- | --- | --- |"]
    for text in ("30s", "5m", "2h", "1h30m", "1h 30m", "1d", "0", "۱ ساعت و ۳۰ دقیقه"):
        value = parse_duration(text)
        rows.append(
            f"| `{text}` | `{format_duration(value)}` | "
            f"{duration_words(value, 'en')} · {duration_words(value, 'fa')} |"
        )
    return rows


def _refused(text: str, parse: Callable[[str], object]) -> str:
    try:
        parse(text)
    except ValueError as exc:
        return f"| `{text}` | {_cell(str(exc))} |"
    raise AssertionError(f"{text!r} was expected to be refused")


def _due_rows() -> list[str]:
    calendar = WorkCalendar()
    wednesday = datetime(2026, 12, 2, 14, 0, tzinfo=TEHRAN)
    rows = ["| you write | reported | due |", "| --- | --- | --- |"]
    for text, start in (
        ("24h", OPENED),
        ("5d", OPENED),
        ("3 working days", OPENED),
        ("3 working days", wednesday),
        ("۳ روز کاری", wednesday),
        ("1 working day", wednesday),
    ):
        due = parse_due(text)
        if due.working_days is not None:
            at = calendar.add_working_days(start, due.working_days)
        else:
            assert due.delta is not None
            at = start + due.delta
        rows.append(f"| `{text}` | {gregorian(start)} | {gregorian(at)} |")
    return rows


CRON_EXAMPLES: tuple[tuple[str, str], ...] = (
    ("0 10 * * sat", "Saturdays at 10:00"),
    ("0 10 * * 6", "the same: 6 is Saturday, as in cron"),
    ("30 9 * * 0", "Sundays at 09:30: 0 is Sunday"),
    ("30 9 * * 7", "Sundays at 09:30: 7 is Sunday too"),
    ("0 8 * * sat,sun,mon,tue,wed", "every day of the Iranian working week at 08:00"),
    ("0 8 * * sun-wed", "Sunday to Wednesday at 08:00: ranges run in cron's order"),
    ("0 9 * 4,10 wed", "Wednesdays in April and October at 09:00"),
    ("0 11 1 * *", "the first day of every (Gregorian) month at 11:00"),
)


def _cron_rows() -> list[str]:
    rows = [f"| cron | meaning | next run after {gregorian(OPENED)} |", "| --- | --- | --- |"]
    for expr, meaning in CRON_EXAMPLES:
        nxt = parse_cron(expr, TEHRAN).get_next_fire_time(None, OPENED)
        rows.append(f"| `{expr}` | {meaning} | {_when(nxt)} |")
    return rows


def _priority_rows() -> list[str]:
    rows = ["| audience key | priority |", "| --- | --- |"]
    rows += [f"| `{key}` | {value} |" for key, value in DEFAULT_PRIORITY.items()]
    rows.append(f"| any other | {FALLBACK_PRIORITY} |")
    return rows


def _walkthrough() -> list[str]:
    pb = Playbook.model_validate(yaml.safe_load(SAMPLE_PLAYBOOK))
    sev = pb.plan_for("fire", "major")
    press = next(s for s in sev.steps if s.audience == "press")
    ack = pb.audiences["emergency_team"].ack
    assert ack is not None
    assert sev.update_every is not None
    task_due = WorkCalendar().add_working_days(OPENED, 3)
    drill = pb.drills[0]
    drill_at = parse_cron(drill.cron, TEHRAN).get_next_fire_time(None, OPENED)
    clock = f"{OPENED:%H:%M}"

    def words(value: timedelta) -> str:
        return duration_words(value, "en")

    return f"""\
## A playbook, step by step

A small factory, described in two files. First the people, once, in the shared
directory `playbooks/directory.yaml`:

```yaml
{SAMPLE_DIRECTORY.rstrip()}
```

Then the factory's playbook, `playbooks/{pb.factory.id}.yaml` (the file name is the
factory id):

```yaml
{SAMPLE_PLAYBOOK.rstrip()}
```

`crisisd validate` checks both, together with the templates and `config.yaml`, and
reports every problem with file, line and a hint (an unknown contact id, a channel
nobody in an audience is reachable on, a template that is missing, does not render or
is not approved for an external audience).

### What happens when the officer reports a fire

Say the officer reports a major fire on {_when(OPENED)}:

1. **Report.** In the officers' bot (Bale or Telegram) she sends `/report` and picks
   *Fire*, then *major*, then writes the details in one message (location, what is known,
   casualties known or unknown). Only contacts listed in `factory.officers` may do this.
2. **Preview.** Before anything is sent she sees, per audience, how many people are told
   on which channels, the exact text of the press statement, the time the next update is
   due ({words(sev.update_every)} after the report) and the follow-up tasks. She confirms,
   edits the details or cancels.
3. **Accepted.** On *Confirm* crisisd writes the incident and every one of its messages
   to the store in one transaction, and only then answers "accepted" with the incident ID.
   From here on nothing is lost, even if the daemon restarts.
4. **At {clock}: the first four steps go out together.** They have no `after`, so they are
   due at once; the dispatcher sends the most urgent audiences first (see
   [audience priorities](#audience-priorities)): the emergency team, management,
   the authorities, then staff. Each person gets one message, rendered from the step's
   template in their language, on the first channel in the step's list they are reachable
   on: the safety head on Bale (SMS if Bale fails for good), the chief executive on Bale
   (email as the fallback), the crisis directorate by email, the shift supervisor by SMS
   (he has no chat id and no email).
5. **Acknowledgement.** The emergency team has `ack: {{within: {format_duration(ack.within)},
   escalate_to: {ack.escalate_to}}}`: the safety head's alert carries a "✅ دریافت شد"
   button (an acknowledgement link in SMS and email). If he has not acknowledged
   {words(ack.within)} after it was sent, the alert is sent to him again on his next
   channel, and `{ack.escalate_to}` is told he has not acknowledged.
6. **{words(press.after).capitalize()} later: the press.** The press step has
   `after: {format_duration(press.after)}`: the holding statement goes to the news desk by
   email at {OPENED + press.after:%H:%M}. Press and authorities are `external: true`, so
   their templates must be [approved](#approvals); the text sent and the template's sha256
   are kept in the audit trail. The statement gives the time of the next update,
   {OPENED + sev.update_every:%H:%M} (`update_every: {format_duration(sev.update_every)}`).
7. **Updates.** A few minutes before each update is due the officer is reminded. She sends
   `/update ID`, writes what is new, previews and confirms: `statements.update` sends the
   approved `press_update` template to management, authorities and press.
8. **Takeover.** If the provincial crisis headquarters takes over, `/takeover ID` cancels
   the statements still waiting for the external audiences and sends them the
   `authority_referral` template instead, naming the official spokesperson.
9. **All-clear.** `/resolve ID` sends the `all_clear` template to everyone who was told,
   and cancels alerts not yet sent.
10. **Tasks.** The task "Report the accident to Social Security in writing" is due
    `3 working days` after the report: {gregorian(task_due)}. `/tasks` lists it and the
    officer is reminded on working days.

### The drill in this playbook

`{drill.cron}` fires on Saturdays at 10:00 (next: {_when(drill_at)}); with
`window: {format_duration(drill.window)}` the drill starts at a random moment between
10:00 and 12:00. It plays `{drill.scenario}` as if the first listed officer had reported
it, but every message is marked as a drill, only `emergency_team` and `management` are
told, and nothing goes to the external audiences: the officer receives, marked, the
statements the authorities and the press would have received. `report_after`
({words(drill.report_after)} by default) after the start the drill is scored
(time to the first message, acknowledgements, who was never reached, the change since the
previous drill) and the score goes to the officer and to management. An officer can also
start a drill at any time with `/drill` in the bot.
""".splitlines()


def _values() -> list[str]:
    return [
        "## Writing values",
        "",
        "### Ids",
        "",
        "Keys you choose (audience, incident type and severity keys, template names, channel",
        "and factory ids) are lower-case ASCII: a letter, then letters, digits, `_` or `-`",
        "(`emergency_team`, `chemical_leak`, `shahriar-steel`). Contact ids may also contain",
        "`.` and start with a digit (`officer.rezaei`, `auth.crisis-hq`).",
        "",
        "### Names in two languages",
        "",
        "Everything shown to people has a name in both languages, `{fa: آتش‌سوزی, en: Fire}`;",
        "each reader sees the one in their own `lang`.",
        "",
        "### Phone numbers",
        "",
        "Write mobiles the way people write them: `0912 000 1101`, `+98 912 000 1101` or",
        "`۰۹۱۲ ۰۰۰ ۱۱۰۱` (Persian digits and Arabic ی/ک are normalised first). Quote them in",
        'YAML (`"0912 000 1101"`) so the leading zero is kept. They are checked and stored',
        "in E.164 (`+989120001101`). SMS cannot reach a landline.",
        "",
        "### Durations",
        "",
        "A number and a unit, largest unit first, each unit at most once: `s`, `m`, `h`,",
        "`d` (or the words `seconds`, `minutes`, `hours`, `days`, and `ثانیه`, `دقیقه`, `ساعت`,",
        "`روز`). What crisisd writes in words can be pasted back.",
        "",
        *_duration_rows(),
        "",
        "Refused, with the message `crisisd validate` gives:",
        "",
        "| you write | why |",
        "| --- | --- |",
        _refused("5", parse_duration),
        _refused("30m1h", parse_duration),
        _refused("-5m", parse_duration),
        "",
        "### Due times",
        "",
        "A task's `due` is a duration counted from the report, or a number of working days.",
        "Working days follow the Iranian week: Saturday to Wednesday, Thursday only with",
        "`calendar.thursday_working: true`, never Friday, never a day listed in",
        "`calendar.holidays`. A deadline in working days ends at 23:59:59 of the last one.",
        "",
        *_due_rows(),
        "",
        "### Cron",
        "",
        "Drills use standard 5-field cron, `minute hour day-of-month month day-of-week`, in",
        "the daemon's time zone (`timezone`, Asia/Tehran by default). Days of the week may be",
        "names (`sat`, `sun`, `mon`, `tue`, `wed`, `thu`, `fri`) or numbers, and numbers",
        "follow cron, not Python or APScheduler: **0 and 7 are Sunday, 6 is Saturday**.",
        "Months and days of the month are Gregorian. Weekday ranges run in cron's order,",
        "so `sun-wed` (or `0-3`) is Sunday to Wednesday and `5-7` is Friday to Sunday.",
        "",
        *_cron_rows(),
        "",
        "### Audience priorities",
        "",
        "When many messages are due at once, lower priorities are sent first. An audience may",
        "set its own `priority` (0 to 100); otherwise its key decides:",
        "",
        *_priority_rows(),
        "",
    ]


KINDS: tuple[tuple[str, ...], ...] = (
    (
        "`sms`",
        "`sms`",
        "plain text, shortened to the audience's `sms_parts` (Persian: 70 characters in one "
        "part, 67 per part when split; otherwise 160/153)",
    ),
    (
        "`chat`",
        "every messenger (`bale`, `telegram`, …)",
        "Telegram HTML (`<b>`, `<i>`, `<code>`, `<a href>`), at most 4,096 characters",
    ),
    ("`email`", "`email`", "blocks `subject` and `text` (plain), and optionally `html`"),
)

SECRET_REFERENCES: tuple[tuple[str, ...], ...] = (
    ("`${ENV_NAME}`", "the environment variable `ENV_NAME`"),
    ("`file:/path`", "the content of the file, trimmed (readable by the crisisd user only)"),
    (
        "`cred:NAME`",
        "a systemd credential: `LoadCredential=NAME:/path` in the unit, read from "
        "`$CREDENTIALS_DIRECTORY/NAME`",
    ),
)


def _table(head: tuple[str, ...], rows: tuple[tuple[str, ...], ...]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    lines += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _templates() -> list[str]:
    marks = "\n".join(
        f"| `{lang}` | {mark['line']} | `{mark['short']}` |" for lang, mark in DRILL_MARK.items()
    )
    variables = "\n".join(
        f"| `{name}` | {_cell(meaning)} | {_cell(example)} |"
        for name, meaning, example in TEMPLATE_VARIABLES
    )
    filters = "\n".join(_filter_rows())
    return f"""\
## Templates

### Layout

Every message is rendered from `templates/<lang>/<name>.<kind>.j2`. A step's `template` is
the `<name>`; the `<lang>` is the recipient's `lang` (when that file is missing, the
factory's `lang`); the `<kind>` follows the channel:

{_table(("kind", "used for", "format"), KINDS)}

```jinja
{{% block subject %}}اطلاعیهٔ روابط عمومی {{{{ factory.name }}}}{{% endblock %}}
{{% block text %}}
… {{{{ incident.opened_at|date }}}} …
{{% endblock %}}
{{% block html %}}
<p>… {{{{ incident.opened_at|date }}}} …</p>
{{% endblock %}}
```

Templates run in Jinja2's sandbox with undefined variables as errors. Chat text and the
email `html` block are escaped automatically, so the details an officer types are shown,
never interpreted; they are never evaluated as a template either.

crisisd adds, not the template author: the drill marker; the right-to-left mark
(U+{ord(RLM):04X}) at the start of Persian chat messages; and the HTML page around the
`html` block, with `dir="rtl" lang="fa"` for Persian. In a drill every
message starts with the marker (SMS and email subjects with the short form):

| lang | marker line | short form |
| --- | --- | --- |
{marks}

### Template variables

Every template sees these (`incident.type_name` is written `{{{{ incident.type_name }}}}`).
Values are plain data; user text (details, location, update details) is cleaned of control
and bidi-override characters and capped before it gets here.

| variable | what it is | example |
| --- | --- | --- |
{variables}

### Filters

Jinja2's own filters, and these (examples at {gregorian(OPENED)}):

{filters}

### What `crisisd validate` renders

Every template a playbook can use is rendered for every language and channel it can reach,
with sample details, as a real incident and as a drill. It is reported when it uses an
undefined variable, when an SMS does not fit the audience's `sms_parts` (the drill marker
counts too), or when chat text is over 4,096 characters. See any rendering with
`crisisd render FACTORY TYPE SEVERITY [--drill] [--channel sms] [--lang fa]`.
""".splitlines()


def _approvals() -> list[str]:
    return f"""\
## Approvals

Nothing goes to an external audience (press, authorities) unless its template was approved
by the PR directorate, byte for byte. `templates/approvals.yaml` pins each approved
template by the sha256 of its exact file:

```yaml
{SAMPLE_APPROVALS.rstrip()}
```

1. Write or edit the template and look at the result: `crisisd render FACTORY TYPE SEVERITY`.
2. `crisisd validate` names every template sent to an external audience that is
   `not approved` or `edited since approval` (even a changed space counts). The daemon
   will not start with such a template, and a reload with one keeps the last good set.
3. Once the directorate has reviewed the exact text:
   `crisisd approve fa/holding_statement.email.j2 --by "Governor's office PR directorate"`
   records its sha256, the approver and today's date.
4. Commit the template and `approvals.yaml` together, so review sees both.

This covers the templates of external steps, of `statements.update` where it reaches an
external audience, of `statements.takeover`, and of the all-clear as external audiences
receive it. Every message sent records the template's path and sha256 in the audit trail.
""".splitlines()


def _secrets() -> list[str]:
    return f"""\
## Secrets in config.yaml

Tokens, passwords and API keys are never written in `config.yaml` itself. A value is a
reference instead:

{_table(("reference", "value"), SECRET_REFERENCES)}

```yaml
{SAMPLE_SECRETS.rstrip()}
```

The reference must be the whole value (`${{A}}` inside a longer text is not replaced), and
any value in the file that is written this way is resolved. A missing variable or file, or
a value shorter than 4 characters, is reported with file and line. Resolved values are
kept out of every log line, error and report. With `sandbox: true` no token is needed: every
channel talks to the built-in sandbox.
""".splitlines()


def _intro() -> list[str]:
    return [
        "# Playbooks, templates and configuration",
        "",
        f"<!-- Generated by `{COMMAND}` from crisisd's own",
        "     models and code; tests/test_docs.py fails when it is out of date. Edit",
        "     crisisd/docsgen.py or the models' descriptions, not this file. -->",
        "",
        "crisisd works from files kept in git and checked together by `crisisd validate`:",
        "",
        "| file | what it says |",
        "| --- | --- |",
        "| `playbooks/directory.yaml` | every person, mailbox and news desk, once, and how to"
        " reach them |",
        "| `playbooks/<factory-id>.yaml` | for one factory: who is told what, on which channels,"
        " in which order, when an incident of each type and severity happens |",
        "| `templates/<lang>/<name>.<kind>.j2` | the text of every message |",
        "| `templates/approvals.yaml` | which templates the PR directorate approved |",
        "| `config.yaml` | the daemon: store, messengers, SMS gateways, SMTP, HTTP API |",
        "",
        "The running daemon reads them again on `SIGHUP` (`systemctl reload crisisd`) and keeps",
        "the last good set when anything is wrong.",
        "",
    ]


def _toc(lines: list[str]) -> list[str]:
    out = ["Contents:", ""]
    for line in lines:
        if line.startswith("## "):
            out.append(f"- [{line[3:]}](#{_slug(line[3:])})")
    return [*out, ""]


def _plain(heading: str) -> str:
    return heading.replace("`", "")


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = _plain(heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _check_anchors(lines: list[str]) -> None:
    slugs = [_slug(line.lstrip("#")) for line in lines if re.match(r"#{1,6} ", line)]
    twice = sorted({s for s in slugs if slugs.count(s) > 1})
    if twice:
        raise RuntimeError(f"headings with the same anchor: {', '.join(twice)}")
    for target in re.findall(r"\]\(#([^)]+)\)", "\n".join(lines)):
        if target not in slugs:
            raise RuntimeError(f"link to #{target}, which no heading has")


def playbook_reference() -> str:
    """The whole of docs/playbooks.md."""
    body = [
        *_walkthrough(),
        "",
        *_values(),
        *_templates(),
        "",
        *_approvals(),
        "",
        *_secrets(),
        "",
        *_reference(),
    ]
    lines = [*_intro(), *_toc(body), *body]
    _check_anchors(lines)
    text = "\n".join(line.rstrip() for line in lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def main() -> None:
    # Bytes, so the output is UTF-8 whatever the locale says.
    sys.stdout.buffer.write(playbook_reference().encode("utf-8"))


if __name__ == "__main__":
    main()
