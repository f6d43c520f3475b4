"""What a failed Bot API request means for delivery (Telegram and Bale alike).

The outbox's client (:mod:`crisisd.channels.botapi`) reads an answer as python-telegram-bot
22 does (``telegram/request/_baserequest.py``) and raises :class:`BotApiError` with the
HTTP status, the description and the response parameters, and ``BotApiUnreachable`` for a
timeout or a lost connection. A 400 is read by its description, since Telegram and Bale use
one status for faults of the recipient, of the message and (Bale) of pacing::

    400 about the recipient (chat or user not found, no rights)  Failed(recipient)
    400 about the message itself (can't parse entities, too
        long, empty text, a keyboard that cannot be read)        Failed(message): the text
                                                                 near the fault in the reason
    400 or 429 that says "slow down" (Bale: "bot limit exceed",  Retry(RATE_LIMITED,
        with no retry_after)                                     scope="channel")
    400 anything else (Bale's own refusals)                      Retry: a few tries, then the
                                                                 dispatcher fails over
    403 blocked, kicked, deactivated                             Failed(recipient)
    401/404 token or URL refused                                 Failed(channel)
    any status with parameters.retry_after                       Retry(retry_after,
                                                                 scope="channel")
    timeouts, lost or refused connections                        Retry(RETRY_TRANSIENT,
                                                                 unreachable=True)
    5xx, Bale's 420 flood, unknown codes, replies that are not
    JSON or carry no result                                      Retry(RETRY_TRANSIENT)

A 429 names no scope: the Bot API answers ``{"error_code": 429, "parameters":
{"retry_after": N}}`` whether the bot broke a chat's limit or its overall one
(https://core.telegram.org/bots/api#responseparameters; the FAQ's limits are per chat,
per group and per bot: https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this).
So a 429 is read as the whole bot's, as python-telegram-bot's own AIORateLimiter does ("A
RetryAfter exception will halt *all* requests for retry_after + 0.1 seconds",
``telegram/ext/_aioratelimiter.py``); the dispatcher narrows it to the chat when its pacer
knows a chat-specific cause (delivery/pacing.py ``chat_explains``).

Nothing here ever says "sent". Reasons may still hold the token: the channel scrubs them;
the quoted text is cleaned (``clean``) *before* it is cut, so no part of a secret remains.
Bale's wording: python-bale-bot ``bale/error.py`` ("no such group or user", "bot limit
exceed", "local_rate_limited", "permission_denied"); Balethon
``balethon/errors/rpc_errors.py`` (420 Flood).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

import aiohttp

from crisisd.channels.base import Failed, Retry
from crisisd.channels.botapi import BotApiError, BotApiUnreachable, describe

if TYPE_CHECKING:  # PTB is the officers' bot's: never imported for the outbox
    from telegram.error import RetryAfter

RETRY_TRANSIENT = 2.0  # seconds: 5xx, timeouts, broken connections, unreadable replies
RETRY_REFUSED = 10.0  # a 400 nobody documents: maybe passing, maybe not; a few tries
RATE_LIMITED = 5.0  # "slow down" without a retry_after
SNIPPET = 48  # characters of the refused text quoted in a reason

_RECIPIENT = (
    "chat not found",
    "user not found",
    "peer_id_invalid",
    "no such group or user",  # Bale
    "bot was blocked",
    "bot was kicked",
    "user is deactivated",
    "bot can't initiate conversation",
    "not enough rights",
    "have no rights to send",
    "need administrator rights",
    "chat_write_forbidden",
    "group chat was deactivated",
    "permission_denied",  # Bale
)
_MESSAGE = (
    "can't parse entities",
    "can't find end",
    "unsupported start tag",
    "message is too long",
    "text is too long",
    "message text is empty",
    "text must be non-empty",
    "button_data_invalid",
    "can't parse inline keyboard",
    "reply keyboard markup",
    "inline keyboard",
    "parse_mode",
)
_SLOW_DOWN = ("bot limit exceed", "local_rate_limited", "too many requests", "flood")
_BYTE_OFFSET = re.compile(r"byte offset (\d+)")


def _same(text: str) -> str:
    return text


def classify(
    exc: BaseException, text: str = "", clean: Callable[[str], str] = _same
) -> Retry | Failed:
    """What a failed sendMessage of ``text`` means. A move to a supergroup is the caller's to
    follow; ``clean`` takes secrets out of the text before a piece of it is quoted."""
    if isinstance(exc, BotApiError):
        return refusal(exc, text, clean)
    if isinstance(exc, BotApiUnreachable):  # what the client makes of aiohttp's errors
        return Retry(RETRY_TRANSIENT, exc.reason, unreachable=exc.lost)
    if isinstance(exc, TimeoutError):  # asyncio's and aiohttp's (ServerTimeoutError)
        return Retry(RETRY_TRANSIENT, "timed out waiting for the Bot API", unreachable=True)
    if isinstance(exc, aiohttp.ClientConnectionError | aiohttp.ClientPayloadError | OSError):
        # refused, reset, dropped mid-answer: the server cannot be reached (the breaker counts it)
        return Retry(RETRY_TRANSIENT, f"network error: {describe(exc)}", unreachable=True)
    if isinstance(exc, aiohttp.ClientError):
        return Retry(RETRY_TRANSIENT, f"network or server error: {describe(exc)}")
    return Retry(after=RETRY_TRANSIENT, reason=f"unexpected {describe(exc)}")


def refusal(
    err: BotApiError, text: str = "", clean: Callable[[str], str] = _same
) -> Retry | Failed:
    """A Bot API answer that is not a success, by its parameters first, then its status (the
    order of PTB's ``_request_wrapper``)."""
    said = err.description
    if err.retry_after:
        after = err.retry_after
        return Retry(after, f"flood control: retry after {after:g} s", scope="channel")
    if err.migrate_to_chat_id:
        return Failed(f"group moved to supergroup {err.migrate_to_chat_id}: update the address")
    if err.unreadable:  # a 2xx that is no Bot API answer
        return Retry(RETRY_TRANSIENT, f"unusable reply from the Bot API: {said}")
    if err.status == 403:  # Telegram's description starts "Forbidden: " itself: said once
        return Failed(f"forbidden: {said.removeprefix('Forbidden: ')}")
    if err.status in (401, 404):
        return Failed(
            f"the Bot API rejected the token or URL ({said}): check token and base_url",
            scope="channel",
        )
    if err.status == 400:
        return bad_request(said, text, clean)
    if err.status == 409:  # Conflict: another getUpdates or a webhook; not the message's
        return Retry(RETRY_TRANSIENT, f"unusable reply from the Bot API: {said}")
    if _slow_down(said):
        # Bale's 429 "bot limit exceed" has no retry_after (the text: python-bale-bot
        # bale/error.py; docs/messengers.md [B4]); Bale's 420 "Flood" (Balethon)
        return Retry(RATE_LIMITED, f"asked to slow down: {said}", scope="channel")
    return Retry(RETRY_TRANSIENT, f"network or server error: {said} (HTTP {err.status})")


def bad_request(description: str, text: str, clean: Callable[[str], str] = _same) -> Retry | Failed:
    """A 400, by what it says."""
    said = description.lower()
    if "token not found" in said:  # Bale's 400 for a bad token (python-bale-bot: _error.py)
        return Failed(
            f"the Bot API rejected the token ({description}): check token and base_url",
            scope="channel",
        )
    if any(phrase in said for phrase in _MESSAGE):
        near = snippet(text, said, clean)
        return Failed(f"the messenger refused the text ({description}); near: «{near}»", "message")
    if any(phrase in said for phrase in _RECIPIENT):
        return Failed(f"bad request: {description}")
    if _slow_down(said):
        return Retry(RATE_LIMITED, f"asked to slow down: {description}", scope="channel")
    return Retry(after=RETRY_REFUSED, reason=f"refused, reason not known: {description}")


def _slow_down(description: str) -> bool:
    said = description.lower()
    return any(phrase in said for phrase in _SLOW_DOWN)


def snippet(text: str, description: str = "", clean: Callable[[str], str] = _same) -> str:
    """A short piece of ``text`` on one line, cleaned first: around the byte offset the
    error names, or its start."""
    cleaned, centre = clean(text), 0
    found = _BYTE_OFFSET.search(description)
    if found:
        head = text.encode("utf-8")[: int(found.group(1))].decode("utf-8", "ignore")
        centre = max(0, len(clean(head)) - SNIPPET // 2)
    piece = " ".join(cleaned[centre : centre + SNIPPET + 8].split())
    return piece if len(piece) <= SNIPPET else piece[: SNIPPET - 1] + "…"


def retry_after_seconds(exc: RetryAfter) -> float:
    """PTB's RetryAfter's wait in seconds (the officers' bot), without touching PTB's
    deprecated int property."""
    from telegram.warnings import PTBDeprecationWarning  # only the bot has PTB loaded

    raw = getattr(exc, "_retry_after", None)
    if isinstance(raw, timedelta):
        return raw.total_seconds()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
