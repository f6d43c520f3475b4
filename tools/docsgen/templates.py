"""The Templates section of docs/playbooks.md: layout, drill marker, variables and filters.

:data:`TEMPLATE_VARIABLES` must be exactly what :func:`crisisd.planning.render.template_context`
gives templates, and :data:`FILTERS` exactly the filters the template environment adds;
tests/test_docs.py checks both. The filter examples are rendered by that environment.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from jinja2.sandbox import SandboxedEnvironment

from crisisd.formats.timefmt import gregorian
from crisisd.templates import DRILL_MARK, RLM
from crisisd.templates import _env as template_environment
from tools.docsgen.markdown import table, table_cell
from tools.docsgen.sample import OPENED

# -- template variables: what crisisd.planning.render.template_context gives every template --

TEMPLATE_VARIABLES: tuple[tuple[str, str, str], ...] = (
    ("lang", "`fa` or `en`: the recipient's language (the template's folder)", "`fa`"),
    ("drill", "`true` in a drill (crisisd adds the drill marker itself)", "`false`"),
    ("incident.id", "incident ID, as the officer sees it", "`KMT-479`"),
    ("incident.type", "incident type key", "`fire`"),
    ("incident.type_name", "incident type name in the recipient's language", "آتش‌سوزی"),
    ("incident.severity", "severity key", "`major`"),
    ("incident.severity_name", "severity in the recipient's language", "جدی"),
    ("incident.details", "what the officer wrote, cleaned and capped (user text)", "…"),
    (
        "incident.location",
        "where in the factory: a place of `factory.locations` in the recipient's language, "
        "or what the officer typed (user text)",
        "انبار مواد اولیه",
    ),
    (
        "incident.casualties",
        "`none`, `injured`, `fatalities` or `unknown` (a stored `yes` reads `injured`)",
        "`unknown`",
    ),
    (
        "incident.casualties_count",
        "how many injured or dead, when the officer gave a number; else none",
        "`2`",
    ),
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
        rows.append("| " + " | ".join(table_cell(c) for c in cells) + " |")
    return rows


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


def templates_section() -> list[str]:
    marks = "\n".join(
        f"| `{lang}` | {mark['line']} | `{mark['short']}` |" for lang, mark in DRILL_MARK.items()
    )
    variables = "\n".join(
        f"| `{name}` | {table_cell(meaning)} | {table_cell(example)} |"
        for name, meaning, example in TEMPLATE_VARIABLES
    )
    filters = "\n".join(_filter_rows())
    return f"""\
## Templates

### Layout

Every message is rendered from `templates/<lang>/<name>.<kind>.j2`. A step's `template` is
the `<name>`; the `<lang>` is the recipient's `lang` (when that file is missing, the
factory's `lang`); the `<kind>` follows the channel:

{table(("kind", "used for", "format"), KINDS)}

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
