"""The dispatcher's hot statements write what SQLAlchemy would write (store/prepared.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects.postgresql import asyncpg
from sqlalchemy.dialects.sqlite import aiosqlite

from crisisd.domain import Rendering
from crisisd.store.jsontext import dumps
from crisisd.store.outbox import _audit_rows
from crisisd.store.outcomes import AUDIT_NAMES, sent_detail
from crisisd.store.prepared import Encoded, Prepared
from crisisd.store.records import OutcomeSent

AT = datetime(2026, 12, 4, 10, 30, 5, 120, tzinfo=UTC)


@given(
    text=st.text(),
    recipient=st.text(max_size=20),
    provider_id=st.text(max_size=20),
    message_id=st.integers(min_value=1, max_value=2**62),
)
def test_a_sent_detail_is_what_the_stores_dumps_makes(
    text: str, recipient: str, provider_id: str, message_id: int
) -> None:
    r = Rendering("chat", text, template="fa/alert.chat.j2", sha256="ab" * 32)
    o = OutcomeSent(message_id, "bale", AT, provider_id, "INC1", recipient, r)
    expected = {
        "message_id": message_id,
        "recipient": recipient,
        "provider_id": provider_id,
        "template": r.template,
        "sha256": r.sha256,
        "text": text,
    }
    tails: dict[int, str] = {}
    assert sent_detail(o, tails) == dumps(expected)
    assert sent_detail(o, tails) == dumps(expected)  # the tail kept for the batch
    assert json.loads(sent_detail(o, {})) == expected


def test_text_is_written_as_utf8_and_a_lone_surrogate_escaped() -> None:
    persian = {"text": "\u200fآتش در سالن ۲"}
    assert dumps(persian) == '{"text": "\u200fآتش در سالن ۲"}'  # 2 bytes a letter, not 6
    assert json.loads(dumps(persian)) == persian
    hostile = {"text": "آتش \ud800 ok"}  # a str decoded from JSON may hold one
    text = dumps(hostile)
    text.encode("utf-8")  # SQLite and PostgreSQL take it
    assert json.loads(text) == hostile
    r = Rendering("chat", "آتش \udfff", template="fa/alert.chat.j2", sha256="ab" * 32)
    o = OutcomeSent(1, "bale", AT, "p\ud83d", "INC1", "s1", r)
    detail = sent_detail(o, {})
    detail.encode("utf-8")
    assert json.loads(detail)["text"] == r.text
    assert json.loads(detail)["provider_id"] == "p\ud83d"


def test_an_audit_row_binds_as_sqlalchemy_would_on_both_dialects() -> None:
    detail = {"message_id": 7, "text": "\u200fآتش <b>", "none": None}
    dialects = (
        aiosqlite.dialect(json_serializer=dumps),
        asyncpg.dialect(json_serializer=dumps),  # type: ignore[no-untyped-call]
    )
    for dialect in dialects:
        prepared = Prepared.compile(_audit_rows(), dialect, columns=AUDIT_NAMES)
        row = ("INC1", AT, "crisisd", "message.sent", "bale", detail)
        encoded = (*row[:-1], Encoded(dumps(detail)))
        plain, quick = prepared.batch([row, encoded], AUDIT_NAMES)
        assert plain == quick
        assert all(type(v) is not Encoded for v in quick)  # the driver gets a plain str
        compiled = _audit_rows().compile(dialect=dialect, column_keys=list(AUDIT_NAMES))
        binds = compiled.construct_params(dict(zip(AUDIT_NAMES, row, strict=True)))
        processors: dict[str, Any] = dict(compiled._bind_processors)
        by_sqlalchemy = tuple(
            processors[name](binds[name]) if name in processors else binds[name]
            for name in compiled.positiontup or ()
        )
        assert plain == by_sqlalchemy, dialect.name


def test_a_json_column_with_another_serializer_still_gets_its_own_text() -> None:
    dialect = aiosqlite.dialect(json_serializer=json.dumps)
    prepared = Prepared.compile(_audit_rows(), dialect, columns=AUDIT_NAMES)
    detail = {"text": "آتش"}
    row = ("INC1", AT, "crisisd", "message.sent", "bale", Encoded(dumps(detail)))
    (params,) = prepared.batch([row], AUDIT_NAMES)
    names = [slot.name for slot in prepared.slots]
    assert params[names.index("detail")] == json.dumps(detail)
