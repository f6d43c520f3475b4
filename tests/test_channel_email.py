"""EmailChannel against a real SMTP server (crisisd.sandbox.smtpinbox, aiosmtpd) on loopback."""

from __future__ import annotations

import asyncio
import email
import re
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import aiosmtplib
import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs

from crisisd import redaction
from crisisd.channels.base import Channel, Failed, OutboundMessage, Retry, Sent
from crisisd.channels.email import EmailChannel, classify, message_id
from crisisd.config import EmailFrom, Smtp
from crisisd.sandbox.inbox import Inbox
from crisisd.sandbox.smtpinbox import SmtpInbox, start_smtp_inbox

SENDER = EmailFrom(address="crisisd@shahriar-steel.ir", name="روابط عمومی فولاد شهریار")
PASSWORD = "smtp-Pa55word-never-shown"
SUBJECT = "هشدار: آتش‌سوزی در سالن نورد ۲"
TEXT = "آتش‌سوزی در سالن نورد ۲ مهار شد.\nکسی آسیب ندیده است. Hall 2 is safe."
HTML = (
    '<!doctype html><html dir="rtl" lang="fa"><head><meta charset="utf-8"></head>'
    "<body><p>آتش‌سوزی در سالن نورد ۲ مهار شد.</p></body></html>"
)


def smtp_config(**overrides: object) -> Smtp:
    values: dict[str, object] = {"from": SENDER, "timeout_seconds": 2.0, "pool_size": 2}
    values.update(overrides)
    return Smtp.model_validate(values)


def outbound(
    key: str = "inc-7/step-1/press.a/email", address: str = "a@press.ir", **kw: object
) -> OutboundMessage:
    values: dict[str, object] = {
        "key": key,
        "channel": "email",
        "address": address,
        "text": TEXT,
        "subject": SUBJECT,
        "html": HTML,
        "incident_id": "inc-7",
    }
    values.update(kw)
    return OutboundMessage(**values)  # type: ignore[arg-type]


def parse(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=default_policy)
    assert isinstance(parsed, EmailMessage)
    return parsed


@pytest.fixture
async def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
async def server(inbox: Inbox) -> AsyncIterator[SmtpInbox]:
    fake = await start_smtp_inbox(inbox)
    yield fake
    await fake.aclose()


@pytest.fixture
async def channel(server: SmtpInbox) -> AsyncIterator[EmailChannel]:
    ch = EmailChannel(smtp_config(), port=server.port)
    yield ch
    await ch.aclose()


async def test_is_a_channel(channel: EmailChannel) -> None:
    assert isinstance(channel, Channel)
    assert (channel.name, channel.kind) == ("email", "email")
    assert channel.limits.concurrency == 2


async def test_persian_email_arrives_as_utf8_multipart_alternative(
    channel: EmailChannel, server: SmtpInbox, inbox: Inbox
) -> None:
    result = await channel.send(outbound(drill=True))

    assert isinstance(result, Sent)
    (received,) = server.received
    received.raw.decode("ascii")  # 7-bit clean: Persian travels encoded, any relay accepts it
    mail = parse(received.raw)
    assert mail.get_content_type() == "multipart/alternative"
    plain, html = mail.iter_parts()
    assert (plain.get_content_type(), plain.get_content_charset()) == ("text/plain", "utf-8")
    assert (html.get_content_type(), html.get_content_charset()) == ("text/html", "utf-8")
    assert str(mail["Subject"]) == SUBJECT
    assert mail["From"].addresses[0].display_name == SENDER.name
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["X-Crisisd-Incident"] == "inc-7"
    assert mail["X-Crisisd-Drill"] == "yes"
    assert mail["Content-Language"] == "fa"
    (item,) = inbox.query(service="smtp")
    assert (item.to, item.subject, item.text) == ("a@press.ir", SUBJECT, TEXT)
    assert item.html is not None
    assert 'dir="rtl"' in item.html
    assert "آتش‌سوزی در سالن نورد ۲ مهار شد." in item.html
    assert result.provider_id == f"SBX{item.id}"  # the server's queue id from its 250 reply


