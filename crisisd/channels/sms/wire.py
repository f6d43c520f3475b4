"""What the gateways share below the request: phone number forms, localids, Retry-After, and
a transport error told without its URL (which may carry an API key)."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

import aiohttp

MAX_RETRY_AFTER = 3600.0  # a Retry-After beyond an hour is not believed
_IR_MOBILE = re.compile(r"^\+98(9\d{9})$")


def describe_error(exc: BaseException) -> str:
    """A short, URL-free description of a transport error (the URL may carry a key)."""
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "connection dropped before an answer"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {exc.host}:{exc.port} ({exc.os_error.strerror or 'refused'})"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"HTTP error {exc.status} {exc.message}"
    if isinstance(exc, aiohttp.InvalidURL):
        return "invalid gateway URL"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def retry_after(headers: Mapping[str, str], default: float) -> float:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date), else ``default``."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return default
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return default
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def national_mobile(phone_e164: str) -> str:
    """ "+989121234567" -> "09121234567"; anything else is passed on for the provider to judge."""
    match = _IR_MOBILE.match(phone_e164)
    return "0" + match.group(1) if match else phone_e164.lstrip("+")


def short_mobile(phone_e164: str) -> str:
    """ "+989121234567" -> "9121234567" (SMS.ir's documented form)."""
    match = _IR_MOBILE.match(phone_e164)
    return match.group(1) if match else phone_e164.lstrip("+")


def localid_for(key: str) -> str:
    """A stable numeric id for a message key (< 2**60, fits a signed 64-bit ``long``).

    Providers de-duplicate on it, so a retry after a lost answer is not sent twice.
    """
    return str(int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:15], 16))
