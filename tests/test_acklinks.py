"""Signed ack links: they name exactly one message, cannot be edited, and expire."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from crisisd.api.acklinks import (
    TOKEN_LENGTH,
    AckSigner,
    BadAckSignatureError,
    ExpiredAckLinkError,
    MalformedAckLinkError,
    ack_page,
)
from crisisd.domain import ack_code
from crisisd.errors import PermissionDeniedError

SECRET = b"s3cret-for-ack-links-0123456789"
KEY = "KMT-479:alert:0:emergency_team:staff.b"
T0 = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def signer(clock: Clock | None = None, secret: bytes = SECRET) -> AckSigner:
    return AckSigner(secret, timedelta(hours=48), clock or Clock(T0))


def _decode(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_roundtrip_gives_the_messages_ack_code() -> None:
    token = signer().token(KEY)

    assert signer().verify(token) == ack_code(KEY)
    assert len(token) == TOKEN_LENGTH
    assert "=" not in token
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_url_is_base_plus_v1_ack_token() -> None:
    s = signer()

    url = s.url("https://crisis.example.ir/", KEY)

    assert url == f"https://crisis.example.ir/v1/ack/{s.token(KEY)}"


def test_different_messages_get_different_tokens() -> None:
    assert signer().token(KEY) != signer().token(KEY + "x")


def test_every_byte_flip_is_refused() -> None:
    raw = _decode(signer().token(KEY))
    for i in range(len(raw)):
        for bit in (0x01, 0x80):
            tampered = bytearray(raw)
            tampered[i] ^= bit
            with pytest.raises(BadAckSignatureError):
                signer().verify(_encode(bytes(tampered)))


def test_every_character_change_is_refused() -> None:
    token = signer().token(KEY)
    for i, ch in enumerate(token):
        other = "A" if ch != "A" else "B"
        with pytest.raises(BadAckSignatureError):
            signer().verify(token[:i] + other + token[i + 1 :])


def test_another_secret_is_refused() -> None:
    token = signer(secret=b"another-secret-of-enough-length").token(KEY)

    with pytest.raises(BadAckSignatureError, match="not issued by this crisisd"):
        signer().verify(token)


def test_expiry_with_an_injected_clock() -> None:
    clock = Clock(T0)
    s = signer(clock)
    token = s.token(KEY)

    clock.now = T0 + timedelta(hours=47, minutes=59)
    assert s.verify(token) == ack_code(KEY)
    clock.now = T0 + timedelta(hours=48, seconds=1)
    with pytest.raises(ExpiredAckLinkError, match="expired at 2026-11-29 07:00 UTC"):
        s.verify(token)


def test_forged_token_is_refused_before_its_expiry_is_looked_at() -> None:
    clock = Clock(T0)
    raw = bytearray(_decode(signer(clock).token(KEY)))
    raw[-1] ^= 1
    clock.now = T0 + timedelta(days=30)

    with pytest.raises(BadAckSignatureError):
        signer(clock).verify(_encode(bytes(raw)))


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "A" * (TOKEN_LENGTH - 1),  # cut off
        "A" * (TOKEN_LENGTH + 1),
        "A" * (TOKEN_LENGTH - 1) + "=",  # padding is not part of the alphabet
        "A" * (TOKEN_LENGTH - 1) + "+",  # standard base64, not URL-safe
        "A" * (TOKEN_LENGTH - 1) + "/",
        "A" * (TOKEN_LENGTH - 2) + " A",
        "ی" * TOKEN_LENGTH,
    ],
)
def test_malformed_tokens_say_so(token: str) -> None:
    with pytest.raises(MalformedAckLinkError, match="not complete"):
        signer().verify(token)


def test_all_refusals_are_permission_errors_without_the_secret() -> None:
    token = signer().token(KEY)
    for bad in ("x", token[:-1] + ("A" if token[-1] != "A" else "B")):
        with pytest.raises(PermissionDeniedError) as info:
            signer().verify(bad)
        assert SECRET.decode() not in str(info.value)
    assert SECRET.decode() not in repr(signer())


def test_short_secret_and_bad_ttl_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        AckSigner(b"short")
    with pytest.raises(ValueError, match="positive"):
        AckSigner(SECRET, timedelta(0))


def test_pages_are_bilingual_persian_first() -> None:
    at = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)  # 10:30 in Tehran

    page = ack_page("acked", "KMT-479", at)

    assert page.status == 200
    assert '<html lang="fa" dir="rtl">' in page.html
    assert page.html.index("دریافت شد") < page.html.index("Acknowledged")
    assert "۱۰:۳۰" in page.html
    assert "Friday 27 November 2026, 10:30" in page.html
    assert '<section lang="en" dir="ltr">' in page.html
    assert ack_page("expired").status == 410
    assert ack_page("invalid").status == 400
    assert "Already acknowledged" in ack_page("already", "KMT-479", at).html


def test_page_escapes_the_incident_id() -> None:
    page = ack_page("acked", "<script>x</script>", T0)

    assert "<script>" not in page.html
