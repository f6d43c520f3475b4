"""One python-telegram-bot Application per messenger, in the daemon's event loop.

Long polling (``getUpdates``) with ``initialize`` / ``start`` / ``start_polling``; never
``run_polling``, which would own the loop (webhook mode instead: see :mod:`.webhook`).
Updates of different people run concurrently, one person's in order
(:class:`~crisisd.bot.pacing.PerUserProcessor`). A messenger that cannot be reached at
start (Telegram is filtered in Iran; Bale has outages) does not stop the daemon: it is
tried again in the background until it answers.

Handler order: flood control (group -1), then ack buttons, the conversation, the
read-only commands, and a catch-all that refuses whoever is not an officer.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import structlog
from telegram import BotCommand, BotCommandScopeDefault, Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    JobQueue,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import HTTPXRequest

from crisisd import redaction
from crisisd.bot.access import FloodGate, Gate
from crisisd.bot.acks import PATTERN as ACK_PATTERN
from crisisd.bot.acks import AckButton
from crisisd.bot.actions import ActionFlow
from crisisd.bot.conversation import Common, build_conversation
from crisisd.bot.drafts import PREFIX
from crisisd.bot.enrol import add_enrolment
from crisisd.bot.follow import DETAIL_PATTERN, FollowUp
from crisisd.bot.pacing import ChatPacer, PerUserProcessor
from crisisd.bot.progress import ProgressBoard
from crisisd.bot.replies import MessengerBot
from crisisd.bot.report import ReportFlow
from crisisd.bot.rollcall import PATTERN as ROLL_CALL_PATTERN
from crisisd.bot.rollcall import HeadcountCommand, RollCallButton
from crisisd.bot.runtime import BotRuntime, BotSettings, Ctx
from crisisd.bot.tasks import PATTERN as TASKS_PATTERN
from crisisd.bot.tasks import TaskList
from crisisd.bot.texts import COMMANDS
from crisisd.bot.webhook import Handler, new_secret, webhook_handler, webhook_path
from crisisd.channels.capabilities import Capabilities, capabilities, dialect
from crisisd.config import Messenger
from crisisd.context import DaemonContext
from crisisd.delivery.pacing import Pacer
from crisisd.redaction import redact
from crisisd.store.leadership import Leadership, poll_role

log = structlog.get_logger("crisisd.bot")

ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]
App = Application[Any, Any, Any, Any, Any, Any]


@dataclass(slots=True)
class OfficerBot:
    """The bot on one messenger: its Application once started, and its background work."""

    messenger: str
    app: App
    runtime: BotRuntime
    progress: ProgressBoard
    caps: Capabilities
    running: bool = False
    retry: asyncio.Task[None] | None = None
    webhook_secret: str = field(default_factory=new_secret)
    settings: BotSettings = field(default_factory=BotSettings)
    # long polling: whether this daemon should poll now (one poller per messenger across
    # the daemons sharing a store: it follows the ``poll.<messenger>`` leader lease)
    poll: bool = True
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        redaction.register(self.webhook_secret)  # it travels in a URL path for Bale

    @property
    def webhook_url_path(self) -> str:
        """The path this bot's webhook is set to: Telegram checks a header, Bale (no
        ``secret_token``) gets the secret as the last path segment."""
        if self.caps.webhook_secret_token:
            return webhook_path(self.messenger)
        return f"{webhook_path(self.messenger)}/{self.webhook_secret}"

    async def start(self, settings: BotSettings) -> None:
        """Connect (getMe), register commands, start polling (or set the webhook), then
        follow again the progress messages a previous run left followed.
        Raises when the messenger cannot be reached."""
        await self.app.initialize()
        await _set_commands(self.app, self.messenger)
        await self.app.start()
        if settings.webhook_url:
            await self._set_webhook(settings.webhook_url.rstrip("/") + self.webhook_url_path)
            mode = "webhook"
            self.running = True
        else:
            self.settings = settings
            async with self.lock:
                mode = "polling" if self.poll else "standby (another daemon polls)"
                if self.poll:
                    await self._start_polling(settings)
                self.running = True
        log.info("bot.started", messenger=self.messenger, mode=mode)
        await self.progress.resume(self.app.bot)  # never raises

    async def _start_polling(self, settings: BotSettings) -> None:
        assert self.app.updater is not None
        await self.app.updater.start_polling(
            poll_interval=0,
            timeout=timedelta(seconds=settings.poll_timeout),
            allowed_updates=ALLOWED_UPDATES,
            drop_pending_updates=False,  # a press or report made while down still counts
            error_callback=self._polling_error,
        )

    async def begin_polling(self) -> None:
        """This daemon now holds the messenger's polling lease (a leadership hook)."""
        async with self.lock:
            self.poll = True
            updater = self.app.updater
            if self.running and updater is not None and not updater.running:
                await self._start_polling(self.settings)
                log.info("bot.polling", messenger=self.messenger)

    async def end_polling(self) -> None:
        """The lease is gone: stop asking for updates before another daemon starts."""
        async with self.lock:
            self.poll = False
            updater = self.app.updater
            if updater is not None and updater.running:
                await updater.stop()
                log.info("bot.polling_stopped", messenger=self.messenger)

    async def _set_webhook(self, url: str) -> None:
        if not self.caps.webhook_secret_token:  # Bale's setWebhook takes the url alone
            await self.app.bot.set_webhook(url)
            return
        await self.app.bot.set_webhook(
            url,
            allowed_updates=ALLOWED_UPDATES,
            drop_pending_updates=False,
            secret_token=self.webhook_secret,
        )

    def _polling_error(self, exc: TelegramError) -> None:
        log.warning("bot.polling_error", messenger=self.messenger, error=redact(str(exc))[:300])

    async def keep_trying(self, settings: BotSettings) -> None:
        delay = settings.start_retry
        while not self.running:
            await asyncio.sleep(delay)
            try:
                await self.app.shutdown()  # undo a half-done initialize before trying again
                await self.start(settings)
            except (TelegramError, OSError) as exc:
                log.warning("bot.start_retry", messenger=self.messenger, error=redact(str(exc)))
                delay = min(delay * 2, 600.0)

    async def aclose(self) -> None:
        if self.retry is not None:
            self.retry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.retry
        if self.running:
            assert self.app.updater is not None
            if self.app.updater.running:  # webhook mode: Telegram keeps what comes meanwhile
                await self.app.updater.stop()
            if self.app.running:
                await self.app.stop()
        await self.progress.aclose()
        with contextlib.suppress(TelegramError, OSError, RuntimeError):
            await self.app.shutdown()
        self.running = False
        log.info("bot.stopped", messenger=self.messenger)


