"""Every resolved secret is registered here so no output path can leak it.

Config loading registers each secret value it resolves; the log processor, error
formatting and reports pass text through :func:`redact`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, MutableMapping
from typing import Any

MASK = "***"
_MIN_LEN = 4  # shorter values would mask ordinary words; such "secrets" are refused at load
_lock = threading.Lock()
_secrets: set[str] = set()


def register(value: str) -> None:
    """Remember ``value`` as secret for the life of the process."""
    if len(value) >= _MIN_LEN:
        with _lock:
            _secrets.add(value)


def known() -> frozenset[str]:
    with _lock:
        return frozenset(_secrets)


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    # Longest first, so a secret that contains another is masked whole.
    for secret in sorted(known(), key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def redact_value(value: Any) -> Any:
    """Redact strings inside nested dicts/lists/tuples; other values pass through."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_value(v) for v in value)
    return value


def structlog_processor(
    _logger: object, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: masks every registered secret in every field."""
    for key, value in list(event_dict.items()):
        if isinstance(value, BaseException):
            event_dict[key] = redact(f"{type(value).__name__}: {value}")
        else:
            event_dict[key] = redact_value(value)
    return event_dict
