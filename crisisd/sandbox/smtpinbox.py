"""A fake mail server: real SMTP (aiosmtpd) on loopback, recording every message in the Inbox.

It runs inside the caller's event loop (``loop.create_server`` with aiosmtpd's
``SMTP`` protocol), beside the other fakes, instead of aiosmtpd's ``Controller``
which starts a thread with a loop of its own.

Faults (``SmtpInbox.faults``) are taken once per mail transaction, at MAIL FROM::

    error, garbage, no_credit   451 on DATA (temporary; the message is not recorded)
    permanent                   550 on RCPT
    rate_limit                  421 on MAIL FROM, then the server closes the connection
    hang                        DATA is never answered
    drop                        the connection is closed after the DATA content arrives
    latency_ms                  DATA is answered that much later

With a username and password the server offers AUTH PLAIN/LOGIN and refuses MAIL FROM
until the client has logged in; without ``tls_context`` AUTH is offered in the clear
(loopback only), with it the server offers STARTTLS and AUTH only after it.
"""

from __future__ import annotations

import asyncio
import email
import hmac
import logging
import ssl
import weakref
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from crisisd.sandbox.faults import FaultMode, Faults
from crisisd.sandbox.inbox import Inbox

_KEPT_HEADERS = (
    "From",
    "To",
    "Cc",
    "Bcc",
    "Subject",
    "Date",
    "Message-ID",
    "Auto-Submitted",
    "Content-Type",
    "Content-Language",
    "X-Crisisd-Incident",
    "X-Crisisd-Drill",
)


class _QuietLoginData(logging.Filter):
    """aiosmtpd logs a deprecation notice of its own on every successful AUTH; drop it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "login_data is deprecated" not in record.getMessage()


_QUIET = _QuietLoginData()


@dataclass(frozen=True, slots=True)
class Received:
    """One accepted mail transaction as it crossed the wire (for tests)."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    peer: str
    tls: bool  # the transaction ran after STARTTLS


class SmtpInbox:
    """A running fake SMTP server; ``aclose()`` stops it and closes open connections."""

    def __init__(
        self,
        inbox: Inbox,
        *,
        username: str | None = None,
        password: str | None = None,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.inbox = inbox
        self.faults = Faults()
        self.port = 0
        self.host = "127.0.0.1"
        self.connections = 0  # connections accepted since start
        self.received: list[Received] = []
        self.auth_failures = 0
        self._username = username
        self._password = password
        self._tls_context = tls_context
        self._server: asyncio.Server | None = None
        self._protocols: weakref.WeakSet[SMTP] = weakref.WeakSet()
        self._handler = _Handler(self)

    @property
    def auth_required(self) -> bool:
        return self._username is not None

    def _protocol(self) -> SMTP:
        loop = asyncio.get_running_loop()
        self.connections += 1
        proto = SMTP(
            self._handler,
            hostname="sandbox.crisisd.local",
            ident="crisisd sandbox SMTP",
            loop=loop,
            enable_SMTPUTF8=True,
            tls_context=self._tls_context,
            # AUTH in the clear only on a TLS-less loopback fake that has credentials.
            auth_require_tls=self._tls_context is not None or not self.auth_required,
            authenticator=self._authenticate,
            timeout=60,
        )
        self._protocols.add(proto)
        return proto

    def _authenticate(
        self, _server: SMTP, _session: Session, _envelope: Envelope, _mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword) or self._username is None:
            return AuthResult(success=False, handled=False)
        login = data.login.decode("utf-8", "replace")
        password = data.password.decode("utf-8", "replace")
        # Both compared every time, so timing says nothing about which one was wrong.
        user_ok = hmac.compare_digest(login.encode(), self._username.encode())
        password_ok = hmac.compare_digest(password.encode(), (self._password or "").encode())
        ok = user_ok and password_ok
        if not ok:
            self.auth_failures += 1
        return AuthResult(success=ok, handled=False, auth_data=login if ok else None)

    async def start(self, host: str, port: int) -> None:
        """Listen on ``host:port`` inside the running loop (``port=0``: any free port)."""
        logging.getLogger("mail.log").addFilter(_QUIET)  # idempotent: the same filter object
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, host, port)
        self.host = host
        self.port = self._server.sockets[0].getsockname()[1]

    async def aclose(self) -> None:
        """Stop listening and close every open connection (cancelling hung transactions)."""
        if self._server is not None:
            self._server.close()
        for proto in list(self._protocols):
            if proto.transport is not None:
                proto.transport.close()
        if self._server is not None:
            await self._server.wait_closed()
        # Let connection_lost run so the per-connection tasks finish inside this loop.
        for _ in range(50):
            if all(p.transport is None for p in self._protocols):
                break
            await asyncio.sleep(0.01)


