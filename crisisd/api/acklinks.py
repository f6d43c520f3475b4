"""Signed, expiring acknowledgement links for email and SMS, and the page a click shows.

A token names one message by its ack code and says until when it is good::

    token = base64url(version ‖ ack code (12 bytes) ‖ expiry (uint32, unix s) ‖ mac (16 bytes))
    mac   = HMAC-SHA256(secret, "crisisd.ack" ‖ version ‖ ack code ‖ expiry)[:16]

33 bytes make 44 URL-safe characters with no padding, short enough for an SMS. The
MAC is checked (in constant time) before the expiry, so a forged token never learns
whether its date would have passed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Literal

from crisisd import redaction
from crisisd.config import Config
from crisisd.domain import ack_code
from crisisd.errors import PermissionDeniedError
from crisisd.formats.timefmt import gregorian, jalali
from crisisd.store import Store

VERSION = 1
_CONTEXT = b"crisisd.ack"
_CODE_BYTES = 12  # ack_code() is 24 hex digits
_MAC_BYTES = 16
_LAYOUT = struct.Struct(f">B{_CODE_BYTES}sI")
TOKEN_LENGTH = 44  # base64url of _LAYOUT.size + _MAC_BYTES (33) bytes, no padding
_TOKEN_CHARS = re.compile(rf"[A-Za-z0-9_-]{{{TOKEN_LENGTH}}}")


class AckLinkError(PermissionDeniedError):
    """An ack link that cannot be honoured; the message says why, in plain words."""


class MalformedAckLinkError(AckLinkError):
    """Not an ack token at all: wrong length, characters or version (often a cut-off link)."""


class BadAckSignatureError(AckLinkError):
    """Well-formed but not signed by this daemon's secret (edited, or from another install)."""