async def test_plain_text_only_when_no_html(channel: EmailChannel, server: SmtpInbox) -> None:
    assert isinstance(await channel.send(outbound(html=None, drill=False)), Sent)
    mail = parse(server.received[0].raw)
    assert mail.get_content_type() == "text/plain"
    assert mail["X-Crisisd-Drill"] is None


async def test_each_press_recipient_gets_a_message_of_its_own(
    channel: EmailChannel, server: SmtpInbox
) -> None:
    press = ["editor@irna.ir", "desk@isna.ir", "news@hamshahri.ir"]
    results = await asyncio.gather(
        *(channel.send(outbound(key=f"inc-7/press/{a}", address=a)) for a in press)
    )

    assert all(isinstance(r, Sent) for r in results)
    assert sorted(r for t in server.received for r in t.rcpt_tos) == sorted(press)
    for transaction in server.received:
        (rcpt,) = transaction.rcpt_tos  # exactly one RCPT per message
        mail = parse(transaction.raw)
        assert [a.addr_spec for a in mail["To"].addresses] == [rcpt]
        assert mail["Cc"] is None
        assert mail["Bcc"] is None
        others = [a for a in press if a != rcpt]
        assert not any(other.encode() in transaction.raw for other in others)


async def test_message_id_is_stable_for_the_same_key(channel: EmailChannel, inbox: Inbox) -> None:
    key = "inc-7/step-2/management.rezaei/email"
    await channel.send(outbound(key=key))
    await channel.send(outbound(key=key))  # a resend after a retry or a crash
    await channel.send(outbound(key=key + "-other"))

    ids = [item.extra["message_id"] for item in inbox]
    assert ids[0] == ids[1] == message_id(key, SENDER.address)
    assert ids[2] != ids[0]
    assert re.fullmatch(r"<[0-9a-f]{32}@crisisd\.shahriar-steel\.ir>", str(ids[0]))


async def test_extra_headers_cannot_replace_envelope_headers(
    channel: EmailChannel, server: SmtpInbox
) -> None:
    headers = {"Bcc": "spy@example.com", "To": "all@example.com", "X-Playbook": "fire/major"}
    headers["X-Injected"] = "a\r\nBcc: spy@example.com"
    assert isinstance(await channel.send(outbound(headers=headers)), Sent)

    (transaction,) = server.received
    assert transaction.rcpt_tos == ("a@press.ir",)
    assert b"spy@example.com" not in transaction.raw
    assert b"all@example.com" not in transaction.raw
    assert parse(transaction.raw)["X-Playbook"] == "fire/major"


async def test_a_list_of_addresses_is_refused(channel: EmailChannel, server: SmtpInbox) -> None:
    result = await channel.send(outbound(address="a@press.ir, b@press.ir"))
    assert isinstance(result, Failed)
    assert result.scope == "recipient"
    assert server.received == []


async def test_550_on_rcpt_fails_the_recipient_and_keeps_the_connection(
    channel: EmailChannel, server: SmtpInbox, inbox: Inbox
) -> None:
    server.faults.update({"mode": "permanent", "count": 1})
    result = await channel.send(outbound())
    assert isinstance(result, Failed)
    assert result.scope == "recipient"
    assert "550" in result.reason

    assert isinstance(await channel.send(outbound()), Sent)
    assert len(inbox) == 1
    assert server.connections == 1  # RSET, not a new connection


async def test_451_on_data_is_retried(
    channel: EmailChannel, server: SmtpInbox, inbox: Inbox
) -> None:
    server.faults.update({"mode": "error", "count": 1})
    result = await channel.send(outbound())
    assert isinstance(result, Retry)
    assert result.after >= 10
    assert "451" in result.reason
    assert len(inbox) == 0


