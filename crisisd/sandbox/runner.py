"""All fakes in one place: a fake Bot API per messenger, the SMS gateways, an SMTP inbox
and the inbox page, on loopback, sharing one :class:`Inbox`.

Used by `crisisd sandbox`, by `crisisd run` when ``sandbox: true``, by tests and benchmarks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from aiohttp import web
from pydantic import SecretStr

from crisisd.config import Config, Messenger, SmsGateway
from crisisd.playbook import Directory, Playbook
from crisisd.sandbox.botapi import BOTAPI_STATE, create_botapi_app
from crisisd.sandbox.botapi_dialect import Mode
from crisisd.sandbox.botapi_state import BotApiState, default_username
from crisisd.sandbox.inbox import Inbox
from crisisd.sandbox.smsgw import SmsGwServer, start_smsgw
from crisisd.sandbox.smtpinbox import SmtpInbox, start_smtp_inbox
from crisisd.sandbox.trainer import TrainerUser, create_trainer_app, trainer_users
from crisisd.sandbox.trainer_users import newcomer_id
from crisisd.sandbox.web import create_inbox_app

SMS_KEYS = {
    "kavenegar": "sandbox-kavenegar-key",
    "ghasedak": "sandbox-ghasedak-key",
    "smsir": "sandbox-smsir-key",
    "generic": "sandbox-generic-key",
}


def messenger_mode(messenger: Messenger) -> Mode:
    """Which server a messenger's fake plays: Bale for ``format: bale_markdown``, a Bale
    ``base_url`` or the name ``bale``; Telegram otherwise."""
    fmt = getattr(messenger, "format", None)  # the messengers' dialect field, once it exists
    bale = fmt == "bale_markdown" or "bale" in messenger.base_url or messenger.name == "bale"
    return "bale" if bale else "telegram"


def bale_strict_for(messenger: Messenger, bale_strict: bool | None) -> bool:
    """Whether a Bale fake answers as Bale does. ``None``: once the config knows dialects
    (``messengers[].format``), the daemon speaks Bale's and meets the real rules; before
    that, a Bale fake answers as Telegram does so the daemon's HTML keeps working."""
    if bale_strict is not None:
        return bale_strict
    return getattr(messenger, "format", None) is not None


def sandbox_token(messenger: str) -> str:
    """The fake token a messenger uses against its fake Bot API (not a secret)."""
    return f"{100000 + sum(messenger.encode())}:sandbox-{messenger}-token"


def sandbox_username(messenger: str) -> str:
    """The username of a messenger's bot on its fake (for invite links in the sandbox)."""
    return default_username(messenger, int(sandbox_token(messenger).split(":", 1)[0]))


@dataclass(slots=True)
class Sandbox:
    """Running fakes and where they listen."""

    inbox: Inbox
    host: str
    botapi_urls: dict[str, str] = field(default_factory=dict)  # messenger -> base_url (…/bot)
    botapi: dict[str, BotApiState] = field(default_factory=dict)
    sms: SmsGwServer | None = None
    smtp: SmtpInbox | None = None
    inbox_url: str = ""
    trainer_url: str = ""
    _users: list[TrainerUser] | None = None
    _users_of: Callable[[], list[TrainerUser]] = list
    _runners: list[web.AppRunner] = field(default_factory=list)

    @property
    def smtp_port(self) -> int:
        return self.smtp.port if self.smtp else 0

    def seed(self, directory: Directory, playbooks: Mapping[str, Playbook] | None = None) -> None:
        """Make every chat id in the directory a known user of every fake messenger, and
        someone the training chat page lets a person play (officers known by ``playbooks``);
        everyone with a phone and no chat id there a newcomer who has not started the bot.

        The page's list is made when it is first shown (a province's is ~40,000 entries,
        ~0.1 s of a start otherwise)."""
        messengers = list(self.botapi)
        self._users, self._users_of = None, lambda: trainer_users(directory, playbooks, messengers)
        for contact in directory.contacts.values():
            for messenger, chat_id in contact.chats.items():
                state = self.botapi.get(messenger)
                if state is not None:
                    state.add_user(chat_id, contact.name.en, language_code=contact.lang)
        # not started yet: the bot cannot write to them (in the page's order: by messenger,
        # then contact id; of two whose made-up ids collide, the first is the one added)
        ids = sorted(cid for cid, c in directory.contacts.items() if c.phone)
        for messenger in sorted(messengers):
            state = self.botapi[messenger]
            for cid in ids:
                contact = directory.contacts[cid]
                uid = newcomer_id(cid)
                if messenger not in contact.chats and uid not in state.chats:
                    state.add_user(uid, contact.name.en, language_code=contact.lang, started=False)

    @property
    def trainer_users(self) -> list[TrainerUser]:
        """Whom the training chat page lets a person play (see :meth:`seed`)."""
        if self._users is None:
            self._users = self._users_of()
        return self._users

    def point(self, config: Config) -> Config:
        """``config`` with every messenger, SMS gateway and the SMTP server pointed at the
        fakes, with the credentials the fakes expect (none of them secret)."""
        return point_config(
            config,
            host=self.host,
            botapi_urls=self.botapi_urls,
            sms_url=self.sms.url if self.sms else None,
            smtp_port=self.smtp.port if self.smtp else None,
        )

    def addresses(self) -> dict[str, str]:
        out = {"inbox page": self.inbox_url}
        if self.trainer_url:
            out["training chat"] = self.trainer_url
        out.update({f"{name} Bot API": url for name, url in self.botapi_urls.items()})
        if self.sms:
            out["SMS gateways"] = self.sms.url
        if self.smtp:
            out["SMTP"] = f"smtp://{self.host}:{self.smtp.port}"
        return out

    async def aclose(self) -> None:
        for state in self.botapi.values():
            state.released.set()
        if self.sms:
            await self.sms.aclose()
        if self.smtp:
            await self.smtp.aclose()
        for runner in reversed(self._runners):
            with contextlib.suppress(Exception):
                await runner.cleanup()


