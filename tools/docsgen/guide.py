"""The hand-written guide in docs/playbooks.md: intro, walk-through, values, approvals, secrets.

Whatever in it can be computed is: the walk-through's times are read from the sample
playbook, and the duration, due-time and cron examples are parsed by crisisd's own parsers.
The Templates section is :mod:`tools.docsgen.templates`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import yaml

from crisisd.formats.crontab import parse_cron
from crisisd.formats.durations import format_duration, parse_due, parse_duration
from crisisd.formats.timefmt import TEHRAN, duration_words, gregorian, jalali
from crisisd.formats.workweek import WorkCalendar
from crisisd.playbook import DEFAULT_PRIORITY, FALLBACK_PRIORITY, Playbook
from tools.docsgen.markdown import table, table_cell
from tools.docsgen.sample import (
    OPENED,
    SAMPLE_APPROVALS,
    SAMPLE_DIRECTORY,
    SAMPLE_PLAYBOOK,
    SAMPLE_SECRETS,
)

COMMAND = "python -m tools.docsgen > docs/playbooks.md"
# The daemon's calendar with config.yaml's defaults: Thursday off, Iran's public holidays off.
CALENDAR = WorkCalendar(iran_public=True)


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
        return f"| `{text}` | {table_cell(str(exc))} |"
    raise AssertionError(f"{text!r} was expected to be refused")


def _due_rows() -> list[str]:
    wednesday = datetime(2026, 12, 2, 14, 0, tzinfo=TEHRAN)
    before_nowruz = datetime(2026, 3, 18, 11, 0, tzinfo=TEHRAN)  # 27 Esfand 1404
    before_tasua = datetime(2026, 6, 23, 9, 0, tzinfo=TEHRAN)  # Tasua is 24 June 2026
    rows = ["| you write | reported | due |", "| --- | --- | --- |"]
    for text, start in (
        ("24h", OPENED),
        ("5d", OPENED),
        ("3 working days", OPENED),
        ("3 working days", wednesday),
        ("۳ روز کاری", wednesday),
        ("1 working day", wednesday),
        ("3 working days", before_nowruz),
        ("3 working days", before_tasua),
    ):
        due = parse_due(text)
        if due.working_days is not None:
            at = CALENDAR.add_working_days(start, due.working_days)
        else:
            assert due.delta is not None
            at = start + due.delta
        rows.append(f"| `{text}` | {_when(start)} | {_when(at)} |")
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


def walkthrough_section() -> list[str]:
    pb = Playbook.model_validate(yaml.safe_load(SAMPLE_PLAYBOOK))
    sev = pb.plan_for("fire", "major")
    press = next(s for s in sev.steps if s.audience == "press")
    ack = pb.audiences["emergency_team"].ack
    assert ack is not None
    assert sev.update_every is not None
    task_due = CALENDAR.add_working_days(OPENED, 3)
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
   *Fire*, then *major*, then whether anyone is hurt (none, injured, fatalities, unknown,
   with a number when known), where (a place of `factory.locations`, or typed), and the
   details in one message. Only contacts listed in `factory.officers` may do this.
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


def values_section() -> list[str]:
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
        "`calendar.thursday_working: true`, never Friday, never one of Iran's public holidays",
        "(Nowruz, Tasua and Ashura and the other solar and lunar ones, as the",
        "[`holidays`](https://github.com/vacanza/holidays) package dates them;",
        "`calendar.public_holidays: false` leaves them out), never a day listed in",
        "`calendar.holidays` (a local closure, or a lunar holiday announced on another day than",
        "the package expects). The start day never counts; a deadline in working days ends at",
        "23:59:59 of the last one. `crisisd validate` prints the calendar in force.",
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


SECRET_REFERENCES: tuple[tuple[str, ...], ...] = (
    ("`${ENV_NAME}`", "the environment variable `ENV_NAME`"),
    ("`file:/path`", "the content of the file, trimmed (readable by the crisisd user only)"),
    (
        "`cred:NAME`",
        "a systemd credential: `LoadCredential=NAME:/path` in the unit, read from "
        "`$CREDENTIALS_DIRECTORY/NAME`",
    ),
)


def approvals_section() -> list[str]:
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


def secrets_section() -> list[str]:
    return f"""\
## Secrets in config.yaml

Tokens, passwords and API keys are never written in `config.yaml` itself. A value is a
reference instead:

{table(("reference", "value"), SECRET_REFERENCES)}

```yaml
{SAMPLE_SECRETS.rstrip()}
```

The reference must be the whole value (`${{A}}` inside a longer text is not replaced), and
any value in the file that is written this way is resolved. A missing variable or file, or
a value shorter than 4 characters, is reported with file and line. Resolved values are
kept out of every log line, error and report. With `sandbox: true` no token is needed: every
channel talks to the built-in sandbox.
""".splitlines()


def intro_section() -> list[str]:
    return [
        "# Playbooks, templates and configuration",
        "",
        f"<!-- Generated by `{COMMAND}` from crisisd's own",
        "     models and code; tests/test_docs.py fails when it is out of date. Edit",
        "     crisisd/docs*.py or the models' descriptions, not this file. -->",
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
