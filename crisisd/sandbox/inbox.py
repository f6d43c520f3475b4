"""What the fakes delivered, per recipient and channel: read by tests and the inbox page."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True, slots=True)
class Delivered:
    """One message a fake accepted, as the recipient would see it."""

    id: int
    service: str  # bale, telegram, kavenegar, ghasedak, smsir, generic, smtp
    channel: str  # chat | sms | email
    to: str  # chat id, phone, email address
    text: str
    subject: str | None = None
    html: str | None = None
    sender: str = ""
    at: float = field(default_factory=time.time)
    extra: dict[str, object] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class Inbox:
    """An append-only, in-memory record shared by every fake in one sandbox."""

    def __init__(self) -> None:
        self._items: list[Delivered] = []
        self._ids = itertools.count(1)

    def add(self, service: str, channel: str, to: str, text: str, **kw: object) -> Delivered:
        item = Delivered(next(self._ids), service, channel, to, text, **kw)  # type: ignore[arg-type]
        self._items.append(item)
        return item

    def __iter__(self) -> Iterator[Delivered]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def query(self, service: str | None = None, to: str | None = None) -> list[Delivered]:
        return [
            d
            for d in self._items
            if (service is None or d.service == service) and (to is None or d.to == to)
        ]

    def clear(self) -> None:
        self._items.clear()