def point_config(
    config: Config,
    *,
    host: str,
    botapi_urls: Mapping[str, str],
    sms_url: str | None,
    smtp_port: int | None,
) -> Config:
    """``config`` pointed at fakes listening at these addresses (in this process or another)."""
    messengers = [
        m.model_copy(
            update={"base_url": botapi_urls[m.name], "token": SecretStr(sandbox_token(m.name))}
        )
        for m in config.messengers
        if m.name in botapi_urls
    ]
    update: dict[str, object] = {"messengers": messengers}
    if sms_url is not None:
        gateways = [_sandboxed(g, sms_url) for g in config.sms.gateways]
        update["sms"] = config.sms.model_copy(update={"gateways": gateways})
    if smtp_port is not None:
        update["smtp"] = config.smtp.model_copy(update={"host": host, "port": smtp_port})
    return config.model_copy(update=update)


def _sandboxed(gateway: SmsGateway, url: str) -> SmsGateway:
    """A gateway pointed at its fake, with the fake's key where the provider expects it."""
    key = SMS_KEYS["generic" if gateway.provider == "generic_http" else gateway.provider]
    update: dict[str, object] = {"api_key": SecretStr(key), "base_url": url}
    if gateway.provider == "generic_http":  # a generic gateway authenticates by header
        update["headers"] = {**gateway.headers, "X-Api-Key": SecretStr(key)}
    return gateway.model_copy(update=update)


async def _to_trainer(_request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/train/")


async def _serve(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner, int(runner.addresses[0][1])


async def start_sandbox(
    config: Config,
    *,
    host: str = "127.0.0.1",
    base_port: int = 0,
    enforce_limits: bool = True,
    bale_strict: bool | None = None,
) -> Sandbox:
    """Start every fake the config needs. ``base_port`` 0: any free ports; else consecutive.

    Ports from ``base_port``: inbox page, SMTP, SMS gateways, then one per messenger.
    Each messenger's fake plays Telegram or Bale (:func:`messenger_mode`); ``bale_strict``
    says whether Bale's fakes answer as Bale does (:func:`bale_strict_for`).
    """

    def port(offset: int) -> int:
        return base_port + offset if base_port else 0

    sb = Sandbox(Inbox(), host)
    try:
        page = create_inbox_app(sb.inbox)
        trainer = create_trainer_app(
            sb.botapi, lambda: sb.trainer_users, tz=config.zone, inbox_href="/"
        )
        page.add_subapp("/train/", trainer)
        page.router.add_get("/train", _to_trainer)
        runner, p = await _serve(page, host, port(0))
        sb._runners.append(runner)
        sb.inbox_url = f"http://{host}:{p}/"
        sb.trainer_url = f"{sb.inbox_url}train/"
        sb.smtp = await start_smtp_inbox(sb.inbox, host, port(1))
        sb.sms = await start_smsgw(sb.inbox, SMS_KEYS, host, port(2))
        for i, messenger in enumerate(config.messengers):
            app = create_botapi_app(
                messenger.name,
                sb.inbox,
                mode=messenger_mode(messenger),
                bale_strict=bale_strict_for(messenger, bale_strict),
                enforce_limits=enforce_limits,
                per_chat_per_second=messenger.rate.per_chat_per_second,
                global_per_second=messenger.rate.global_per_second,
                tokens=[sandbox_token(messenger.name)],
            )
            runner, p = await _serve(app, host, port(3 + i))
            sb._runners.append(runner)
            sb.botapi[messenger.name] = app[BOTAPI_STATE]
            sb.botapi_urls[messenger.name] = f"http://{host}:{p}/bot"
    except BaseException:
        await sb.aclose()
        raise
    return sb
