"""What a mail reader shows: subjects with their spaces, names instead of contact ids.

Every email the samples can produce is built, sent through the real SMTP client to the
sandbox's aiosmtpd inbox, and read back with Python's ``email`` parser, as a mail client
would decode it.
"""

from __future__ import annotations

import email
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import pytest

from crisisd.channels.base import OutboundMessage, Sent
from crisisd.channels.email import EmailChannel
from crisisd.channels.mailheaders import encoded_words
from crisisd.config import load_config
from crisisd.library.loader import load_library
from crisisd.library.model import Library
from crisisd.planning.preview import preview_open
from crisisd.sandbox.inbox import Inbox
from crisisd.sandbox.smtpinbox import SmtpInbox, start_smtp_inbox

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def samples() -> Library:
    return load_library(load_config(ROOT / "config.yaml"))


@pytest.fixture
async def server() -> AsyncIterator[SmtpInbox]:
    fake = await start_smtp_inbox(Inbox())
    yield fake
    await fake.aclose()


def parse(raw: bytes) -> EmailMessage:
    mail = email.message_from_bytes(raw, policy=default_policy)
    assert isinstance(mail, EmailMessage)
    return mail


def every_email(lib: Library) -> list[tuple[OutboundMessage, str]]:
    """(message, recipient id) for every email of every incident of the samples, drills too."""
    out: list[tuple[OutboundMessage, str]] = []
    for fid, pb in lib.playbooks.items():
        for itype, incident in pb.incidents.items():
            for sev in incident.severities:
                for drill in (False, True):
                    plan = preview_open(
                        lib, fid, itype, sev, "آتش در انبار", "سالن ۲", drill, datetime.now(UTC)
                    )
                    for m in plan.messages:
                        r = m.renderings.get("email")
                        if r is None:
                            continue
                        msg = OutboundMessage(
                            key=m.key,
                            channel="email",
                            address="reader@example.com",
                            text=r.text,
                            subject=r.subject,
                            html=r.html,
                            lang=m.lang,
                            recipient_name=r.to_name,
                            sender_name=r.from_name,
                        )
                        out.append((msg, m.recipient))
    return out


async def test_every_sample_email_reads_back_exactly(samples: Library, server: SmtpInbox) -> None:
    emails = every_email(samples)
    assert len(emails) > 100
    channel = EmailChannel(samples.config.smtp, host="127.0.0.1", port=server.port)
    try:
        for msg, _recipient in emails:
            assert isinstance(await channel.send(msg), Sent)
    finally:
        await channel.aclose()
    assert len(server.received) == len(emails)
    for (msg, recipient), received in zip(emails, server.received, strict=True):
        received.raw.decode("ascii")  # 7-bit clean
        head = received.raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
        subject = head[head.index("\r\nSubject:") + 2 :].split("\r\n")
        for line in subject[: 1 + next(i for i, s in enumerate(subject[1:]) if s[:1] != " ")]:
            assert len(line) <= 78, line  # folded, not one long line
        assert all(len(line) <= 998 for line in head.split("\r\n"))
        mail = parse(received.raw)
        assert str(mail["Subject"]) == msg.subject  # spaces kept after folding
        (to,) = mail["To"].addresses
        contact = samples.directory.contacts[recipient]
        assert to.display_name == contact.name.get(msg.lang)  # a name, not "press.irna"
        assert to.display_name != recipient
        (sender,) = mail["From"].addresses
        assert sender.display_name == msg.sender_name


def test_the_samples_send_under_the_factorys_pr_office(samples: Library) -> None:
    senders = {m.sender_name for m, _ in every_email(samples)}
    assert "روابط عمومی فولاد شهریار" in senders
    assert "Shahriar Steel Public Relations" in senders
    assert "" not in senders


def test_encoded_words_keep_every_space_and_character() -> None:
    text = "اعلام وقوع حادثه: آتش\u200cسوزی (جدی) در رنگ و شیمی ملارد — " * 3
    folded = encoded_words(text, 60)
    assert all(len(line) <= 78 for line in folded.split("\r\n"))
    mail = parse(b"Subject: " + folded.encode("ascii") + b"\r\n\r\nx")
    assert str(mail["Subject"]) == text
