"""Shared pieces of the fault tests: a factory of email- or Telegram-first staff, a mail
server that accepts connections and never answers, and a store made read-only."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import event

from crisisd.store import Store
from tests.minitree import TEMPLATES, approve_all

PEOPLE = 24


def write_tree(root: Path, first: str, count: int = PEOPLE) -> tuple[Path, Path]:
    """A factory whose ``count`` staff are reached on ``first`` (email or telegram), then SMS."""
    people = [
        "  officer.a:\n    name: {fa: مریم احمدی, en: Maryam Ahmadi}\n    chats: {bale: 1001}\n"
    ]
    for i in range(count):
        people.append(
            f"  auth.{i}:\n    name: {{fa: مسئول {i}, en: Authority {i}}}\n"
            f"    email: auth{i}@example.com\n    phone: '+98912{5000000 + i}'\n"
            f"    chats: {{telegram: {3000 + i}}}\n"
        )
    playbook = f"""\
factory: {{id: mini, name: {{fa: کارخانه کوچک, en: Mini Works}}, officers: [officer.a]}}
audiences:
  authorities: {{members: [{", ".join(f"auth.{i}" for i in range(count))}]}}
incidents:
  fire:
    name: {{fa: آتش‌سوزی, en: Fire}}
    severities:
      major:
        steps:
          - {{audience: authorities, template: alert, channels: [{first}, sms]}}
statements:
  update: {{template: statement, audiences: [authorities], channels: [sms]}}
  all_clear: {{template: statement}}
  takeover: {{template: statement, spokesperson: {{fa: سخنگو, en: Spokesperson}}}}
"""
    (root / "playbooks").mkdir(parents=True)
    (root / "playbooks" / "directory.yaml").write_text(
        "contacts:\n" + "".join(people), encoding="utf-8"
    )
    (root / "playbooks" / "mini.yaml").write_text(playbook, encoding="utf-8")
    for lang in ("fa", "en"):
        folder = root / "templates" / lang
        folder.mkdir(parents=True)
        for name, text in TEMPLATES.items():
            (folder / name).write_text(text, encoding="utf-8")
    approve_all(root / "templates", "statement")
    return root / "playbooks", root / "templates"


class HungSmtp:
    """Accepts TCP connections and says nothing, until ``answer`` is set: then it greets and
    answers EHLO, NOOP and QUIT like a mail server (enough for a probe)."""

    def __init__(self) -> None:
        self.answer = False
        self.connections = 0
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            if not self.answer:
                await reader.read()  # holds the connection until the client gives up
                return
            writer.write(b"220 mail.example.com ESMTP\r\n")
            while line := await reader.readline():
                verb = line[:4].upper()
                if verb == b"QUIT":
                    writer.write(b"221 bye\r\n")
                    break
                writer.write(b"250 mail.example.com\r\n" if verb != b"DATA" else b"554 no\r\n")
                await writer.drain()
        finally:
            writer.close()

    async def aclose(self) -> None:
        if self.server is not None:
            self.server.close()


def read_only(url: str) -> Store:
    """A store on ``url`` whose every connection refuses writes and serves reads, as a
    read-only file or folder does (file modes do not stop root, who runs the tests)."""
    store = Store(url)
    statement = (
        "PRAGMA query_only = ON"
        if store.dialect == "sqlite"
        else "SET default_transaction_read_only = on"
    )

    @event.listens_for(store.engine.sync_engine, "connect")
    def _run(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(statement)
        cursor.close()
        dbapi_connection.commit()

    return store
