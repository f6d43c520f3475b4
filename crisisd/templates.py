"""Sandboxed Jinja2 templates for every message crisisd sends.

Layout: ``templates/<lang>/<name>.<kind>.j2`` where kind is ``sms`` (plain text),
``chat`` (Telegram/Bale HTML) or ``email`` (blocks ``subject``, ``text`` and
optionally ``html``). Templates run in a ``SandboxedEnvironment`` with
``StrictUndefined``; chat text and the email ``html`` block are autoescaped, so
user-supplied details are escaped for the target format and never evaluated.
The drill marker, the RLM mark and the HTML page shell are added by crisisd,
not left to template authors.
"""

from __future__ import annotations

import hashlib
import re
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import escape

from crisisd.errors import TemplateRenderError
from crisisd.formats import timefmt
from crisisd.formats.bidi import isolate_ltr, isolate_ltr_html
from crisisd.problems import Problem, display_path

Kind = Literal["sms", "chat", "email"]
KINDS: tuple[Kind, ...] = ("sms", "chat", "email")
RLM = "\u200f"
_MAY_READ_DRILL = re.compile(rb"drill|\{%[-+]?\s*(?:include|import|from|extends)\b")
_NAME = re.compile(r"^(?P<name>[a-z][a-z0-9_-]*)\.(?P<kind>sms|chat|email)\.j2$")
# Control characters go; so do the isolates (U+2066–U+2069), which crisisd itself uses to
# fence the user's words. Embeddings and overrides (U+202A–U+202E) are kept, as typed: the
# user's words are fenced in FSI … PDI, which ends any of them at the fence. Lone surrogates
# go too (half a UTF-16 pair, from hostile JSON such as "\ud800" or from argv bytes that are
# not UTF-8): no text, and neither UTF-8 nor the store can carry them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u2066-\u2069\ue000\ue001\ud800-\udfff]")
_EMBEDDING = re.compile(r"[\u202a-\u202e]")
FSI, PDI = "\u2068", "\u2069"
# User text is carried between these private-use marks through rendering, so that
# finalize() leaves it exactly as typed (no bidi isolates inserted) and then drops them.
USER_OPEN, USER_CLOSE = "\ue000", "\ue001"

DRILL_MARK = {
    "fa": {"short": "[تمرین]", "line": "⚠️ تمرین — این پیام بخشی از یک مانور است و واقعی نیست."},
    "en": {"short": "[DRILL]", "line": "⚠️ DRILL — this message is part of an exercise, not real."},
}


PERSIAN_LABEL = "(in Persian) "
_PERSIAN_LETTERS = re.compile(r"[\u0600-\u06ff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{3}")


def marked_user_text(text: str, limit: int, lang: str = "fa") -> str:
    """:func:`clean_user_text`, marked as the user's own words for :func:`finalize`.

    A reader of another language given Persian words sees them labelled, never unannounced
    (an English newsroom gets "(in Persian) آتش در سالن ۲", not a line it cannot place).
    """
    text = clean_user_text(text, limit)
    if not text:
        return ""
    if lang != "fa" and _PERSIAN_LETTERS.search(text) and not _LATIN_WORD.search(text):
        return f"{PERSIAN_LABEL}{USER_OPEN}{text}{USER_CLOSE}"
    return f"{USER_OPEN}{text}{USER_CLOSE}"


def _finish_bidi(text: str, lang: str, isolate: Callable[[str], str]) -> str:
    """Isolate left-to-right fragments in Persian text, except inside the user's words;
    the marks go. A close mark lost to truncation leaves the rest as the user's."""

    def own(part: str) -> str:
        part = part.replace(USER_CLOSE, "")
        return isolate(part) if lang == "fa" else part

    out: list[str] = []
    pos = 0
    while (start := text.find(USER_OPEN, pos)) >= 0:
        out.append(own(text[pos:start]))
        end = text.find(USER_CLOSE, start + 1)
        if end < 0:
            out.append(_fenced(text[start + 1 :].replace(USER_OPEN, "")))
            return "".join(out)
        out.append(_fenced(text[start + 1 : end]))
        pos = end + 1
    out.append(own(text[pos:]))
    return "".join(out)


def _fenced(user: str) -> str:
    """The user's words; with an embedding or override in them, fenced so that it ends there
    (an override typed into the details must not reverse the template's text after it)."""
    return f"{FSI}{user}{PDI}" if _EMBEDDING.search(user) else user


def clean_user_text(text: str, limit: int) -> str:
    """User-supplied text made safe to carry: control and bidi-override chars out, capped."""
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " "))
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    return text[:limit]


@dataclass(frozen=True, slots=True)
class TemplateRef:
    """One template file and the sha256 of its exact bytes (what approvals pin)."""

    lang: str
    name: str
    kind: Kind
    path: Path
    sha256: str

    @property
    def rel(self) -> str:
        return f"{self.lang}/{self.name}.{self.kind}.j2"


