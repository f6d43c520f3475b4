"""The Bot API over one aiohttp session: how the outbox talks to Telegram and Bale.

The officers' bot keeps python-telegram-bot (polling, webhooks, conversations); the
outbox only needs ``sendMessage`` and ``getMe``, and PTB's per-request machinery (its
``Bot`` objects, ``RequestData``, httpx) cost several times the whole aiohttp SMS path per
message. So the outbox speaks the Bot API itself, as documented at
https://core.telegram.org/bots/api#making-requests:

- a request is ``POST https://api.telegram.org/bot<token>/<method>`` with the parameters as
  a JSON object (``application/json``); Bale serves the same at
  ``https://tapi.bale.ai/bot<token>/<method>`` (https://docs.bale.ai/), and python-bale-bot
  sends its ``sendMessage`` as such a JSON POST (``bale/request/http.py`` ``send_message``);
- the answer is a JSON object with ``ok``; ``{"ok": true, "result": …}`` on success,
  otherwise ``{"ok": false, "error_code": N, "description": "…"}`` with an optional
  ``parameters`` (https://core.telegram.org/bots/api#responseparameters:
  ``migrate_to_chat_id``, ``retry_after``).

An answer is read the way python-telegram-bot 22 reads it (``telegram/request/_baserequest.py``
``_request_wrapper``: a 2xx is success whatever ``ok`` says, as long as it has a
``result``; otherwise ``parameters`` first, then the HTTP status; a description loses the
prefixes ``telegram/error.py`` strips), so :mod:`crisisd.channels.chaterrors` classifies
what PTB used to raise, unchanged.

The token is part of every URL. Nothing leaving this module carries the URL: a
:class:`BotApiError` holds only the Bot API's own description, and aiohttp's exceptions
(whose text or ``request_info`` may hold the URL) are replaced by :class:`BotApiUnreachable`,
told by :func:`describe` with the token masked, not chained.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL

from crisisd.redaction import MASK

_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
# telegram/error.py TelegramError.__init__: "api_error" prefixes removed, then capitalised
_PREFIXES = ("Error: ", "[Error]: ", "Bad Request: ")


class BotApiError(Exception):
    """The Bot API refused a request, or answered something that is not a Bot API answer.

    Holds the HTTP status, the description (never the URL) and the response parameters.
    """

    def __init__(
        self,
        status: int,
        description: str,
        *,
        retry_after: float | None = None,
        migrate_to_chat_id: int | None = None,
        unreadable: bool = False,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after
        self.migrate_to_chat_id = migrate_to_chat_id
        self.unreadable = unreadable  # a 2xx that carries no result, or no JSON at all


class BotApiUnreachable(Exception):
    """No answer: a timeout, a refused or lost connection, a broken reply. Raised in place of
    aiohttp's exception, whose text and attributes may hold the URL (and so the token): its
    message is told without the URL, the token masked, and the original is not chained."""

    def __init__(self, reason: str, *, timed_out: bool = False, lost: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.timed_out = timed_out
        self.lost = lost  # the server could not be reached (the breaker counts it)


@dataclass(frozen=True, slots=True)
class Timeouts:
    total: float  # one request, from asking for a connection to the last byte read
    connect: float  # reaching the server (TCP, TLS)


class BotApiClient:
    """One bot on one Bot API server: at most ``concurrency`` connections, one session.

    The session is opened on first use, inside the running loop, and closed by
    :meth:`aclose` (after which a call opens a new one).
    """

    def __init__(self, base_url: str, token: str, *, concurrency: int, timeouts: Timeouts) -> None:
        self.base_url = base_url  # e.g. https://api.telegram.org/bot (no token)
        self._root = base_url + token + "/"
        self._secrets = (token, quote(token, safe=""))  # as written, and URL-encoded
        self._urls: dict[str, URL] = {}
        self._concurrency = max(1, concurrency)
        self._timeout = aiohttp.ClientTimeout(
            total=timeouts.total, sock_connect=min(timeouts.total, timeouts.connect)
        )
        self._session: aiohttp.ClientSession | None = None
        self._proxy, self._proxy_auth = env_proxy(base_url)

    def url(self, method: str) -> URL:
        """The method's URL, parsed once (``encoded``: the token is sent as configured)."""
        found = self._urls.get(method)
        if found is None:
            found = self._urls[method] = URL(self._root + method, encoded=True)
        return found

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._concurrency),
                timeout=self._timeout,
                headers=_HEADERS,
                cookie_jar=aiohttp.DummyCookieJar(),  # the Bot API sets none
            )
        return self._session

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        """POST ``params`` as JSON to ``method``; the ``result``, or :class:`BotApiError`
        (refused), or :class:`BotApiUnreachable` (no answer), never an aiohttp exception."""
        body = json.dumps(params, ensure_ascii=False, separators=(",", ":")).encode()
        try:
            # A redirect would carry the token to another host: never followed.
            url = self.url(method)
            async with self.session.post(
                url,
                data=body,
                allow_redirects=False,
                proxy=self._proxy,
                proxy_auth=self._proxy_auth,
            ) as resp:
                status, raw = resp.status, await resp.read()
        except TimeoutError:  # the ClientTimeout's, aiohttp's ServerTimeoutError
            raise BotApiUnreachable("timed out waiting for the Bot API", timed_out=True) from None
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, OSError) as exc:
            raise BotApiUnreachable(f"network error: {self._mask(describe(exc))}") from None
        except aiohttp.ClientError as exc:
            reason = f"network or server error: {self._mask(describe(exc))}"
            raise BotApiUnreachable(reason, lost=False) from None
        return answer(status, raw)

    def _mask(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


def env_proxy(base_url: str) -> tuple[URL | None, aiohttp.BasicAuth | None]:
    """The proxy HTTP(S)_PROXY / NO_PROXY name for the Bot API's host, read once.

    httpx under PTB honoured them (``trust_env``), and so does this client, but not through
    aiohttp's ``trust_env``: that reads the environment and ``~/.netrc`` again on every request,
    in two hops to the thread pool (``aiohttp/client.py`` ``_request``). Only the scheme and
    host are looked up, so no token is in what aiohttp's lookup may say.
    """
    try:
        return get_env_proxy_for_url(URL(base_url).origin())
    except (LookupError, ValueError):  # no proxy for it; a base URL without a host
        return None, None


def answer(status: int, raw: bytes) -> Any:
    """A reply's ``result``, or the :class:`BotApiError` it amounts to (PTB's reading)."""
    try:
        data = json.loads(raw)
    except ValueError:  # includes UnicodeDecodeError
        data = None
    if not isinstance(data, dict):
        data = None
    if 200 <= status <= 299:
        if data is None:
            raise BotApiError(status, f"invalid server response (HTTP {status})", unreadable=True)
        if data.get("ok") is False or "result" not in data:
            raise BotApiError(status, "an answer without a result", unreadable=True)
        return data["result"]
    description = _phrase(status)
    if data is None:
        raise BotApiError(status, f"{description}; the reply is not JSON")
    description = _stripped(str(data.get("description") or description))
    parameters = data.get("parameters")
    if isinstance(parameters, dict):
        moved, after = parameters.get("migrate_to_chat_id"), parameters.get("retry_after")
        if moved and isinstance(moved, int | str) and str(moved).lstrip("-").isdigit():
            raise BotApiError(status, description, migrate_to_chat_id=int(moved))
        if after and isinstance(after, int | float):
            raise BotApiError(status, description, retry_after=float(after))
    raise BotApiError(status, description)


def _phrase(status: int) -> str:
    try:
        return f"{HTTPStatus(status).phrase} ({status})"
    except ValueError:
        return f"Unknown HTTPError ({status})"


def _stripped(description: str) -> str:
    text = description
    for prefix in _PREFIXES:
        text = text.removeprefix(prefix)
    return text.capitalize() if text != description else text


def describe(exc: BaseException) -> str:
    """A transport failure in a few words, without its URL where aiohttp would quote it
    (the channel masks the token in whatever is left, too)."""
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "connection dropped before an answer"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {exc.host}:{exc.port} ({exc.os_error.strerror or 'refused'})"
    if isinstance(exc, aiohttp.ClientResponseError):  # its repr holds the request URL
        return f"HTTP error {exc.status} {exc.message}"
    if isinstance(exc, aiohttp.InvalidURL):
        return "invalid Bot API URL: check base_url"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
