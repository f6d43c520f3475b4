"""Who crisisd can reach, and inviting those it cannot: ``crisisd contacts``, ``crisisd invite``."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from crisisd.cli.app import main
from crisisd.cli.common import CONFIG_HELP, with_store

if TYPE_CHECKING:  # the store loads SQLAlchemy: only the commands that need it do
    from crisisd.enrolment.directory import BoundLibrary
    from crisisd.enrolment.invites import InviteBatch
    from crisisd.enrolment.reach import PersonReach
    from crisisd.library.model import Library
    from crisisd.store import Store
config_option = click.option(
    "--config", "config_path", type=click.Path(path_type=Path), help=CONFIG_HELP
)
SKIP_WORDS = {
    "connected": "already connected on every messenger",
    "no_phone_or_email": "no phone or email to send the invite to",
    "no_link": "no messenger with a bot username (messengers[].username in config.yaml)",
}


@main.command()
@click.argument("contact", required=False)
@click.option(
    "--audience", help="every member of this audience (of --factory, or of every factory)"
)
@click.option("--factory", help="this factory's officers and the members of its internal audiences")
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


STATE_WORDS = {
    "ok": ("در دسترس", "ok"),
    "never connected": ("هرگز وصل نشده", "never connected"),
    "blocked the bot": ("ربات را مسدود کرده", "blocked the bot"),
    "number invalid": ("شمارهٔ نامعتبر", "number invalid"),
    "email bounced": ("ایمیل برگشت خورده", "email bounced"),
    "SMS undelivered": ("پیامک نرسیده", "SMS undelivered"),
    "stopped": ("متوقف کرده (/stop)", "stopped (/stop)"),
}

HOW_WORDS = {
    "phone": ("با شماره", "by phone number"),
    "invite": ("با دعوت", "by invite"),
    "directory": ("از فهرست تماس‌ها", "from the directory"),
}


@main.command()
@click.option("--factory", help="only the officers and audience members of this factory")
@click.option("--audience", help="only this audience's members (of --factory, or of every factory)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON list")
@click.option(
    "--lang",
    type=click.Choice(["fa", "en"]),
    default=lambda: "fa" if os.environ.get("LANG", "").startswith("fa") else "en",
    help="names, states and dates in Persian (Jalali) or English (default: from LANG)",
)
@config_option
def contacts(
    factory: str | None, audience: str | None, as_json: bool, lang: str, config_path: Path | None
) -> None:
    """Who can be reached where now: each person's channels, the last message that went out
    on each, and a state (ok, never connected, blocked the bot, number invalid, email
    bounced, SMS undelivered)."""
    from crisisd.enrolment.reach import people, reach_report

    async def work(store: Store, bound: BoundLibrary) -> tuple[Library, list[PersonReach]]:
        lib = bound()
        return lib, await reach_report(
            store, lib, people(lib, factory, audience), datetime.now(UTC)
        )

    lib, rows = with_store(config_path, work)
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in rows], ensure_ascii=False))
        return
    for r in rows:
        click.echo(person_line(lib, r, lang))


def person_line(lib: Library, r: PersonReach, lang: str) -> str:
    """One person: id, name, state, then each channel with its state and last delivery."""
    from crisisd.enrolment.notices import messenger_name
    from crisisd.formats.timefmt import local_date

    fa = lang == "fa"

    def word(state: str) -> str:
        pair = STATE_WORDS.get(state, (state, state))
        return pair[0] if fa else pair[1]

    parts = []
    for ch in r.channels:
        name = {"sms": ("پیامک", "SMS"), "email": ("ایمیل", "email")}.get(ch.channel)
        shown = (name[0] if fa else name[1]) if name else messenger_name(ch.channel, lang)
        bits = [word(ch.state)]
        if ch.how:
            bits.append(HOW_WORDS.get(ch.how, (ch.how, ch.how))[0 if fa else 1])
        if ch.last_delivery:
            seen = local_date(ch.last_delivery, lang, tz=lib.config.zone)
            bits.append(("آخرین پیام " if fa else "last ") + seen)
        parts.append(f"{shown}: {', '.join(bits)}")
    return f"{r.contact} — {r.name['fa' if fa else 'en']} — {word(r.state)} — " + "; ".join(parts)
