"""Test renders of a loaded library: every template a playbook can use, with sample facts.

Each (template, kind, language) a playbook reaches is rendered once for the first member
it reaches, as an incident and as a drill: undefined variables and other template errors,
and an SMS over its audience's budget or a chat text over Telegram's limit (with the drill
marker counted) are located problems. The checks are the planner's own steps
(:func:`~crisisd.planning.render.template_context`, the template,
:func:`~crisisd.templates.finalize`, the channel's fitting rule), with three shortcuts
that cannot change a finding (a province has a hundred playbooks of dozens of steps):

- a template that never names ``drill`` renders the same text in a drill (the context
  differs in nothing else), so its text is rendered once and only finished twice;
- an email has no length to check: its blocks are rendered, not finished;
- a chat text whose raw UTF-16 length is within the limit has a visible length within
  it too (tags and entities only shorten what Telegram counts), so it is not measured.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

from crisisd.domain import Casualties, IncidentFacts, channel_kind
from crisisd.errors import TemplateRenderError
from crisisd.formats.textfit import TELEGRAM_LIMIT, chat_length_ok, sms_parts
from crisisd.library.model import Library
from crisisd.planning.render import MessageExtras, template_context
from crisisd.playbook import LANGS, Contact, Playbook
from crisisd.problems import Problem
from crisisd.templates import Kind, Rendered, TemplateRef, finalize

SAMPLE_DETAILS = {
    "fa": "آتش در انبار مواد اولیه، سالن ۲. دو نفر به درمانگاه منتقل شدند.",
    "en": "Fire in the raw-material store, hall 2. Two people taken to the clinic.",
}
OPENED = datetime(2026, 11, 28, 10, 30, tzinfo=ZoneInfo("Asia/Tehran"))
EXTRA = MessageExtras(
    ack_required=True,
    ack_url="https://crisisd.example.com/v1/ack/XXXXXXXXXXXXXXXXXXXXXXXX",
    next_update=OPENED,
)


class Reach:
    """Who of each audience a channel reaches, by language: one pass over the members per
    (audience, channel), instead of one per step, template and member (a province has
    audiences of thousands and playbooks of dozens of steps)."""

    def __init__(self, lib: Library, pb: Playbook) -> None:
        self._contacts = lib.directory.contacts
        self._pb = pb
        self._found: dict[tuple[str, str], dict[str, tuple[int, str]]] = {}
        self._kinds: dict[tuple[str, ...], dict[tuple[Kind, str], str]] = {}

    def langs(self, audience: str, channel: str) -> dict[str, tuple[int, str]]:
        """lang -> (place in the member list, contact id) of the first member of ``audience``
        reachable on ``channel`` who reads that language."""
        key = (audience, channel)
        found = self._found.get(key)
        if found is None:
            found = {}
            aud = self._pb.audiences.get(audience)
            for i, cid in enumerate(aud.members if aud is not None else ()):
                contact = self._contacts.get(cid)
                if (
                    contact is not None
                    and contact.lang not in found
                    and contact.reachable_on(channel)
                ):
                    found[contact.lang] = (i, cid)
                    if len(found) == len(LANGS):
                        break  # the first reader of each language is all that is asked
            self._found[key] = found
        return found

    @property
    def playbook(self) -> Playbook:
        return self._pb

    def kinds(self, audience: str, channels: list[str]) -> dict[tuple[Kind, str], str]:
        """(kind, lang) -> the first member reached that way, over ``channels`` (the same
        for every step and statement that tells ``audience`` on them: found once)."""
        key = (audience, *channels)
        found = self._kinds.get(key)
        if found is None:
            found = self._kinds[key] = self._first_by_kind(audience, channels)
        return found

    def _first_by_kind(self, audience: str, channels: list[str]) -> dict[tuple[Kind, str], str]:
        first: dict[tuple[Kind, str], tuple[int, str]] = {}
        for ch in channels:
            kind: Kind = channel_kind(ch)  # type: ignore[assignment]
            for lang, (i, cid) in self.langs(audience, ch).items():
                if (kind, lang) not in first or i < first[(kind, lang)][0]:
                    first[(kind, lang)] = (i, cid)
        return {k: cid for k, (_, cid) in first.items()}


def render_jobs(lib: Library, reach: Reach) -> Iterator[tuple[str, Kind, str, str]]:
    """(template, kind, audience, contact) for every rendering a playbook can produce."""
    pb = reach.playbook
    seen: set[tuple[str, str, str]] = set()
    pairs: list[tuple[str, str, list[str]]] = []
    for itype in pb.incidents.values():
        for sev in itype.severities.values():
            pairs.extend((s.template, s.audience, s.channels) for s in sev.steps)
            pairs.extend(
                (pb.statements.all_clear.template, s.audience, s.channels) for s in sev.steps
            )
            pairs.extend(
                (pb.statements.takeover.template, s.audience, s.channels)
                for s in sev.steps
                if s.audience in pb.audiences and pb.audiences[s.audience].external
            )
    upd = pb.statements.update
    pairs.extend((upd.template, a, upd.channels) for a in upd.audiences)
    for template, audience, chans in pairs:
        for (kind, lang), cid in reach.kinds(audience, chans).items():
            if not lib.templates.find(lang, template, kind):
                continue  # a missing template is reported by the reference checks
            job = (template, kind, lang)
            if job not in seen:
                seen.add(job)
                yield template, kind, audience, cid


def check_renders(lib: Library, fid: str, reach: Reach) -> list[Problem]:
    """Render every template a playbook can use with sample facts: variables, budgets, sizes."""
    out: list[Problem] = []
    pb = reach.playbook
    itype = next(iter(pb.incidents))
    severity = next(iter(pb.incidents[itype].severities))
    for template, kind, audience, cid in render_jobs(lib, reach):
        contact = lib.directory.contacts[cid]
        ref = lib.templates.find(contact.lang, template, kind)
        if ref is None:
            continue
        facts = IncidentFacts(
            id="K7M-42Q",
            factory=fid,
            incident_type=itype,
            severity=severity,
            reporter=pb.factory.officers[0],
            opened_at=OPENED,
            details=SAMPLE_DETAILS[contact.lang],
            location="سالن ۲" if contact.lang == "fa" else "Hall 2",
            casualties=Casualties.UNKNOWN,
            drill=False,
            update_number=1,
            update_details=SAMPLE_DETAILS[contact.lang],
        )
        found = _check_one(lib, pb, facts, ref, contact, audience)
        if found is not None:
            out.append(found)
    return out


def _check_one(
    lib: Library, pb: Playbook, facts: IncidentFacts, ref: TemplateRef, contact: Contact, aud: str
) -> Problem | None:
    """The first problem of one template for one person, as an incident then as a drill."""
    where = f"{facts.factory}:{aud}"
    context = template_context(lib, pb, facts, contact, aud, EXTRA)
    budget = pb.audiences[aud].sms_parts
    rendered: Rendered | None = None
    for drill in (False, True):
        if rendered is None or lib.templates.names_drill(ref):
            context["drill"] = drill
            try:
                rendered = lib.templates.render(ref, context)
            except TemplateRenderError as exc:
                hint = "fix the template or use a variable from docs/playbooks.md"
                return Problem(exc.path, exc.line, 1, where, exc.reason, hint)
        if ref.kind == "email":
            continue  # no limit to check: rendering its blocks is the check
        text = finalize(rendered, ref.kind, contact.lang, drill).text
        if ref.kind == "sms" and sms_parts(text) > budget:
            return Problem(
                f"templates/{ref.rel}",
                1,
                1,
                where,
                f"SMS text is over its budget of {budget} part(s) with sample details"
                + (" in a drill (the marker counts too)" if drill else ""),
                "shorten the fixed text, or raise the audience's sms_parts",
            )
        if ref.kind == "chat" and not _chat_fits(text):
            return Problem(
                f"templates/{ref.rel}",
                1,
                1,
                where,
                "chat text is over Telegram's 4,096 characters",
                "shorten the template",
            )
    return None


def _chat_fits(text: str) -> bool:
    if len(text) * 2 <= TELEGRAM_LIMIT or len(text.encode("utf-16-le")) // 2 <= TELEGRAM_LIMIT:
        return True  # the visible text is no longer than the raw text
    return chat_length_ok(text)
