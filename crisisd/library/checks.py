"""Cross-file checks of a loaded library: references, reachability, templates, approvals.

Everything is reported in one pass, each problem located in the playbook file that
caused it (or the template file, for rendering problems), with a hint.
"""

from __future__ import annotations

from dataclasses import replace
from zoneinfo import ZoneInfo

from crisisd.approvals import Status
from crisisd.formats.crontab import parse_cron
from crisisd.library.advice import advise, looks_like_a_messenger
from crisisd.library.model import Library
from crisisd.library.renders import Reach, check_renders
from crisisd.library.rollcalls import check_roll_calls
from crisisd.parsing.yamlsource import Document, Loc
from crisisd.playbook import Playbook
from crisisd.problems import Problem, did_you_mean


def check_library(lib: Library) -> list[Problem]:
    problems: list[Problem] = []
    messengers = set(lib.config.messenger_names())
    for cid, contact in lib.directory.contacts.items():
        for chat in contact.chats:
            # A known messenger left out of config.yaml is a warning (crisisd.library.advice);
            # any other unknown name is most likely a typo.
            unknown = chat not in messengers and not looks_like_a_messenger(chat)
            if unknown and lib.directory_doc is not None:
                problems.append(
                    lib.directory_doc.problem(
                        ("contacts", cid, "chats", chat),
                        f"'{chat}' is not a configured messenger",
                        did_you_mean(chat, messengers),
                    )
                )
    for fid, pb in lib.playbooks.items():
        reach = Reach(lib, pb)
        problems.extend(_check_playbook(lib, reach, lib.documents[fid], messengers))
        # Every sound reference is test-rendered in the same run, so a broken reference
        # elsewhere does not hide a template's own mistakes until the next run.
        problems.extend(check_renders(lib, fid, reach))
    problems.extend(advise(lib))
    # The last reader of the documents: their problems are located, and the set is made
    # of the models. What the documents hold (a province's directory) can go.
    for doc in (lib.directory_doc, *lib.documents.values()):
        if doc is not None:
            doc.release()
    return _unique(problems)


def _unique(problems: list[Problem]) -> list[Problem]:
    """One line per problem: the same message at many places is reported at the first,
    with how many more there are (one edited template used by 17 steps is one problem)."""
    first: dict[tuple[str, str, bool], Problem] = {}
    more: dict[tuple[str, str, bool], int] = {}
    for p in problems:
        key = (p.path, p.message, p.is_error)
        if key in first:
            more[key] += p != first[key]
        else:
            first[key], more[key] = p, 0
    out: list[Problem] = []
    for key, found in first.items():
        if more[key]:
            also = f"also at {more[key]} more place{'s' if more[key] > 1 else ''}"
            found = replace(found, hint=f"{found.hint} ({also})" if found.hint else also)
        out.append(found)
    return out


def _check_playbook(
    lib: Library, reach: Reach, doc: Document, messengers: set[str]
) -> list[Problem]:
    out: list[Problem] = []
    contacts = lib.directory.contacts
    pb = reach.playbook
    audiences = pb.audiences
    for i, officer in enumerate(pb.factory.officers):
        if officer not in contacts:
            out.append(_unknown(doc, ("factory", "officers", i), "contact", officer, contacts))
    for aid, aud in audiences.items():
        for i, member in enumerate(aud.members):
            if member not in contacts:
                out.append(
                    _unknown(doc, ("audiences", aid, "members", i), "contact", member, contacts)
                )
        if aud.ack and aud.ack.escalate_to and aud.ack.escalate_to not in audiences:
            out.append(
                _unknown(
                    doc,
                    ("audiences", aid, "ack", "escalate_to"),
                    "audience",
                    aud.ack.escalate_to,
                    audiences,
                )
            )
    channels = messengers | {"sms", "email"}
    for tid, itype in pb.incidents.items():
        for sid, sev in itype.severities.items():
            for step in sev.steps:
                loc: Loc = ("incidents", tid, "severities", sid, "steps", sev.position(step))
                out.extend(
                    _check_step(
                        lib, reach, doc, loc, step.audience, step.template, step.channels, channels
                    )
                )
            out.extend(check_roll_calls(doc, pb, ("incidents", tid, "severities", sid), channels))
    upd = pb.statements.update
    for i, aid in enumerate(upd.audiences):
        if aid not in audiences:
            out.append(
                _unknown(doc, ("statements", "update", "audiences", i), "audience", aid, audiences)
            )
        else:
            loc = ("statements", "update")
            out.extend(_check_step(lib, reach, doc, loc, aid, upd.template, upd.channels, channels))
    out.extend(_check_statement_templates(lib, pb, doc, reach))
    for i, drill in enumerate(pb.drills):
        loc = ("drills", i)
        try:
            parse_cron(drill.cron, ZoneInfo(lib.config.timezone))
        except ValueError as exc:
            what, _, hint = str(exc).partition(" — ")
            out.append(doc.problem((*loc, "cron"), what, hint))
        scenario = pb.incidents.get(drill.incident_type)
        if scenario is None:
            out.append(
                _unknown(
                    doc, (*loc, "scenario"), "incident type", drill.incident_type, pb.incidents
                )
            )
        elif drill.severity not in scenario.severities:
            out.append(
                _unknown(doc, (*loc, "scenario"), "severity", drill.severity, scenario.severities)
            )
        for j, aid in enumerate(drill.audiences or []):
            if aid not in audiences:
                out.append(_unknown(doc, (*loc, "audiences", j), "audience", aid, audiences))
    return out


