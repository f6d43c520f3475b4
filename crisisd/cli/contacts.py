"""Who crisisd can reach, and inviting those it cannot: ``crisisd invite``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from crisisd.cli.app import main
from crisisd.cli.common import CONFIG_HELP, fail, library_from
from crisisd.errors import CrisisError

if TYPE_CHECKING:  # the store loads SQLAlchemy: only the commands that need it do
    from crisisd.enrolment.directory import BoundLibrary
    from crisisd.enrolment.invites import InviteBatch
    from crisisd.library.model import Library
    from crisisd.store import Store

T = TypeVar("T")
config_option = click.option(
    "--config", "config_path", type=click.Path(path_type=Path), help=CONFIG_HELP
)
SKIP_WORDS = {
    "connected": "already connected on every messenger",
    "no_phone_or_email": "no phone or email to send the invite to",
    "no_link": "no messenger with a bot username (messengers[].username in config.yaml)",
}


def with_store(config_path: Path | None, work: Callable[[Store, BoundLibrary], Awaitable[T]]) -> T:
    """Run ``work`` on the config's store and the library with its bindings."""
    try:
        lib = library_from(config_path)
    except CrisisError as exc:
        fail(exc)
        raise  # unreachable: fail exits
    from crisisd.enrolment.directory import BoundLibrary
    from crisisd.store import Store
    from crisisd.store.engine import normalize_url

    async def go() -> T:
        base = lib.config.source.parent if lib.config.source else Path.cwd()
        store = Store(normalize_url(lib.config.store_url, base))
        await store.start()
        try:
            return await work(store, await BoundLibrary.start(store, lambda: lib))
        finally:
            await store.aclose()

    try:
        return asyncio.run(go())
    except CrisisError as exc:
        fail(exc)
        raise


@main.command()
@click.argument("contact", required=False)
@click.option(
    "--audience", help="every member of this audience (of --factory, or of every factory)"
)
@click.option("--factory", help="every officer and audience member of this factory")
@click.option("--via", type=click.Choice(["sms", "email"]), help="default: SMS, else email")
@click.option(
    "--days", default=14, show_default=True, type=click.IntRange(1, 365), help="valid for"
)
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@config_option
def invite(
    contact: str | None,
    audience: str | None,
    factory: str | None,
    via: str | None,
    days: int,
    as_json: bool,
    config_path: Path | None,
) -> None:
    """Send everyone not yet connected a single-use invite link per messenger, by SMS or
    email through the outbox (a running daemon sends them within a second)."""
    from crisisd.enrolment.invites import send_invites, who_to_invite

    if contact is None and audience is None and factory is None:
        raise click.UsageError("name a CONTACT, or --audience and/or --factory")

    async def work(store: Store, bound: BoundLibrary) -> InviteBatch:
        lib: Library = bound()
        who = who_to_invite(lib, contact, audience, factory)
        now = datetime.now(UTC)
        return await send_invites(
            store, lib, who, now=now, actor="cli", via=via, days=days, factory=factory
        )

    batch = with_store(config_path, work)
    if as_json:
        click.echo(json.dumps(batch.as_dict(), ensure_ascii=False))
        return
    for i in batch.invited:
        click.echo(
            f"invited {i.contact}: {', '.join(i.messengers)} — by {' or '.join(i.channels)} "
            f"(record {i.record})"
        )
    for s in batch.skipped:
        click.echo(f"skipped {s.contact}: {SKIP_WORDS.get(s.reason, s.reason)}")
    if batch.invited:
        until = batch.expires_at.isoformat(timespec="minutes")
        click.echo(f"each link works once, until {until}; a running daemon sends them")