async def test_421_is_retried_on_a_new_connection(
    channel: EmailChannel, server: SmtpInbox, inbox: Inbox
) -> None:
    server.faults.update({"mode": "rate_limit", "count": 1})
    assert isinstance(await channel.send(outbound()), Retry)
    assert isinstance(await channel.send(outbound()), Sent)
    assert server.connections == 2
    assert len(inbox) == 1


async def test_server_down_is_retried(inbox: Inbox) -> None:
    fake = await start_smtp_inbox(inbox)
    port = fake.port
    await fake.aclose()  # nothing listens on the port now
    ch = EmailChannel(smtp_config(), port=port)
    result = await ch.send(outbound())
    await ch.aclose()
    assert isinstance(result, Retry)
    assert result.after <= 10


async def test_a_hung_server_is_retried_within_the_timeout(inbox: Inbox) -> None:
    fake = await start_smtp_inbox(inbox)
    ch = EmailChannel(smtp_config(timeout_seconds=0.3), port=fake.port)
    fake.faults.update({"mode": "hang", "count": 1})
    try:
        async with asyncio.timeout(5):  # a guard, not a timing assertion
            result = await ch.send(outbound())
        assert isinstance(result, Retry)
        assert isinstance(await ch.send(outbound()), Sent)  # the stuck connection was dropped
        assert fake.connections == 2
    finally:
        await ch.aclose()
        await fake.aclose()


async def test_a_dropped_connection_is_retried_and_replaced(
    channel: EmailChannel, server: SmtpInbox, inbox: Inbox
) -> None:
    server.faults.update({"mode": "drop", "count": 1})
    assert isinstance(await channel.send(outbound()), Retry)
    assert isinstance(await channel.send(outbound()), Sent)
    assert server.connections == 2
    assert len(inbox) == 1


async def test_reconnects_after_the_server_restarts(inbox: Inbox) -> None:
    first = await start_smtp_inbox(inbox)
    ch = EmailChannel(smtp_config(), port=first.port)
    try:
        assert isinstance(await ch.send(outbound()), Sent)
        await first.aclose()  # the pooled connection is now dead
        second = await start_smtp_inbox(inbox, port=first.port)
        try:
            assert isinstance(await ch.send(outbound()), Sent)
            assert second.connections == 1
        finally:
            await second.aclose()
    finally:
        await ch.aclose()
    assert len(inbox) == 2


async def test_pooled_connections_are_reused(channel: EmailChannel, server: SmtpInbox) -> None:
    for i in range(5):
        assert isinstance(await channel.send(outbound(key=f"k{i}")), Sent)
    assert server.connections == 1

    results = await asyncio.gather(*(channel.send(outbound(key=f"c{i}")) for i in range(12)))
    assert all(isinstance(r, Sent) for r in results)
    assert server.connections <= 2  # pool_size
    assert channel.connections_opened == server.connections
    assert len(server.received) == 17


@pytest.fixture
async def auth_server(inbox: Inbox) -> AsyncIterator[SmtpInbox]:
    fake = await start_smtp_inbox(inbox, username="crisisd", password=PASSWORD)
    yield fake
    await fake.aclose()


async def test_login_with_password(auth_server: SmtpInbox, inbox: Inbox) -> None:
    ch = EmailChannel(
        smtp_config(username="crisisd", password=SecretStr(PASSWORD)), port=auth_server.port
    )
    with capture_logs() as logs:
        result = await ch.send(outbound())
        await ch.aclose()
    assert isinstance(result, Sent)
    assert len(inbox) == 1
    assert PASSWORD not in repr(logs)


async def test_wrong_password_fails_the_channel_without_leaking_it(
    auth_server: SmtpInbox, inbox: Inbox
) -> None:
    wrong = PASSWORD + "-wrong"
    ch = EmailChannel(
        smtp_config(username="crisisd", password=SecretStr(wrong)), port=auth_server.port
    )
    with capture_logs() as logs:
        result = await ch.send(outbound())
        await ch.aclose()

    assert isinstance(result, Failed)
    assert result.scope == "channel"
    assert "535" in result.reason
    assert auth_server.auth_failures >= 1  # aiosmtplib tries each offered mechanism
    for text in (result.reason, repr(logs)):
        assert wrong not in text
        assert PASSWORD not in text
    assert any(e["event"] == "email.failed" for e in logs)
    assert len(inbox) == 0