def _unknown(doc: Document, loc: Loc, what: str, name: str, known: object) -> Problem:
    names = list(known) if not isinstance(known, str) else [known]  # type: ignore[call-overload]
    return doc.problem(loc, f"unknown {what} '{name}'", did_you_mean(name, names))


def _check_step(
    lib: Library,
    reach: Reach,
    doc: Document,
    loc: Loc,
    audience: str,
    template: str,
    step_channels: list[str],
    channels: set[str],
) -> list[Problem]:
    out: list[Problem] = []
    for j, ch in enumerate(step_channels):
        if ch not in channels and not looks_like_a_messenger(ch):  # else: advice warns
            out.append(_unknown(doc, (*loc, "channels", j), "channel", ch, channels))
    pb = reach.playbook
    aud = pb.audiences.get(audience)
    if aud is None:
        out.append(_unknown(doc, (*loc, "audience"), "audience", audience, pb.audiences))
        return out
    known = any(m in lib.directory.contacts for m in aud.members)
    if known and not any(reach.langs(audience, ch) for ch in step_channels):
        out.append(
            doc.problem(
                (*loc, "channels"),
                f"no member of '{audience}' is reachable on {', '.join(step_channels)}",
                "add a channel the members have, or their chat ids/phones/emails to the directory",
            )
        )
    for kind, lang in reach.kinds(audience, [c for c in step_channels if c in channels]):
        ref = lib.templates.find(lang, template, kind)
        rel = f"{lang}/{template}.{kind}.j2"
        if ref is None:
            out.append(
                doc.problem(
                    (*loc, "template"),
                    f"template '{rel}' not found",
                    did_you_mean(template, lib.templates.names())
                    if template not in lib.templates.names()
                    else f"create templates/{rel}",
                )
            )
        elif aud.external and lib.approvals.status(ref) is not Status.APPROVED:
            out.append(
                doc.problem(
                    (*loc, "template"),
                    f"template '{rel}' goes to external audience '{audience}' but is "
                    f"{lib.approvals.status(ref)}",
                    f"have it reviewed, then: crisisd approve {rel} --by NAME",
                )
            )
    return out


def _check_statement_templates(
    lib: Library, pb: Playbook, doc: Document, reach: Reach
) -> list[Problem]:
    """All-clear and takeover referral must exist for every channel a told person may be on."""
    out: list[Problem] = []
    used: dict[str, set[str]] = {}  # audience -> channels it is told on
    for itype in pb.incidents.values():
        for sev in itype.severities.values():
            for step in sev.steps:
                used.setdefault(step.audience, set()).update(step.channels)
    for aid in pb.statements.update.audiences:
        used.setdefault(aid, set()).update(pb.statements.update.channels)
    checks = [(("statements", "all_clear", "template"), pb.statements.all_clear.template, False)]
    checks.append((("statements", "takeover", "template"), pb.statements.takeover.template, True))
    for loc, template, external_only in checks:
        for aid, chans in sorted(used.items()):
            aud = pb.audiences.get(aid)
            if aud is None or (external_only and not aud.external):
                continue
            for kind, lang in sorted(reach.kinds(aid, sorted(chans))):
                ref = lib.templates.find(lang, template, kind)
                rel = f"{lang}/{template}.{kind}.j2"
                if ref is None:
                    out.append(
                        doc.problem(loc, f"template '{rel}' not found", f"create templates/{rel}")
                    )
                elif aud.external and lib.approvals.status(ref) is not Status.APPROVED:
                    out.append(
                        doc.problem(
                            loc,
                            f"template '{rel}' goes to external audience '{aid}' but is "
                            f"{lib.approvals.status(ref)}",
                            f"crisisd approve {rel} --by NAME",
                        )
                    )
    return out