class _Handler:
    """aiosmtpd hooks: faults, the AUTH requirement, and recording accepted mail."""

    def __init__(self, owner: SmtpInbox) -> None:
        self._owner = owner
        # The fault taken at MAIL FROM, applied later in the same transaction.
        self._pending: weakref.WeakKeyDictionary[Envelope, FaultMode] = weakref.WeakKeyDictionary()

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self._owner.auth_required and not session.authenticated:
            return "530 5.7.0 Authentication required"
        fault = self._owner.faults.take()
        if fault == "rate_limit":
            # 421 means the server is closing the channel; close it once the reply is out.
            transport = server.transport
            if transport is not None:
                asyncio.get_running_loop().call_soon(transport.close)
            return "421 4.7.0 Too many messages, slow down"
        self._pending[envelope] = fault
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self._pending.get(envelope) == "permanent":
            return "550 5.1.1 Recipient address rejected: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        fault = self._pending.pop(envelope, "none")
        faults = self._owner.faults
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        if fault == "hang":
            await asyncio.Event().wait()  # cancelled when the client or aclose() hangs up
        if fault == "drop":
            if server.transport is not None:
                server.transport.close()
            await asyncio.Event().wait()  # connection_lost cancels this
        if fault in ("error", "garbage", "no_credit"):
            return "451 4.3.0 Temporary failure, please try again later"
        queue_id = self._record(session, envelope)
        return f"250 2.0.0 Ok: queued as {queue_id}"

    def _record(self, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        owner = self._owner
        owner.received.append(
            Received(
                mail_from=envelope.mail_from or "",
                rcpt_tos=tuple(envelope.rcpt_tos),
                raw=raw,
                peer=str(session.peer),
                tls=session.ssl is not None,
            )
        )
        parsed = email.message_from_bytes(raw, policy=default_policy)
        assert isinstance(parsed, EmailMessage)  # the default policy builds EmailMessage
        headers = {h: str(parsed[h]) for h in _KEPT_HEADERS if parsed[h] is not None}
        extra: dict[str, object] = {
            "message_id": str(parsed["Message-ID"] or ""),
            "raw_size": len(raw),
            "headers": headers,
        }
        subject = str(parsed["Subject"]) if parsed["Subject"] is not None else None
        ids = [
            owner.inbox.add(
                "smtp",
                "email",
                rcpt,
                _part(parsed, "plain") or "",
                subject=subject,
                html=_part(parsed, "html"),
                sender=envelope.mail_from or "",
                extra=extra,
            ).id
            for rcpt in envelope.rcpt_tos
        ]
        return f"SBX{ids[0]}" if ids else "SBX0"


def _part(message: EmailMessage, subtype: str) -> str | None:
    body = message.get_body(preferencelist=(subtype,))
    if body is None or not isinstance(body, EmailMessage):
        return None
    content = body.get_content()
    if not isinstance(content, str):
        return None
    # As a reader sees it: plain line ends, without the final newline MIME bodies end with.
    return content.replace("\r\n", "\n").removesuffix("\n")


async def start_smtp_inbox(
    inbox: Inbox,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    username: str | None = None,
    password: str | None = None,
    tls_context: ssl.SSLContext | None = None,
) -> SmtpInbox:
    """Start a fake SMTP server in the running loop; ``port=0`` picks a free port.

    ``tls_context`` (a server-side context with a certificate) enables STARTTLS.
    """
    fake = SmtpInbox(inbox, username=username, password=password, tls_context=tls_context)
    await fake.start(host, port)
    return fake