async def test_no_login_where_the_server_requires_one_fails_the_channel(
    auth_server: SmtpInbox,
) -> None:
    ch = EmailChannel(smtp_config(), port=auth_server.port)
    result = await ch.send(outbound())
    await ch.aclose()
    assert isinstance(result, Failed)
    assert result.scope == "channel"
    assert "530" in result.reason


async def test_send_after_close_is_retried_not_raised(channel: EmailChannel) -> None:
    await channel.aclose()
    assert isinstance(await channel.send(outbound()), Retry)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (
            aiosmtplib.SMTPSenderRefused(553, "sender not allowed", "x@y.ir"),
            ("failed", "channel"),  # our From is refused: every message would fail
        ),
        (aiosmtplib.SMTPDataError(554, "message rejected as spam"), ("failed", "recipient")),
        (aiosmtplib.SMTPDataError(452, "insufficient storage"), ("retry", None)),
        (aiosmtplib.SMTPHeloError(554, "go away"), ("failed", "channel")),
        (aiosmtplib.SMTPAuthenticationError(454, "try later"), ("retry", None)),
        (aiosmtplib.SMTPAuthenticationError(535, "bad credentials"), ("failed", "channel")),
        (aiosmtplib.SMTPServerDisconnected("gone"), ("retry", None)),
        (aiosmtplib.SMTPReadTimeoutError("slow"), ("retry", None)),
        (ConnectionRefusedError(111, "refused"), ("retry", None)),
        (aiosmtplib.SMTPNotSupported("SMTP AUTH extension not supported"), ("failed", "channel")),
        (RuntimeError("surprise"), ("retry", None)),
    ],
)
def test_classify(exc: BaseException, expected: tuple[str, str | None]) -> None:
    result = classify(exc)
    if expected[0] == "retry":
        assert isinstance(result, Retry)
    else:
        assert isinstance(result, Failed)
        assert result.scope == expected[1]


def test_a_secret_echoed_by_the_server_is_masked() -> None:
    secret = "echoed-Secret-8d1f"
    redaction.register(secret)  # config loading registers every resolved secret
    result = classify(aiosmtplib.SMTPAuthenticationError(535, f"bad password {secret}"))
    assert isinstance(result, Failed)
    assert secret not in result.reason


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    command = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1"
    command += " -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost"
    subprocess.run(
        [*command.split(), "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True
    )
    return cert, key


@pytest.fixture
async def tls_server(inbox: Inbox, certificate: tuple[Path, Path]) -> AsyncIterator[SmtpInbox]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    fake = await start_smtp_inbox(inbox, username="crisisd", password=PASSWORD, tls_context=context)
    yield fake
    await fake.aclose()


async def test_starttls_then_login(
    tls_server: SmtpInbox, certificate: tuple[Path, Path], inbox: Inbox
) -> None:
    trust = ssl.create_default_context(cafile=str(certificate[0]))
    config = smtp_config(tls="starttls", username="crisisd", password=SecretStr(PASSWORD))
    ch = EmailChannel(config, port=tls_server.port, tls_context=trust)
    result = await ch.send(outbound())
    await ch.aclose()

    assert isinstance(result, Sent)
    (transaction,) = tls_server.received
    assert transaction.tls
    assert len(inbox) == 1


async def test_password_is_not_sent_in_the_clear(tls_server: SmtpInbox) -> None:
    config = smtp_config(tls="none", username="crisisd", password=SecretStr(PASSWORD))
    ch = EmailChannel(config, port=tls_server.port)
    result = await ch.send(outbound())
    await ch.aclose()

    assert isinstance(result, Failed)  # the server offers AUTH only after STARTTLS
    assert result.scope == "channel"
    assert PASSWORD not in result.reason
    assert tls_server.received == []
