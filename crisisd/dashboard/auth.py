"""Who is asking, and signing in without passwords.

A person asks for a code with their directory id or phone number; when they may sign in
(:func:`~crisisd.dashboard.state.person`), a six-digit code goes to them through the
outbox like any notice (their messenger chat first, then SMS or email), and the answer
is the same whether or not they may, so the form does not tell who exists. The code is
good once, for ``dashboard.code_minutes``, for five tries; a person gets at most
``dashboard.codes_per_hour`` codes. The session lives in the store; the cookie carries
its id with an HMAC (HttpOnly, SameSite=Strict, Secure behind HTTPS), so a forged cookie
is refused and a signed-out one cannot be replayed. Every form carries the session's
CSRF token. API tokens (``Authorization: Bearer``) are read too, for the CAP feed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import timedelta

from aiohttp import hdrs, web

from crisisd.config.tokens import ACTIONS, match_token
from crisisd.dashboard.state import PEOPLE_ACTIONS, STATE, BoardState, Who, person
from crisisd.enrolment.records import open_record
from crisisd.formats.phones import normalize_phone
from crisisd.formats.timefmt import fa_digits
from crisisd.library.model import Library
from crisisd.planning.planner import plan_notice
from crisisd.store.signin import CodeCheck, Session

SESSION_COOKIE = "crisisd_session"
PENDING_COOKIE = "crisisd_signin"
MAX_TRIES = 5
SIGNIN = "signin"  # the enrolment record's kind that carries a code

CODE_TEXT = {
    "fa": "کد ورود به داشبورد crisisd: {code}\nتا {minutes} دقیقه معتبر است. اگر شما درخواست "
    "نکرده‌اید، این پیام را نادیده بگیرید.",
    "en": "crisisd dashboard sign-in code: {code}\nGood for {minutes} minutes. If you did not "
    "ask for it, ignore this message.",
}


def sign(secret: bytes, purpose: str, value: str) -> str:
    mac = hmac.new(secret, f"{purpose}:{value}".encode(), hashlib.sha256).digest()
    return f"{value}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


def unsign(secret: bytes, purpose: str, signed: str | None) -> str | None:
    """The value inside a signed string, or None when it was altered or is not ours."""
    if not signed or "." not in signed:
        return None
    value = signed.rsplit(".", 1)[0]
    return value if hmac.compare_digest(sign(secret, purpose, value), signed) else None


def code_digest(secret: bytes, code_id: int, code: str) -> str:
    return hmac.new(secret, f"code:{code_id}:{code}".encode(), hashlib.sha256).hexdigest()


def find_contact(lib: Library, given: str) -> str | None:
    """A directory contact by id or by phone number (as people write it)."""
    given = given.strip()
    if given in lib.directory.contacts:
        return given
    try:
        phone = normalize_phone(given)
    except ValueError:
        return None
    for cid, c in lib.directory.contacts.items():
        if c.phone == phone:
            return cid
    return None


async def who_is(request: web.Request) -> Who | None:
    """The caller by bearer token or session cookie; None when neither is good."""
    state = request.app[STATE]
    lib = state.lib
    scheme, _, token = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        found = match_token(lib.config.api.tokens, token.strip())
        if found is None:
            return None
        factories = frozenset(found.factories) if found.factories is not None else None
        return Who(f"api:{found.name}", found.role, factories, ACTIONS[found.role])
    sid = unsign(state.secret, "session", request.cookies.get(SESSION_COOKIE))
    if sid is None:
        return None
    session = await state.book.session(sid, state.now())
    return None if session is None else who_of(lib, session)


def who_of(lib: Library, session: Session) -> Who | None:
    role = person(lib, session.contact)
    if role is None:  # no longer province, officer or viewer: the session is worth nothing
        return None
    contact = lib.directory.contacts[session.contact]
    return Who(
        session.contact,
        role[0],
        role[1],
        PEOPLE_ACTIONS[role[0]],
        contact=session.contact,
        name=contact.name.fa,
        name_en=contact.name.en,
        session_id=session.id,
        csrf=session.csrf,
    )


async def send_code(state: BoardState, given: str) -> int | None:
    """Send a code to the person ``given`` names; the code row's id, or None when nothing
    was sent (unknown, may not sign in, or over the hourly limit; each is audited)."""
    lib, now, board = state.lib, state.now(), state.settings
    contact = find_contact(lib, given)
    if contact is None or person(lib, contact) is None:
        await state.refuse(None, "signin.unknown", None)
        return None
    if await state.book.codes_since(contact, now - timedelta(hours=1)) >= board.codes_per_hour:
        await state.refuse(None, "signin.too_many_codes", None, contact=contact)
        return None
    code = f"{secrets.randbelow(1_000_000):06d}"
    code_id = await state.book.add_code(contact, now, now + timedelta(minutes=board.code_minutes))
    await state.book.set_digest(code_id, code_digest(state.secret, code_id, code))
    texts = {
        "fa": CODE_TEXT["fa"].format(code=fa_digits(code), minutes=fa_digits(board.code_minutes)),
        "en": CODE_TEXT["en"].format(code=code, minutes=board.code_minutes),
    }
    factory = next(
        (f for f, pb in sorted(lib.playbooks.items()) if contact in pb.factory.officers),
        sorted(lib.playbooks)[0],
    )
    await open_record(
        state.ctx.store,
        factory,
        SIGNIN,
        now,
        lambda facts: plan_notice(lib, facts, texts, f"signin-{code_id}", now, [contact]),
        {"contact": contact, "code_id": code_id},  # never the code
    )
    state.ctx.kick()
    return code_id


async def check_code(
    state: BoardState, code_id: int, code: str
) -> tuple[CodeCheck, Session | None]:
    """Use the code; a session when it was right, unused and in time."""
    digest = code_digest(state.secret, code_id, code.strip())
    outcome, contact = await state.book.use_code(code_id, digest, state.now(), MAX_TRIES)
    if outcome != CodeCheck.OK or contact is None:
        await state.refuse(None, f"signin.{outcome.value}", None, contact=contact)
        return outcome, None
    lasts = timedelta(hours=state.settings.session_hours)
    return outcome, await state.book.open_session(contact, state.now(), lasts)


def set_cookie(
    request: web.Request, response: web.StreamResponse, name: str, value: str, max_age: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )


def csrf_ok(who: Who, sent: object) -> bool:
    return isinstance(sent, str) and bool(who.csrf) and hmac.compare_digest(sent, who.csrf)
