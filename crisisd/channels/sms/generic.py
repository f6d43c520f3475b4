"""Any other HTTP SMS gateway, described in config.yaml instead of code.

Reference: crisisd's own config model, :class:`crisisd.config.SmsGateway` (``url``,
``method``, ``headers``, ``body``, ``success``) and :class:`crisisd.config.GenericSuccess`.

The request goes to ``url`` with ``method`` and the configured ``headers`` (secret
values, scrubbed from every reason). The body is a Jinja2 template rendered in a
sandbox with ``receptor`` (E.164, ``+989121234567``), ``national`` (``09121234567``),
``message``, ``localid`` and ``sender``; use ``{{ message|tojson }}`` in JSON bodies and
``{{ message|urlencode }}`` in query strings. Without a body the four fields are sent
as a form (POST) or as query parameters (GET); with GET a body is a query string.

Accepted when the HTTP status is in ``success.status`` and, if ``success.json_field``
is set, that dotted path of the JSON answer equals ``success.equals`` (or is truthy
when ``equals`` is unset); the provider id is at ``success.id_field`` (else our localid).

Otherwise: 429 -> Retry honouring Retry-After; 5xx -> Retry; 401/403 -> Failed(channel);
other 4xx -> Failed(recipient); a success status whose JSON says otherwise -> Failed(recipient).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import aiohttp
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from crisisd.channels.base import Failed, SendResult
from crisisd.channels.sms.gateway import HttpGateway, Reply, national_mobile, sent
from crisisd.config import SmsGateway
from crisisd.errors import ConfigError

SANDBOX_PATH = "/generic/send"  # where the sandbox fake listens, used when only a base is known
_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
_SNIPPET = 120


class GenericHttpGateway(HttpGateway):
    provider = "generic_http"

    def __init__(
        self,
        cfg: SmsGateway,
        base_url: str | None = None,
        session: aiohttp.ClientSession | None = None,
        *,
        timeout: float = 15.0,
    ) -> None:
        super().__init__(cfg, base_url, session, timeout=timeout)
        self.url = _effective_url(cfg, base_url or cfg.base_url)
        try:
            self._template = _ENV.from_string(cfg.body) if cfg.body else None
        except TemplateError as exc:
            raise ConfigError(
                f"SMS gateway '{cfg.name}': body template does not parse: {exc}"
                " — check the {{ … }} and {% … %} in sms.gateways[].body"
            ) from exc

    async def _send(self, phone_e164: str, text: str, localid: str) -> SendResult:
        if not self.url:
            return Failed(f"{self.name}: generic_http gateway has no url", "channel")
        fields = {"receptor": phone_e164, "message": text, "localid": localid}
        if self.cfg.sender:
            fields["sender"] = self.cfg.sender
        headers = {k: v.get_secret_value() for k, v in self.cfg.headers.items()}
        kwargs: dict[str, Any] = {"headers": headers}
        url = self.url
        if self._template is None:
            kwargs["params" if self.cfg.method == "GET" else "data"] = fields
        else:
            try:
                rendered = self._template.render(
                    **fields, sender=self.cfg.sender or "", national=national_mobile(phone_e164)
                )
            except TemplateError as exc:
                return Failed(f"{self.name}: body template failed: {exc}", "channel")
            if self.cfg.method == "GET":
                url += ("&" if "?" in url else "?") + rendered.strip()
            else:
                kwargs["data"] = rendered.encode("utf-8")
                if not any(k.lower() == "content-type" for k in headers):
                    headers["Content-Type"] = _content_type(rendered)
        reply = await self.request(self.cfg.method, url, **kwargs)
        return self._classify(reply, localid)

    def _classify(self, reply: Reply, localid: str) -> SendResult:
        rule = self.cfg.success
        if reply.status not in rule.status:
            return self.by_http_status(reply, _snippet(reply))
        if rule.json_field is None and rule.id_field is None:
            return sent(self.name, localid)
        data = reply.json()
        if data is None:
            return self.unreadable(reply)
        if rule.json_field is not None:
            value = _dig(data, rule.json_field)
            ok = bool(value) if rule.equals is None else str(value) == str(rule.equals)
            if not ok:
                what = f"{self.name}: HTTP {reply.status} but {rule.json_field}={value!r}"
                return Failed(f"{what} {_snippet(reply)}".rstrip(), "recipient")
        provider_id = _dig(data, rule.id_field) if rule.id_field else None
        return sent(self.name, provider_id if provider_id not in (None, "") else localid)


def _effective_url(cfg: SmsGateway, base_url: str | None) -> str:
    """``cfg.url``; with a base (``base_url``: the sandbox), its path and query on that base."""
    if not base_url:
        return cfg.url or ""
    parts = urlsplit(cfg.url or SANDBOX_PATH)
    query = f"?{parts.query}" if parts.query else ""
    return base_url.rstrip("/") + (parts.path or SANDBOX_PATH) + query


def _content_type(body: str) -> str:
    if body.lstrip().startswith(("{", "[")):
        return "application/json; charset=utf-8"
    return "text/plain; charset=utf-8"


def _dig(data: Any, path: str) -> Any:
    """The value at a dotted path ("result.id", "items.0.id"), or None."""
    for part in path.split("."):
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def _snippet(reply: Reply) -> str:
    text = reply.body.decode("utf-8", errors="replace").strip().replace("\n", " ")
    if not text:
        return ""
    return f"({text[:_SNIPPET]}…)" if len(text) > _SNIPPET else f"({text})"
