"""Email over SMTP (aiosmtplib): one message per recipient, a small pool of kept-open connections.

Every message goes to exactly one address (``OutboundMessage.address``): press and
authorities never see who else was told, so there is no To list, Cc or Bcc.
The Message-ID is derived from the message key, so a resend after a crash or a
retry carries the same id and the recipient's mail system can drop the duplicate.

Outcomes (see :mod:`crisisd.channels.base`)::

    accepted (250 after DATA)             Sent(queue id from the reply, else Message-ID)
    4xx at any stage                      Retry(30 s)
    5xx on RCPT                           Failed(recipient)
    5xx on MAIL FROM or DATA              Failed(recipient)
    530/534/535/538 (auth), 5xx greeting  Failed(channel)
    refused, timeout, disconnected        Retry(5 s, unreachable); the connection leaves the
                                          pool (the dispatcher's circuit breaker counts these)

Timeouts: reaching the server (TCP, greeting, EHLO, STARTTLS, login) within
``smtp.connect_timeout_seconds``, each command within ``smtp.timeout_seconds``, the whole
message within ``smtp.send_timeout_seconds`` (or the sum of those steps, if less).
:meth:`EmailChannel.probe` checks a server without sending (connect, EHLO, QUIT).
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections.abc import Callable
from typing import Literal

import aiosmtplib
import structlog

from crisisd import redaction
from crisisd.channels.base import ChannelLimits, Failed, OutboundMessage, Retry, SendResult, Sent
from crisisd.channels.mailflat import Flattener
from crisisd.channels.mailflat import build_message as build_message
from crisisd.channels.mailflat import message_id as message_id
from crisisd.config import Smtp

_log = structlog.get_logger(__name__)

RETRY_TEMPORARY = 30.0  # a 4xx reply: greylisting, rate limit, full queue
RETRY_CONNECTION = 5.0  # the server is unreachable or the link broke
NOOP_AFTER_IDLE = 30.0  # seconds idle before a pooled connection is checked with NOOP
_AUTH_CODES = frozenset({530, 534, 535, 538})
_QUEUE_ID = re.compile(r"queued as ([A-Za-z0-9._-]+)", re.IGNORECASE)


class EmailChannel:
    """Sends each message to one address through a pool of persistent SMTP connections.

    ``host``/``port`` override the configured server (the sandbox); ``tls_context``
    replaces the default verifying context (a private CA, or the sandbox's certificate).
    """

    kind = "email"

    def __init__(
        self,
        smtp: Smtp,
        *,
        host: str | None = None,
        port: int | None = None,
        name: str = "email",
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.name = name
        self._smtp = smtp
        self._host = host if host is not None else smtp.host
        self._port = port if port is not None else smtp.port
        self._tls_context = tls_context  # None: system CAs, certificates verified
        # Reaching the server (TCP, greeting, EHLO, STARTTLS, AUTH) has its own, shorter
        # bound; MAIL, RCPT and DATA each get smtp.timeout_seconds; the whole send is bounded
        # too, so a server that accepts the connection and then says nothing, or drips its
        # replies, cannot hold a worker.
        steps = smtp.connect_timeout_seconds + 3 * smtp.timeout_seconds  # MAIL, RCPT, DATA
        self._deadline = min(smtp.send_timeout_seconds, steps)
        self._connect_timeout = min(smtp.connect_timeout_seconds, self._deadline)
        self.limits = ChannelLimits(
            max_length=100_000,
            rate_per_second=smtp.rate_per_second,
            concurrency=smtp.pool_size,
            timeout_seconds=self._deadline + 1.0,
            connect_timeout_seconds=self._connect_timeout,
            trip_after=smtp.breaker.trip_after,
            probe_seconds=smtp.breaker.probe_seconds,
        )
        self._slots = asyncio.Semaphore(smtp.pool_size)
        self._flattener = Flattener(smtp.sender)
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []
        self._closed = False
        self.connections_opened = 0  # for health reports and tests

    async def send(self, msg: OutboundMessage) -> SendResult:
        """Deliver ``msg`` to its one address; classify every outcome, never raise."""
        log = _log.bind(channel=self.name, incident_id=msg.incident_id, key=msg.key)
        if self._closed:
            return Retry(RETRY_CONNECTION, "email channel is shutting down")
        try:
            mail = self._flattener.wire(msg)
        except ValueError as exc:
            invalid = Failed(self._clean(f"cannot build the email: {exc}"))
            log.warning("email.invalid", reason=invalid.reason)
            return invalid
        result: SendResult
        async with self._slots:  # waiting for a free connection is not part of the deadline
            try:
                async with asyncio.timeout(self._deadline):
                    result = await self._transact(mail, msg.address)
            except Exception as exc:  # noqa: BLE001 — send() classifies every failure, never raises
                result = self._classify(exc)
        if isinstance(result, Sent):
            log.info("email.sent", provider_id=result.provider_id)
        elif isinstance(result, Retry):
            log.warning("email.retrying", reason=result.reason, after=result.after)
        else:
            log.warning("email.failed", reason=result.reason, scope=result.scope)
        return result

    async def probe(self) -> str | None:
        """Whether the server answers, sending nothing: connect, greeting, EHLO (STARTTLS and
        login as configured), QUIT. None when it did; otherwise why not."""
        try:
            conn = await self._connect()
        except Exception as exc:  # noqa: BLE001 - a probe reports, it never raises
            result = self._classify(exc)
            return result.reason if not isinstance(result, Sent) else None
        try:
            await conn.quit(timeout=self._connect_timeout)
        except (aiosmtplib.SMTPException, OSError):
            pass  # it answered the greeting and EHLO: that is what was asked
        finally:
            conn.close()
        return None

    async def aclose(self) -> None:
        """QUIT every pooled connection; connections in use are closed when returned."""
        self._closed = True
        idle, self._idle = self._idle, []
        for conn, _since in idle:
            try:
                await conn.quit(timeout=min(self._smtp.timeout_seconds, 5.0))
            except (aiosmtplib.SMTPException, OSError):
                pass  # it is going away either way
            finally:
                conn.close()

    async def _transact(self, mail: tuple[bytes, str], address: str) -> SendResult:
        """One mail transaction on a pooled connection (the caller holds a slot)."""
        wire, ident = mail
        conn = await self._checkout()
        reusable = False
        try:
            # Flattened by us, refolding off: aiosmtplib's send_message would refold the
            # encoded headers (crisisd.channels.mailheaders) with the standard library.
            _errors, reply = await conn.sendmail(self._smtp.sender.address, [address], wire)
            reusable = True
        except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused):
            reusable = True  # a refusal is a reply; aiosmtplib has sent RSET
            raise
        finally:
            self._checkin(conn, reusable)
        found = _QUEUE_ID.search(reply)
        return Sent(found.group(1) if found else ident)

    async def _checkout(self) -> aiosmtplib.SMTP:
        """A connected SMTP client: an idle pooled one (NOOP-checked if idle long) or a new one."""
        while self._idle:
            conn, since = self._idle.pop()
            if not conn.is_connected:
                continue  # the server hung up while it was idle
            if time.monotonic() - since < NOOP_AFTER_IDLE:
                return conn
            try:
                await conn.noop()
                return conn
            except (aiosmtplib.SMTPException, OSError):
                conn.close()
        return await self._connect()

    async def _connect(self) -> aiosmtplib.SMTP:
        smtp = self._smtp
        password = smtp.password.get_secret_value() if smtp.password else None
        conn = aiosmtplib.SMTP(
            hostname=self._host,
            port=self._port,
            username=smtp.username,
            password=password if smtp.username else None,
            timeout=smtp.timeout_seconds,
            use_tls=smtp.tls == "tls",
            start_tls=smtp.tls == "starttls",
            tls_context=self._tls_context,
        )
        try:
            async with asyncio.timeout(self._connect_timeout):
                await conn.connect()
        except BaseException:
            conn.close()
            raise
        self.connections_opened += 1
        return conn

    def _checkin(self, conn: aiosmtplib.SMTP, reusable: bool) -> None:
        if reusable and conn.is_connected and not self._closed:
            self._idle.append((conn, time.monotonic()))
        else:
            conn.close()

    def _classify(self, exc: BaseException) -> SendResult:
        return classify(exc, self._clean)

    def _clean(self, text: str) -> str:
        """Reasons pass here: the SMTP password is masked even if a server echoed it."""
        secret = self._smtp.password.get_secret_value() if self._smtp.password else ""
        if secret:
            text = text.replace(secret, redaction.MASK)
        return redaction.redact(text)


def _reply(code: int, message: str) -> str:
    first = message.strip().splitlines()[0] if message.strip() else ""
    return f"{code} {first[:200]}".strip()


def classify(exc: BaseException, tidy: Callable[[str], str] = redaction.redact) -> SendResult:
    """Map an aiosmtplib/OS exception to Retry/Failed (see the module docstring).

    ``tidy`` cleans every reason (masks secrets) before it leaves the channel.
    """
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        refused = exc.recipients[0] if exc.recipients else None
        code = refused.code if refused else 550
        text = _reply(code, refused.message if refused else "recipient refused")
        if 400 <= code < 500:
            return Retry(RETRY_TEMPORARY, tidy(f"recipient deferred: {text}"))
        return Failed(tidy(f"recipient refused: {text}"), "recipient")
    if isinstance(exc, aiosmtplib.SMTPSenderRefused) and exc.code >= 500:
        # Our own From address is refused: every message would fail the same way.
        return Failed(tidy(f"sender refused: {_reply(exc.code, exc.message)}"), "channel")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return _classify_reply(exc, tidy)
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        # aiosmtplib's wording for a non-ASCII address on a server without SMTPUTF8:
        # that address cannot be reached this way, the channel itself is fine.
        scope: Literal["recipient", "channel"] = (
            "recipient" if "non-ASCII" in exc.message else "channel"
        )
        return Failed(tidy(f"server does not support what is needed: {exc.message}"), scope)
    if isinstance(exc, TimeoutError):  # includes SMTPTimeoutError and the send deadline
        return Retry(RETRY_CONNECTION, "SMTP server did not answer in time", unreachable=True)
    if isinstance(exc, OSError):  # refused, reset, TLS, SMTPServerDisconnected/ConnectError
        detail = exc.message if isinstance(exc, aiosmtplib.SMTPException) else type(exc).__name__
        reason = tidy(f"SMTP connection problem: {detail}")
        return Retry(RETRY_CONNECTION, reason, unreachable=True)
    if isinstance(exc, aiosmtplib.SMTPException):
        return Failed(tidy(f"SMTP error: {exc.message}"), "channel")
    if isinstance(exc, ValueError):
        return Failed(tidy(f"address cannot be sent: {exc}"), "recipient")
    return Retry(RETRY_CONNECTION, f"unexpected {type(exc).__name__} while sending email")


def _classify_reply(exc: aiosmtplib.SMTPResponseException, fix: Callable[[str], str]) -> SendResult:
    text = _reply(exc.code, exc.message)
    if exc.code in _AUTH_CODES or isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        if 400 <= exc.code < 500:
            return Retry(RETRY_TEMPORARY, fix(f"SMTP login deferred: {text}"))
        return Failed(fix(f"SMTP login refused — check smtp.username/password: {text}"), "channel")
    if 400 <= exc.code < 500:
        return Retry(RETRY_TEMPORARY, fix(f"SMTP server deferred: {text}"))
    if isinstance(exc, aiosmtplib.SMTPHeloError | aiosmtplib.SMTPConnectResponseError):
        return Failed(fix(f"SMTP server refused the session: {text}"), "channel")
    if exc.code < 0:  # malformed reply: the link is suspect, not the message
        return Retry(RETRY_CONNECTION, fix(f"SMTP server sent a malformed reply: {text}"))
    stage = "sender" if isinstance(exc, aiosmtplib.SMTPSenderRefused) else "message"
    return Failed(fix(f"SMTP server refused the {stage}: {text}"), "recipient")