class ExpiredAckLinkError(AckLinkError):
    """Genuine but past its expiry; the recipient should acknowledge another way."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


class AckSigner:
    """Makes and checks ack tokens with one secret (``api.ack_secret`` or the store's own)."""

    def __init__(
        self,
        secret: bytes,
        ttl: timedelta = timedelta(hours=48),
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        if len(secret) < 16:
            raise ValueError("the ack-link secret must be at least 16 bytes")
        if ttl <= timedelta(0):
            raise ValueError(f"the ack-link lifetime must be positive, not {ttl}")
        self._secret = secret
        self.ttl = ttl
        self.clock = clock

    def __repr__(self) -> str:
        return f"AckSigner(ttl={self.ttl})"  # never the secret

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, _CONTEXT + payload, hashlib.sha256).digest()[:_MAC_BYTES]

    def token(self, message_key: str) -> str:
        """A token acknowledging the message with ``message_key``, good for ``ttl``."""
        expiry = int((self.clock() + self.ttl).timestamp())
        payload = _LAYOUT.pack(VERSION, bytes.fromhex(ack_code(message_key)), expiry)
        raw = payload + self._mac(payload)
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    def url(self, base_url: str, message_key: str) -> str:
        """The link put into an email or SMS: ``{base}/v1/ack/{token}``."""
        return f"{base_url.rstrip('/')}/v1/ack/{self.token(message_key)}"

    def verify(self, token: str) -> str:
        """The ack code a genuine, unexpired token names; raises an :class:`AckLinkError`."""
        if not _TOKEN_CHARS.fullmatch(token):
            raise MalformedAckLinkError(
                f"this acknowledgement link is not complete (expected {TOKEN_LENGTH} characters "
                "of letters, digits, '-' and '_'); open the whole link from the message"
            )
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload, mac = raw[: _LAYOUT.size], raw[_LAYOUT.size :]
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise BadAckSignatureError(
                "this acknowledgement link was altered or was not issued by this crisisd; "
                "open the link exactly as it arrived, or acknowledge in the messenger"
            )
        version, code, expiry = _LAYOUT.unpack(payload)
        if version != VERSION:  # signed by us with a layout this build does not know
            raise MalformedAckLinkError(f"unsupported acknowledgement link version {version}")
        if self.clock().timestamp() > expiry:
            when = datetime.fromtimestamp(expiry, UTC)
            raise ExpiredAckLinkError(
                f"this acknowledgement link expired at {when:%Y-%m-%d %H:%M} UTC; "
                "acknowledge in the messenger or call the PR officer instead"
            )
        return bytes(code).hex()


# -- the page a click shows ----------------------------------------------------------------

PageKind = Literal["confirm", "acked", "already", "invalid", "expired", "unknown"]

_STATUS: dict[PageKind, int] = {
    "confirm": 200,
    "acked": 200,
    "already": 200,
    "invalid": 400,
    "expired": 410,
    "unknown": 404,
}
_TITLE: dict[PageKind, tuple[str, str]] = {
    "confirm": ("تأیید دریافت هشدار", "Acknowledge the alert"),
    "acked": ("دریافت شد", "Acknowledged"),
    "already": ("قبلاً تأیید شده بود", "Already acknowledged"),
    "invalid": ("پیوند نامعتبر", "Invalid link"),
    "expired": ("پیوند منقضی شده", "Link expired"),
    "unknown": ("پیام پیدا نشد", "Message not found"),
}
_BODY: dict[PageKind, tuple[str, str]] = {
    "confirm": (
        "برای ثبت این‌که هشدار حادثه {id} را دیده‌اید، دکمهٔ زیر را بزنید.",
        "Press the button to record that you have seen the alert for incident {id}.",
    ),
    "acked": ("دریافت پیام حادثه {id} ثبت شد: {fa_at}.", "Incident {id}: acknowledged at {en_at}."),
    "already": (
        "دریافت پیام حادثه {id} پیش‌تر ثبت شده بود: {fa_at}. نیازی به کار دیگری نیست.",
        "Incident {id} was already acknowledged at {en_at}. Nothing more to do.",
    ),
    "invalid": (
        "این پیوند کامل یا درست نیست. پیوند را کامل از پیام باز کنید یا در پیام‌رسان تأیید کنید.",
        "This link is incomplete or altered. Open the whole link from the message, "
        "or acknowledge in the messenger.",
    ),
    "expired": (
        "مهلت این پیوند گذشته است. در پیام‌رسان تأیید کنید یا با مسئول روابط عمومی تماس بگیرید.",
        "This link has expired. Acknowledge in the messenger or call the PR officer.",
    ),
    "unknown": (
        "پیامی که این پیوند به آن اشاره دارد پیدا نشد. با مسئول روابط عمومی تماس بگیرید.",
        "The message this link refers to was not found. Please call the PR officer.",
    ),
}
_STYLE = (
    "body{font-family:Tahoma,Vazirmatn,sans-serif;max-width:34rem;margin:2rem auto;"
    "padding:0 1rem;line-height:1.7;color:#1b1b1b}"
    "section{border-top:1px solid #ccc;padding-top:.5rem}"
    ".ok{color:#0a6b2d}.bad{color:#a11}"
)


# Opening the link only shows this form: mail scanners and link previews fetch links with
# GET, and must not acknowledge for a person. The POST goes to the same address.
_CONFIRM_FORM = (
    '<form method="post"><button type="submit" style="font-size:1.2rem;padding:.6rem 1.4rem">'
    "✅ دریافت شد — Acknowledge</button></form>"
)


@dataclass(frozen=True, slots=True)
class AckPage:
    status: int
    html: str


def ack_page(kind: PageKind, incident_id: str = "", at: datetime | None = None) -> AckPage:
    """The bilingual page for one outcome: Persian first (rtl), then English (ltr)."""
    fa_at = jalali(at) if at else ""
    en_at = gregorian(at) + " (Tehran)" if at else ""
    fields = {"id": escape(incident_id), "fa_at": escape(fa_at), "en_at": escape(en_at)}
    fa_title, en_title = _TITLE[kind]
    fa_body, en_body = (text.format(**fields) for text in _BODY[kind])
    tone = "ok" if _STATUS[kind] == 200 else "bad"
    html = (
        '<!doctype html>\n<html lang="fa" dir="rtl"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{fa_title} — {en_title}</title><style>{_STYLE}</style></head><body>"
        f'<h1 class="{tone}">{fa_title}</h1><p>{fa_body}</p>'
        f'<section lang="en" dir="ltr"><h2 class="{tone}">{en_title}</h2><p>{en_body}</p>'
        f"</section>{_CONFIRM_FORM if kind == 'confirm' else ''}</body></html>\n"
    )
    return AckPage(_STATUS[kind], html)


async def signer_for(config: Config, store: Store) -> tuple[AckSigner, str]:
    """The daemon's ack-link signer and the public base URL its links point at.

    The secret is ``api.ack_secret`` or, unset, the one the store generated on first use,
    so links made by ``crisisd trigger`` on the command line verify at the daemon's API.
    """
    secret = (
        config.api.ack_secret.get_secret_value()
        if config.api.ack_secret
        else await store.setting("ack_secret")
    )
    redaction.register(secret)
    public = config.api.public_url or f"http://{config.api.bind}:{config.api.port}"
    return AckSigner(secret.encode()), public
