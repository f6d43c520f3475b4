"""`crisisd chat`: play an officer or a staff member against the bot, from a terminal.

Talks to the sandbox's fake Bot API control endpoints of a running `make run`.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import click

from crisisd.cli.app import main
from crisisd.cli.common import CONFIG_HELP, fail, library_from
from crisisd.errors import CrisisError


def _call(url: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    # only ever http://127.0.0.1 (built below), never a user-given scheme
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})  # noqa: S310
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
        return json.loads(resp.read())


def _snapshot(base: str, chat_id: int) -> dict[int, int]:
    """What the chat shows now: each message and how often it was edited."""
    sent = _call(f"{base}/sent?chat_id={chat_id}")
    return {m["message_id"]: len(m.get("edits") or []) for m in sent}


def _settle(base: str, chat_id: int, before: dict[int, int], timeout: float = 20.0) -> None:
    """Wait until the bot has answered (a message sent or edited) and then stopped for a
    moment, so the next step's buttons are there; the bot's speed is not a fixed guess."""
    deadline = time.monotonic() + timeout
    last, quiet = before, 0.0
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = _snapshot(base, chat_id)
        if now != last:
            last, quiet = now, 0.0
        elif last != before:
            quiet += 0.1
            if quiet >= SETTLED:
                return


# Seconds without a change after the bot's first answer: longer than one chat's pacing gap
# (about 1 s, docs/messengers.md "Pacing"), so an answer that waited behind another message
# to the same chat (a task reminder that came just before) is still seen and shown.
SETTLED = 1.3


def _buttons(msg: dict[str, Any]) -> list[dict[str, str]]:
    markup = msg.get("reply_markup") or {}
    return [b for row in markup.get("inline_keyboard", []) for b in row]


@main.command()
@click.argument("who")
@click.argument("text", required=False)
@click.option(
    "--press", type=int, help="press button N (1 = first) of the latest message with buttons"
)
@click.option("--messenger", default="bale", show_default=True)
@click.option("--show", default=3, show_default=True, help="how many of the bot's messages to show")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help=CONFIG_HELP)
def chat(
    who: str,
    text: str | None,
    press: int | None,
    messenger: str,
    show: int,
    config_path: Path | None,
) -> None:
    """Be WHO (a contact id, e.g. officer.rezaei) in the sandbox: send TEXT or press a button.

    \b
      crisisd chat officer.rezaei /report
      crisisd chat officer.rezaei --press 1        # the first button
      crisisd chat officer.rezaei "آتش در سالن ۲"   # details
      crisisd chat hse.mousavi --press 1           # a staff member acknowledges
    """
    try:
        lib = library_from(config_path)
    except CrisisError as exc:
        fail(exc)
        return
    names = lib.config.messenger_names()
    if messenger not in names:
        raise click.UsageError(f"no messenger '{messenger}' in the config ({', '.join(names)})")
    contact = lib.directory.contacts.get(who)
    if contact is None or messenger not in contact.chats:
        raise click.UsageError(f"'{who}' has no {messenger} chat id in the directory")
    chat_id = contact.chats[messenger]
    base = f"http://127.0.0.1:{lib.config.sandbox_port + 3 + names.index(messenger)}/_control"
    try:
        before = _snapshot(base, chat_id)
        if text:
            _call(f"{base}/message", {"user_id": chat_id, "text": text})
        if press is not None:
            sent = _call(f"{base}/sent?chat_id={chat_id}")
            with_buttons = [m for m in sent if _buttons(m)]
            if not with_buttons or not 1 <= press <= len(_buttons(with_buttons[-1])):
                raise click.UsageError("no such button on the latest message with buttons")
            msg = with_buttons[-1]
            data = _buttons(msg)[press - 1]["callback_data"]
            _call(
                f"{base}/callback",
                {"user_id": chat_id, "message_id": msg["message_id"], "data": data},
            )
        if text or press is not None:
            _settle(base, chat_id, before)
        for msg in _call(f"{base}/sent?chat_id={chat_id}")[-show:]:
            edited = " (edited)" if msg.get("edits") else ""
            click.echo(f"--- bot → {who}, message {msg['message_id']}{edited}")
            click.echo(msg.get("plain") or msg.get("text", ""))
            for i, button in enumerate(_buttons(msg), start=1):
                click.echo(f"  [{i}] {button['text']}")
    except urllib.error.URLError as exc:
        raise click.ClickException(
            f"the sandbox does not answer ({exc.reason}): is `make run` running?"
        ) from None
