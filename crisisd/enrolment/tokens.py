"""Invite tokens: what goes after ``?start=`` in an invite link.

A token is 28 characters of ``[A-Za-z0-9_-]`` (Telegram's start parameter takes up to 64
of them: https://core.telegram.org/bots/features#deep-linking), the unpadded base64url of
21 bytes::

    invite id (5 random bytes) | expiry (4 bytes: minutes since 1970, UTC) | MAC (12 bytes)

The MAC is HMAC-SHA256 over the first 9 bytes, keyed with the store's ``invite_secret``
setting (made once, shared by the daemon and the command line). A token is checked here
before any lookup (shape, signature, expiry); the store's ``invites`` row then makes it
single-use, revocable and tied to one contact and messenger.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from crisisd.errors import ExpiredInvite, ForgedInvite, MalformedInvite

TOKEN = re.compile(r"^[A-Za-z0-9_-]{28}$")
ID_BYTES, EXPIRY_BYTES, MAC_BYTES = 5, 4, 12
_DOMAIN = b"crisisd invite v1\0"
SECRET_SETTING = "invite_secret"  # noqa: S105 - the setting's name; its value is made at first use


@dataclass(frozen=True, slots=True)
class Token:
    """A token that is well formed, signed by us and not expired."""

    invite_id: str  # hex of the 5 id bytes: the invites row's key
    expires_at: datetime


def new_invite_id() -> bytes:
    return secrets.token_bytes(ID_BYTES)


def expiry_minute(at: datetime) -> datetime:
    """``at`` as a token carries it: whole minutes, UTC."""
    return datetime.fromtimestamp(int(at.timestamp()) // 60 * 60, UTC)


def make_token(key: bytes, invite_id: bytes, expires_at: datetime) -> str:
    if len(invite_id) != ID_BYTES:
        raise ValueError(f"an invite id has {ID_BYTES} bytes")
    minutes = int(expires_at.timestamp()) // 60
    payload = invite_id + minutes.to_bytes(EXPIRY_BYTES, "big")
    raw = payload + _mac(key, payload)
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def read_token(key: bytes, token: str, now: datetime) -> Token:
    """The token's invite, or MalformedInvite / ForgedInvite / ExpiredInvite."""
    if not TOKEN.match(token):
        raise MalformedInvite("this is not an invite link crisisd made")
    try:
        raw = base64.urlsafe_b64decode(token)
    except (binascii.Error, ValueError):
        raise MalformedInvite("this is not an invite link crisisd made") from None
    payload, mac = raw[: ID_BYTES + EXPIRY_BYTES], raw[ID_BYTES + EXPIRY_BYTES :]
    if not hmac.compare_digest(mac, _mac(key, payload)):
        raise ForgedInvite("the invite link's signature does not match")
    minutes = int.from_bytes(payload[ID_BYTES:], "big")
    expires = datetime.fromtimestamp(minutes * 60, UTC)
    if now >= expires:
        raise ExpiredInvite(f"the invite link expired at {expires.isoformat()}")
    return Token(payload[:ID_BYTES].hex(), expires)


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, _DOMAIN + payload, hashlib.sha256).digest()[:MAC_BYTES]
