"""The wire bytes of an email: built once per content, addressed per recipient.

:func:`build_message` is the whole message for one recipient (the reference);
:class:`Flattener` gives the same bytes for a fan-out at a fraction of the cost: the
MIME tree of one content is built and flattened once, and each recipient's message is
that flattening with its own To, Date and Message-ID lines put in.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import replace
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime

import structlog

from crisisd.channels.base import OutboundMessage
from crisisd.channels.mailheaders import address_line, set_address_header, set_text_header
from crisisd.config import EmailFrom

_log = structlog.get_logger("crisisd.channels.email")

# Headers the channel sets itself; a playbook's extra headers may not replace them.
_RESERVED = frozenset(
    {
        "to",
        "cc",
        "bcc",
        "from",
        "sender",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "auto-submitted",
    }
)
_HEADER_NAME = re.compile(r"^[!-9;-~]+$")  # RFC 5322 field name: printable ASCII, no colon
# 7bit: Persian parts are base64-encoded, so the message is valid on servers without 8BITMIME.
_POLICY = SMTP_POLICY.clone(cte_type="7bit")
_WIRE = _POLICY.clone(refold_source="none")  # headers as mailheaders encoded them
# RFC 5322 section 3.4.1 dot-atom on both sides of the @: an address of this shape is one
# the standard library's parser takes as it is; any other is left to that parser.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_ADDRESS = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")


def message_id(key: str, sender_address: str) -> str:
    """``<sha256(key)[:32]@crisisd.domain>``: the same message key always gives the same id."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    domain = sender_address.rpartition("@")[2] or "localhost"
    return f"<{digest}@crisisd.{domain}>"


def build_message(msg: OutboundMessage, sender: EmailFrom) -> EmailMessage:
    """The email for one recipient; raises ValueError on a malformed address."""
    to = Address(display_name=msg.recipient_name, addr_spec=single_address(msg.address))
    mail = EmailMessage(policy=_POLICY)
    name = msg.sender_name or sender.name
    set_address_header(mail, "From", Address(display_name=name, addr_spec=sender.address))
    set_address_header(mail, "To", to)
    set_text_header(mail, "Subject", msg.subject or "")
    mail["Date"] = format_datetime(datetime.now(UTC))
    mail["Message-ID"] = message_id(msg.key, sender.address)
    mail["Auto-Submitted"] = "auto-generated"
    if msg.incident_id:
        mail["X-Crisisd-Incident"] = msg.incident_id
    if msg.drill:
        mail["X-Crisisd-Drill"] = "yes"
    for name, value in msg.headers.items():
        if _allowed_header(name, value):
            mail[name] = value
        else:
            _log.warning("email.header_dropped", header=name, key=msg.key)
    mail.set_content(msg.text, subtype="plain", charset="utf-8")
    if msg.html:
        mail.add_alternative(msg.html, subtype="html", charset="utf-8")
    mail["Content-Language"] = msg.lang  # after set_content, which clears Content-* headers
    return mail


_STAND_IN = "stand-in@crisisd.invalid"  # the To of a cached message, replaced per recipient
_STAND_IN_KEY = "crisisd/stand-in"


class Flattener:
    """The wire bytes of each message, built once per content and addressed per recipient.

    A fan-out sends the same rendered email to hundreds of people; building and flattening
    the MIME tree (base64 of Persian text and HTML) took most of the email path's time.
    The first message of a content is built in full for a stand-in address and cut at its
    To, Date and Message-ID lines; every message of that content is those pieces joined
    with its own three lines.
    """

    def __init__(self, sender: EmailFrom, keep: int = 64) -> None:
        self._sender = sender
        self._keep = keep
        self._cut: dict[tuple[object, ...], tuple[bytes, bytes, bytes, bytes]] = {}
        self._second = -1
        self._date = b""

    def wire(self, msg: OutboundMessage) -> tuple[bytes, str]:
        """(the message as sent, its Message-ID); ValueError on a malformed address."""
        spec = single_address(msg.address)
        key = (
            msg.text, msg.html, msg.lang, msg.subject, msg.sender_name, msg.incident_id,
            msg.drill, tuple(msg.headers.items()),
        )  # fmt: skip
        cut = self._cut.get(key)
        if cut is None:
            cut = self._cut_template(msg)
            if len(self._cut) >= self._keep:
                self._cut.pop(next(iter(self._cut)))
            self._cut[key] = cut
        ident = message_id(msg.key, self._sender.address)
        to_line = address_line("To", msg.recipient_name, spec)
        if to_line is None:  # a name the standard library must quote or fold
            head = EmailMessage(policy=_POLICY)
            set_address_header(head, "To", Address(display_name=msg.recipient_name, addr_spec=spec))
            to_line = head.as_bytes(policy=_WIRE).rstrip(b"\r\n") + b"\r\n"
        before_to, before_date, before_id, rest = cut
        date = self._date_line()
        wire = b"".join((before_to, to_line, before_date, date, before_id, ident.encode(), rest))
        return wire, ident

    def _cut_template(self, msg: OutboundMessage) -> tuple[bytes, bytes, bytes, bytes]:
        """The stand-in message in four pieces: up to To, up to Date, up to the Message-ID
        value, the rest (build_message writes them in that order)."""
        stand_in = replace(msg, address=_STAND_IN, recipient_name="", key=_STAND_IN_KEY)
        flat = build_message(stand_in, self._sender).as_bytes(policy=_WIRE)
        to = f"To: {_STAND_IN}\r\n".encode("ascii")
        ident = message_id(_STAND_IN_KEY, self._sender.address).encode("ascii")
        to_at = flat.index(b"\r\nTo: ") + 2
        date_at = flat.index(b"\r\nDate: ", to_at) + 2
        date_end = flat.index(b"\r\n", date_at) + 2
        id_at = flat.index(ident, date_end)
        if flat[to_at : to_at + len(to)] != to:
            raise RuntimeError("the stand-in message has no plain To line")  # pragma: no cover
        return (
            flat[:to_at],
            flat[to_at + len(to) : date_at],
            flat[date_end:id_at],
            flat[id_at + len(ident) :],
        )

    def _date_line(self) -> bytes:
        """``Date: ...`` for now; the same within one second (RFC 5322 dates have seconds)."""
        second = int(time.time())
        if second != self._second:
            when = datetime.fromtimestamp(second, UTC)
            self._date = f"Date: {format_datetime(when)}\r\n".encode("ascii")
            self._second = second
        return self._date


def single_address(address: str) -> str:
    """``address`` as one bare addr-spec; ValueError if it is not exactly one address."""
    address = address.strip()
    if not address or any(c in address for c in ",;<>\r\n\t ") or address.count("@") != 1:
        raise ValueError(f"not a single email address: {address!r}")
    if _PLAIN_ADDRESS.fullmatch(address) is None:  # the standard library's check and form
        return Address(addr_spec=address).addr_spec  # ValueError if malformed
    return address


def _allowed_header(name: str, value: str) -> bool:
    return (
        name.lower() not in _RESERVED
        and not name.lower().startswith("resent-")
        and _HEADER_NAME.match(name) is not None
        and "\r" not in value
        and "\n" not in value
    )
