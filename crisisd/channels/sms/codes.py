"""The vocabulary of the per-provider status tables, and how an answer's envelope is read.

Every provider module (``kavenegar``, ``ghasedak``, ``smsir``) declares two tables as data:

- ``SEND_STATUS``: every status code its documentation lists for a send, mapped to a
  :class:`Verdict` with the documented meaning (and the source in a comment);
- ``DELIVERY``: every delivery state its status API documents, mapped to a
  :class:`Delivery` state.

A send verdict is one of four::

    SENT       the provider took the message (only with a message id we can read)
    RETRY      transient (server busy, rate limit): try again after a while
    RECIPIENT  this number or this text is refused: permanent for this message;
               the dispatcher falls over to the person's next channel
    DOWN       about the account, the key, the calling IP, the credit or the sender line:
               every message would fail the same way, so the gateway is down and the
               next gateway is tried

A code the table does not list is never SENT: it is retried (a few times, then the
gateway counts as down and the next one takes over). The tables are plain mappings so a
bulk send (one request, many numbers) classifies each number's result the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class Verdict(StrEnum):
    """What a provider's send status means for crisisd (see the module docstring)."""

    SENT = "sent"
    RETRY = "retry"
    RECIPIENT = "recipient"
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class Status:
    """One documented status code: its verdict and what the provider says it means."""

    verdict: Verdict
    meaning: str
    rate_limit: bool = False  # a RETRY that means "too many calls": wait longer


SendStatusTable = Mapping[int, Status]


def sent(meaning: str) -> Status:
    return Status(Verdict.SENT, meaning)


def retry(meaning: str, *, rate_limit: bool = False) -> Status:
    return Status(Verdict.RETRY, meaning, rate_limit)


def recipient(meaning: str) -> Status:
    return Status(Verdict.RECIPIENT, meaning)


def down(meaning: str) -> Status:
    return Status(Verdict.DOWN, meaning)


class Delivery(StrEnum):
    """Where a sent SMS is, as a provider's status API reports it."""

    DELIVERED = "delivered"  # reached the handset: final
    UNDELIVERED = "undelivered"  # will not reach it (failed, blocked, cancelled): final
    EXPIRED = "expired"  # the network gave up waiting for the handset: final
    PENDING = "pending"  # queued, at the operator, on its way: ask again later
    UNKNOWN = "unknown"  # the provider does not know the id, or a state it does not document

    @property
    def final(self) -> bool:
        return self in (Delivery.DELIVERED, Delivery.UNDELIVERED, Delivery.EXPIRED)


DeliveryTable = Mapping[int, Delivery]


@dataclass(frozen=True, slots=True)
class Receipt:
    """One message's delivery state, from the provider's status API."""

    message_id: str  # the provider's id (without crisisd's "<gateway>:" prefix)
    state: Delivery
    at: datetime | None = None  # the provider's time for this state, when it gives one
    detail: str = ""  # the provider's own code and text, for the audit trail


@dataclass(frozen=True, slots=True)
class Receipts:
    """The answer to one status query: a receipt per id asked, or why none could be had.

    ``error`` is set (secret-free) when the provider could not be asked or answered
    something unreadable; ids without a receipt are then simply asked again later.
    """

    receipts: Mapping[str, Receipt]
    error: str | None = None


def delivery_of(table: DeliveryTable, code: int | None) -> Delivery:
    """The state ``code`` means; UNKNOWN for a code the table does not document."""
    if code is None:
        return Delivery.UNKNOWN
    return table.get(code, Delivery.UNKNOWN)


# -- reading envelopes ------------------------------------------------------------------


def field(data: object, *path: str) -> Any:
    """The value at ``path`` in nested JSON objects, keys matched case-insensitively.

    Providers' documentation and their answers disagree on case (Ghasedak documents
    ``IsSuccess``/``StatusCode`` while its SDKs read ``isSuccess``); reading both is the
    only safe way. ``None`` when any step is missing or not an object.
    """
    for key in path:
        if not isinstance(data, Mapping):
            return None
        if key in data:
            data = data[key]
            continue
        folded = key.casefold()
        data = next((v for k, v in data.items() if str(k).casefold() == folded), None)
    return data


def code_of(value: object) -> int | None:
    """A status code as the provider sent it: an int, or digits in a string; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def id_of(value: object) -> str | None:
    """A provider message id that can be recorded: a non-zero number or non-empty text.

    SMS.ir documents ``0`` for a number on its blacklist and ``null`` for a refused one
    in ``messageIds``; neither is a message that went out.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value) if value > 0 else None
    if isinstance(value, str) and value.strip() and value.strip() != "0":
        return value.strip()
    return None


def unix_time(value: object) -> datetime | None:
    """A Unix time (seconds, UTC) from a provider's answer, or None."""
    seconds = code_of(value)
    if seconds is None or seconds <= 0:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def ids_by_number(
    sent: Sequence[str], entries: Sequence[tuple[object, object]]
) -> list[str | None]:
    """Each sent number's message id in a bulk answer given as ``(number, id)`` entries.

    Read in the order sent when the answer lists one entry per number in that order (an
    entry without a number is taken as the one sent there); otherwise matched by number
    (its last ten digits, so ``0912…`` and ``98912…`` agree). A number the answer does not
    name, or names without a readable id, gets ``None``: it is never counted as sent.
    """
    keys = [_tail(n) for n in sent]
    if len(entries) == len(sent) and all(
        number is None or _tail(number) == key
        for (number, _), key in zip(entries, keys, strict=True)
    ):
        return [id_of(message_id) for _, message_id in entries]
    found: dict[str, list[str | None]] = {}
    for number, message_id in entries:
        if number is not None:
            found.setdefault(_tail(number), []).append(id_of(message_id))
    return [found[key].pop(0) if found.get(key) else None for key in keys]


def _tail(number: object) -> str:
    return "".join(c for c in str(number) if c.isdigit())[-10:]
