"""ConsoleChannel: one valid JSON line per message, in a file or on stdout."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from crisisd.channels.base import Channel, OutboundMessage, Sent
from crisisd.channels.console import ConsoleChannel


def outbound(key: str, text: str = "هشدار تخلیه — evacuate hall 2") -> OutboundMessage:
    return OutboundMessage(
        key=key, channel="console", address="officer.rezaei", text=text, subject="هشدار"
    )


async def test_writes_one_json_line_per_message(tmp_path: Path) -> None:
    path = tmp_path / "var" / "console.jsonl"
    channel = ConsoleChannel(path=path, durable=True)
    assert isinstance(channel, Channel)
    tricky = 'خط اول\nخط دوم\u2028جداکننده\u2029پاراگراف\x85NEL "quoted" <b>'
    results = [
        await channel.send(outbound("k1")),
        await channel.send(outbound("k2", tricky)),
        await channel.send(outbound("k1")),
    ]
    await channel.aclose()

    assert results == [Sent("line:1"), Sent("line:2"), Sent("line:3")]
    lines = path.read_text(encoding="utf-8").splitlines()  # splitlines breaks on U+2028 too
    assert len(lines) == 3
    records = [json.loads(line) for line in lines]
    assert [r["key"] for r in records] == ["k1", "k2", "k1"]
    assert records[1]["text"] == tricky
    assert records[0]["text"] == "هشدار تخلیه — evacuate hall 2"
    assert "هشدار" in lines[0]  # Persian stays readable in the file
    assert set(records[0]) == {"key", "channel", "address", "text", "subject", "at"}
    assert records[0]["channel"] == "console"
    assert records[0]["address"] == "officer.rezaei"


async def test_appends_after_a_restart_and_numbers_lines_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "console.jsonl"
    first = ConsoleChannel(path=path)
    await first.send(outbound("a"))
    await first.aclose()

    second = ConsoleChannel("local", path)
    assert await second.send(outbound("b")) == Sent("line:2")
    await second.aclose()
    assert [json.loads(x)["key"] for x in path.read_text("utf-8").splitlines()] == ["a", "b"]


async def test_concurrent_sends_never_interleave(tmp_path: Path) -> None:
    path = tmp_path / "console.jsonl"
    channel = ConsoleChannel(path=path)
    results = await asyncio.gather(
        *(channel.send(outbound(f"k{i}", "x" * 5000)) for i in range(40))
    )
    await channel.aclose()

    assert sorted(r.provider_id for r in results if isinstance(r, Sent)) == sorted(
        f"line:{n}" for n in range(1, 41)
    )
    keys = [json.loads(line)["key"] for line in path.read_text("utf-8").splitlines()]
    assert sorted(keys) == sorted(f"k{i}" for i in range(40))


async def test_stdout_when_no_path(capsys: pytest.CaptureFixture[str]) -> None:
    channel = ConsoleChannel()
    assert await channel.send(outbound("k1")) == Sent("line:1")
    await channel.aclose()
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["key"] == "k1"