@dataclass(frozen=True, slots=True)
class Rendered:
    """A message as it will be sent: text for every kind, subject and html for email."""

    text: str
    subject: str | None = None
    html: str | None = None


def _lang(ctx: jinja2.runtime.Context) -> str:
    return str(ctx.get("lang", "fa"))


@jinja2.pass_context
def _f_date(ctx: jinja2.runtime.Context, value: datetime | date, with_time: bool = True) -> str:
    return timefmt.local_date(value, _lang(ctx), with_time=with_time)


@jinja2.pass_context
def _f_clock(ctx: jinja2.runtime.Context, value: datetime) -> str:
    return timefmt.clock(value, _lang(ctx))


@jinja2.pass_context
def _f_duration(ctx: jinja2.runtime.Context, value: timedelta) -> str:
    return timefmt.duration_words(value, _lang(ctx))


@jinja2.pass_context
def _f_digits(ctx: jinja2.runtime.Context, value: object) -> str:
    return timefmt.fa_digits(value) if _lang(ctx) == "fa" else str(value)


class MemoryBytecode(jinja2.BytecodeCache):
    """Compiled templates kept in a dict (one per environment: the key is the template's
    name, not its environment's settings). A reload compiles in a child process and the
    daemon loads the code from this dict instead of compiling again; Jinja checks each
    entry against its source's checksum, so a template changed meanwhile is compiled anew."""

    def __init__(self, data: dict[str, bytes]) -> None:
        self.data = data

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        raw = self.data.get(bucket.key)
        if raw is not None:
            bucket.bytecode_from_string(raw)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.data[bucket.key] = bucket.bytecode_to_string()


def _env(
    root: Path, autoescape: bool, compiled: dict[str, bytes] | None = None
) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(str(root), encoding="utf-8"),
        bytecode_cache=MemoryBytecode({} if compiled is None else compiled),
        undefined=jinja2.StrictUndefined,
        autoescape=autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,
    )
    env.filters.update(
        jalali=timefmt.jalali,
        gregorian=timefmt.gregorian,
        date=_f_date,
        clock=_f_clock,
        duration=_f_duration,
        digits=_f_digits,
        fa_digits=timefmt.fa_digits,
    )
    return env


class TemplateSet:
    """Every template under one folder, compiled once; reports bad files as problems."""

    def __init__(self, root: Path, compiled: dict[str, dict[str, bytes]] | None = None) -> None:
        self.root = root
        self.refs: dict[tuple[str, str, Kind], TemplateRef] = {}
        self.problems: list[Problem] = []
        self._drill_named: set[tuple[str, str, Kind]] = set()
        # each environment's compiled code by template: handed from a reload's child process
        self.compiled = compiled or {"plain": {}, "html": {}}
        self._plain = _env(root, autoescape=False, compiled=self.compiled["plain"])
        self._html = _env(root, autoescape=True, compiled=self.compiled["html"])
        self._scan()

    def _scan(self) -> None:
        if not self.root.is_dir():
            self.problems.append(
                Problem(display_path(self.root), 1, 1, "", "template folder not found", "")
            )
            return
        for path in sorted(self.root.glob("*/*.j2")):
            lang = path.parent.name
            match = _NAME.match(path.name)
            shown = display_path(path)
            if lang not in ("fa", "en") or match is None:
                self.problems.append(
                    Problem(
                        shown,
                        1,
                        1,
                        "",
                        "template file name not understood",
                        "use templates/<fa|en>/<name>.<sms|chat|email>.j2",
                    )
                )
                continue
            kind: Kind = match["kind"]  # type: ignore[assignment]
            data = path.read_bytes()
            ref = TemplateRef(lang, match["name"], kind, path, hashlib.sha256(data).hexdigest())
            if self._compile(ref):
                self.refs[(lang, ref.name, kind)] = ref
                if _MAY_READ_DRILL.search(data):
                    self._drill_named.add((lang, ref.name, kind))

    def _compile(self, ref: TemplateRef) -> bool:
        shown = display_path(ref.path)
        try:
            template = self._env_for(ref.kind).get_template(ref.rel)
        except jinja2.TemplateSyntaxError as exc:
            self.problems.append(
                Problem(shown, exc.lineno or 1, 1, "", f"template syntax error: {exc.message}", "")
            )
            return False
        except UnicodeDecodeError:
            self.problems.append(Problem(shown, 1, 1, "", "not UTF-8", "save it as UTF-8"))
            return False
        if ref.kind == "email":
            missing = [b for b in ("subject", "text") if b not in template.blocks]
            if missing:
                self.problems.append(
                    Problem(
                        shown,
                        1,
                        1,
                        "",
                        f"email template lacks block(s): {', '.join(missing)}",
                        "define {% block subject %}, {% block text %} and {% block html %}",
                    )
                )
                return False
            if "html" in template.blocks:  # its html block renders with autoescape
                self._html.get_template(ref.rel)
        return True

    def _env_for(self, kind: Kind) -> SandboxedEnvironment:
        return self._plain if kind in ("sms", "email") else self._html

    def names_drill(self, ref: TemplateRef) -> bool:
        """Whether ``ref`` may render differently in a drill: it names ``drill``, or pulls
        in another template that might (a template sees its context only by name)."""
        return (ref.lang, ref.name, ref.kind) in self._drill_named

    def find(self, lang: str, name: str, kind: Kind) -> TemplateRef | None:
        return self.refs.get((lang, name, kind))

    def by_rel(self, rel: str) -> TemplateRef | None:
        """The template at ``fa/holding_statement.email.j2`` (a path under the folder)."""
        return next((r for r in self.refs.values() if r.rel == rel), None)

    def names(self) -> set[str]:
        return {name for (_, name, _) in self.refs}

    def render(self, ref: TemplateRef, context: Mapping[str, Any]) -> Rendered:
        """Render ``ref``; raise TemplateRenderError naming file:line and the cause."""
        try:
            if ref.kind == "email":
                return self._render_email(ref, context)
            text = self._env_for(ref.kind).get_template(ref.rel).render(context)
            return Rendered(text=_tidy(text))
        except (jinja2.TemplateError, TypeError, ValueError, AttributeError) as exc:
            line = error_line(exc, ref.path)
            raise TemplateRenderError(display_path(ref.path), line, _describe(exc)) from None

    def _render_email(self, ref: TemplateRef, context: Mapping[str, Any]) -> Rendered:
        plain = self._plain.get_template(ref.rel)
        ctx = plain.new_context(dict(context))
        subject = " ".join("".join(plain.blocks["subject"](ctx)).split())
        text = _tidy("".join(plain.blocks["text"](ctx)))
        html: str | None = None
        if "html" in plain.blocks:
            rich = self._html.get_template(ref.rel)
            html = "".join(rich.blocks["html"](rich.new_context(dict(context)))).strip()
        return Rendered(text=text, subject=subject, html=html)


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))


