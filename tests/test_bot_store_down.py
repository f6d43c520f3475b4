"""The officers' bot when the store cannot take a write: the officer reads "NOT accepted,
nothing was sent" in their language, never "accepted"; a pressed ack button says it was
not recorded, so the person presses again. The store is made read-only underneath the
running bot (SQLite ``query_only``: reads work, every write is refused, as on a read-only
folder or a full disk)."""

from __future__ import annotations

from pathlib import Path

from crisisd.store import Store
from tests.botworld import PTB_RETRY_AFTER, World, buttons, confirm, report, wait_for
from tests.faultworld import read_only


def read_only_under(w: World) -> Store:
    """Point the running service at the same database, read-only from now on."""
    ro = read_only(w.store.url)
    w.service.store = ro
    return ro


async def test_a_report_the_store_cannot_take_is_not_accepted(tmp_path: Path) -> None:
    async with World.open(tmp_path, dispatch=False) as w:
        officer = w.chat("bale", 1001)
        await report(officer, "دود در انبار")
        ro = read_only_under(w)
        try:
            before = officer.last_id()
            await officer.tap("ok")
            said = await officer.said("پذیرفته نشد", after=before)
            assert "پایگاه داده در دسترس نیست" in said["text"]
            assert "چیزی فرستاده نشد" in said["text"]
            assert "sqlite" not in said["text"]  # the store's own words stay in the log
            assert await w.store.list_incidents() == []  # and nothing was stored
        finally:
            await ro.aclose()


@PTB_RETRY_AFTER
async def test_an_ack_the_store_cannot_record_says_so(tmp_path: Path) -> None:
    async with World.open(tmp_path) as w:
        officer = w.chat("bale", 1001)
        await report(officer, "نشت گاز")
        incident = await confirm(officer)
        staff = w.chat("bale", 1002)
        alert = await wait_for(
            lambda: next(
                (m for m in staff.messages() if any(d.startswith("ack:") for _, d in buttons(m))),
                None,
            ),
            "the alert with its button",
        )
        data = next(d for _, d in buttons(alert) if d.startswith("ack:"))
        ro = read_only_under(w)
        try:
            answer = await staff.answer(staff.press(alert["message_id"], data))
            assert answer.startswith("❌ ثبت نشد")
        finally:
            await ro.aclose()
        assert all(m.acked_at is None for m in await w.messages(incident))
