"""A message addressed from the cached flattening is the message built for its recipient
alone: same headers in the same order (To, Message-ID and Date its own), same body."""

from __future__ import annotations

import re
from email import message_from_bytes, policy

import pytest

from crisisd.channels.base import OutboundMessage
from crisisd.channels.mailflat import _WIRE, Flattener, build_message
from crisisd.config import EmailFrom

SENDER = EmailFrom(address="crisisd@example.com", name="crisisd — روابط عمومی")
TEXT = "هشدار اضطراری در فولاد شهریار\nDate: not a header, a line of the body"


def _message(key: str, address: str, name: str, **kw: object) -> OutboundMessage:
    base: dict[str, object] = {
        "key": key,
        "channel": "email",
        "address": address,
        "text": TEXT,
        "lang": "fa",
        "subject": "هشدار اضطراری: آتش‌سوزی (جدی) — فولاد شهریار",
        "html": "<p>هشدار اضطراری</p>",
        "recipient_name": name,
        "sender_name": "روابط عمومی فولاد شهریار",
        "incident_id": "K7M-42Q",
    }
    return OutboundMessage(**(base | kw))  # type: ignore[arg-type]


def _same_shape(data: bytes) -> bytes:
    data = re.sub(rb"=+\d+==", b"BOUNDARY", data)  # drawn afresh for every message built
    return re.sub(rb"^Date: [^\r\n]*", b"Date: X", data, count=1, flags=re.MULTILINE)


@pytest.mark.parametrize(
    ("address", "name", "extra"),
    [
        ("m.rezaei@example.com", "مریم رضایی", {}),
        ("desk@example.com", "News desk", {"lang": "en", "text": "ascii only\nDate: body"}),
        ("x@example.com", "", {"html": None, "drill": True}),
        ("y@example.com", "نام بسیار بلندی " * 6, {"headers": {"X-Case": "7"}}),
        ("rezaei@example.com", "Rezaei, M.", {}),  # a name the standard library quotes
        ("o.neil+alerts@mail.example.com", "O'Neil  Jr", {}),  # two spaces
        ("long@example.com", "Very Long English Name " * 3, {}),  # folded
        ("b@example.com", " ", {}),
        ("ops@[192.0.2.1]", "Q", {}),  # left to the standard library's parser
    ],
)
def test_each_recipient_gets_the_message_built_for_them(
    address: str, name: str, extra: dict[str, object]
) -> None:
    flat = Flattener(SENDER)
    first = _message("inc/alert/0/0/a", "a@example.com", "علی", **extra)
    flat.wire(first)  # fills the cache with this content
    msg = _message("inc/alert/0/0/b", address, name, **extra)
    wire, ident = flat.wire(msg)
    alone = build_message(msg, SENDER).as_bytes(policy=_WIRE)
    assert _same_shape(wire) == _same_shape(alone)
    parsed = message_from_bytes(wire, policy=policy.default)
    assert parsed["Message-ID"] == ident
    assert parsed["To"].addresses[0].addr_spec == address
    assert parsed["To"].addresses[0].display_name == " ".join(name.split())
    assert parsed["Date"] is not None


def test_a_malformed_address_is_refused() -> None:
    with pytest.raises(ValueError, match="single email address"):
        Flattener(SENDER).wire(_message("k", "a@example.com, b@example.com", ""))