@dataclass(slots=True)
class Bots:
    """Every officers' bot the daemon runs; ``aclose`` stops them all."""

    bots: list[OfficerBot] = field(default_factory=list)

    def __getitem__(self, messenger: str) -> OfficerBot:
        return next(b for b in self.bots if b.messenger == messenger)

    def webhook_handlers(self) -> dict[str, Handler]:
        """aiohttp POST handler by messenger name, for the daemon's HTTP server to serve at
        ``/telegram-webhook/{messenger}`` and ``/telegram-webhook/{messenger}/{secret}``."""
        return {
            b.messenger: webhook_handler(
                b.app, b.webhook_secret, b.messenger, in_path=not b.caps.webhook_secret_token
            )
            for b in self.bots
        }

    async def aclose(self) -> None:
        for bot in reversed(self.bots):
            try:
                await bot.aclose()
            except Exception as exc:  # noqa: BLE001 - one bot failing to stop must not keep others up
                log.warning("bot.stop_failed", messenger=bot.messenger, error=redact(str(exc)))
        self.bots.clear()


async def start_bots(
    ctx: DaemonContext,
    messengers: list[tuple[Messenger, str, str]],
    settings: BotSettings | None = None,
    pacers: Mapping[str, Pacer] | None = None,
    leadership: Leadership | None = None,
) -> Bots:
    """Start the officers' bot on each (messenger, base_url, token); only messengers with
    ``officers_bot: true`` should be passed. Unreachable ones keep retrying in the background.

    ``pacers``: the dispatcher's per-channel pacers by messenger name, if it shares them;
    then the bot's replies and the alerts to one chat are spaced together.
    ``leadership``: daemons sharing a store take turns: a bot polls only while this daemon
    holds its ``poll.<messenger>`` lease; in webhook mode every daemon serves the webhook,
    with one secret kept in the store.
    """
    settings = settings or BotSettings()
    bots = Bots()
    try:
        for messenger, base_url, token in messengers:
            pacer = pacers.get(messenger.name) if pacers else None
            bot = build_bot(ctx, messenger, base_url, token, settings, pacer)
            bots.bots.append(bot)
            if settings.webhook_url and leadership is not None:
                bot.webhook_secret = await ctx.store.setting(f"webhook-secret:{messenger.name}")
                redaction.register(bot.webhook_secret)
            elif leadership is not None:
                bot.poll = False  # until the lease is ours
                role = poll_role(messenger.name)
                leadership.role(role, gained=bot.begin_polling, lost=bot.end_polling)
            try:
                await bot.start(settings)
            except InvalidToken as exc:
                log.error("bot.token_rejected", messenger=messenger.name, error=redact(str(exc)))
            except (TelegramError, OSError) as exc:
                log.warning("bot.unreachable", messenger=messenger.name, error=redact(str(exc)))
                retry = functools.partial(bot.keep_trying, settings)
                bot.retry = ctx.supervisor.spawn(f"bot.{messenger.name}.connect", retry)
    except BaseException:
        await bots.aclose()
        raise
    return bots


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every bot's HTTP clients: the one httpx makes for each client
    by default (``verify=True``: ``httpx.create_ssl_context``, certifi's CAs or
    SSL_CERT_FILE/SSL_CERT_DIR), made once instead of reading the CA bundle per client
    (~25 ms each, measured; two clients per messenger at every start). httpx 0.28:
    httpx/_config.py create_ssl_context; PTB 22: HTTPXRequest(httpx_kwargs=) in
    telegram/request/_httpxrequest.py passes it to httpx.AsyncClient."""
    return httpx.create_ssl_context()


def build_bot(
    ctx: DaemonContext,
    messenger: Messenger,
    base_url: str,
    token: str,
    settings: BotSettings,
    pacer: Pacer | None = None,
) -> OfficerBot:
    """The Application for one messenger with every handler registered (nothing started)."""
    redaction.register(token)
    poll = settings.poll_timeout
    caps = capabilities(messenger)
    bot = MessengerBot(
        token,
        dialect=dialect(messenger),
        caps=caps,
        base_url=base_url,
        request=HTTPXRequest(
            connection_pool_size=16,
            read_timeout=15.0,
            connect_timeout=10.0,
            httpx_kwargs={"verify": _tls()},
        ),
        get_updates_request=HTTPXRequest(
            connection_pool_size=1,
            read_timeout=poll + 10.0,
            connect_timeout=10.0,
            httpx_kwargs={"verify": _tls()},
        ),
        rate_limiter=ChatPacer(messenger.rate, pacer),
    )
    app: App = (
        Application.builder()
        .bot(bot)
        .concurrent_updates(PerUserProcessor(64))
        .job_queue(JobQueue())  # conversation timeouts
        .build()
    )
    rt = BotRuntime(ctx, messenger.name, settings, bot.dialect)
    gate = Gate(rt)
    progress = ProgressBoard(rt)
    report = ReportFlow(rt, gate)
    actions = ActionFlow(rt, gate, report, progress)
    follow = FollowUp(rt, gate)
    flood = FloodGate(settings.flood_per_minute, lambda user: gate.person(user).lang)
    app.add_handler(TypeHandler(Update, flood), group=-1)
    app.add_handler(CallbackQueryHandler(AckButton(rt, gate), pattern=ACK_PATTERN))
    app.add_handler(CallbackQueryHandler(RollCallButton(rt, gate), pattern=ROLL_CALL_PATTERN))
    app.add_handler(CommandHandler(["headcount"], HeadcountCommand(rt, gate)))
    add_enrolment(app, rt)  # /start, a shared number, /stop: staff connect themselves
    app.add_handler(build_conversation(rt, report, actions))
    app.add_handler(CommandHandler(["status"], follow.status))
    app.add_handler(CallbackQueryHandler(follow.on_detail, pattern=DETAIL_PATTERN))
    tasks = TaskList(rt, gate)
    app.add_handler(CommandHandler(["tasks"], tasks.command))
    app.add_handler(CallbackQueryHandler(tasks.done, pattern=TASKS_PATTERN))
    app.add_handler(CommandHandler(["cancel"], follow.cancel))
    app.add_handler(CallbackQueryHandler(Common(rt).stale, pattern=f"^{PREFIX}"))
    # In groups only commands get an answer ("talk to me privately"); other chatter is not ours.
    app.add_handler(
        MessageHandler(filters.ChatType.PRIVATE | filters.COMMAND, follow.anything_else)
    )
    app.add_error_handler(_on_error)
    return OfficerBot(messenger.name, app, rt, progress, caps)


async def _on_error(update: object, context: Ctx) -> None:
    """A handler failed: log it without secrets. The officer is not told "nothing changed":
    the failure may have come after a commit."""
    err = context.error
    log.error(
        "bot.handler_failed",
        error=type(err).__name__,
        detail=redact(str(err))[:300],
        update_id=update.update_id if isinstance(update, Update) else None,
    )


async def _set_commands(app: App, messenger: str) -> None:
    """The command menu in Persian (language_code fa) and English (everyone else)."""
    for lang, code in (("fa", "fa"), ("en", None)):
        commands = [BotCommand(name, text[lang]) for name, text in COMMANDS.items()]
        try:
            await app.bot.set_my_commands(
                commands, scope=BotCommandScopeDefault(), language_code=code
            )
        except TelegramError as exc:  # Bale and old servers may not know setMyCommands
            log.info("bot.commands_not_set", messenger=messenger, error=redact(str(exc))[:200])