def error_line(exc: BaseException, path: Path) -> int:
    """The template line an exception came from (Jinja rewrites tracebacks to point there)."""
    if isinstance(exc, jinja2.TemplateSyntaxError) and exc.lineno:
        return exc.lineno
    target = str(path.resolve())
    line = 1
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename and str(Path(frame.filename).resolve()) == target and frame.lineno:
            line = frame.lineno
    return line


def _describe(exc: BaseException) -> str:
    if isinstance(exc, jinja2.UndefinedError):
        return f"undefined variable: {exc.message}"
    if isinstance(exc, jinja2.exceptions.SecurityError):
        return f"not allowed in templates: {exc}"
    return f"{type(exc).__name__}: {exc}"


def finalize(rendered: Rendered, kind: Kind, lang: str, drill: bool, preface: str = "") -> Rendered:
    """Add what crisisd owns: the drill marker, a preface line, RLM, the HTML page shell.

    ``preface`` is plain text (escaped here where the format needs it).
    """
    mark = DRILL_MARK.get(lang, DRILL_MARK["en"])
    text, subject, html = rendered.text, rendered.subject, rendered.html
    head_text = [mark["line"]] if drill else []
    head_html = [f"<b>{escape(mark['line'])}</b>"] if drill else []
    if preface:
        head_text.append(preface)
        head_html.append(f"<i>{escape(preface)}</i>")
    if kind == "sms":
        lead = " ".join(([mark["short"]] if drill else []) + ([preface] if preface else []))
        text = f"{lead} {text}" if lead else text
    elif kind == "chat":
        text = "\n".join(head_html) + "\n\n" + text if head_html else text
        if lang == "fa" and not text.startswith(RLM):
            text = RLM + text
    else:
        text = "\n".join(head_text) + "\n\n" + text if head_text else text
        if drill:
            subject = f"{mark['short']} {subject or ''}".strip()
        if html is not None:
            banner = "".join(
                '<p style="background:#fff3cd;border:2px solid #f0ad4e;padding:8px;'
                f'font-weight:bold">{escape(line)}</p>\n'
                for line in head_text
            )
            direction = "rtl" if lang == "fa" else "ltr"
            html = (
                f'<!DOCTYPE html>\n<html dir="{direction}" lang="{lang}">\n<head>'
                f'<meta charset="utf-8"><title>{escape(subject or "")}</title></head>\n'
                f'<body dir="{direction}">\n{banner}{html}\n</body>\n</html>'
            )
    # Persian: phone numbers, ids, addresses and links read left to right.
    text = _finish_bidi(text, lang, isolate_ltr)
    subject = _finish_bidi(subject, lang, lambda s: s) if subject is not None else None
    html = _finish_bidi(html, lang, isolate_ltr_html) if html is not None else None
    return Rendered(text=text, subject=subject, html=html)
