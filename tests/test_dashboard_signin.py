"""Passwordless sign-in: a one-time code through the outbox, signed HTTP-only SameSite
cookies, CSRF on every form, limits; expired and reused codes, forged and replayed
cookies each get a clear answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from yarl import URL

from crisisd.dashboard.auth import SESSION_COOKIE
from tests.boardworld import (
    Board,
    ask_code,
    code_sent_to,
    csrf_of,
    enter_code,
    sign_in,
    start_board,
)


@pytest.fixture
async def board(tmp_path: Path) -> AsyncIterator[Board]:
    async for b in start_board(tmp_path):
        yield b


async def test_a_page_without_a_session_sends_you_to_sign_in(board: Board) -> None:
    status, _, headers = await board.call("GET", "/dashboard/", allow_redirects=False)
    assert status == 302
    assert headers["Location"] == "/dashboard/signin"


async def test_an_officer_signs_in_with_the_code_the_bot_sends(board: Board) -> None:
    assert await ask_code(board, "officer.a") == 303
    status, _, headers = await enter_code(board, await code_sent_to(board, "officer.a"))
    assert status == 303
    assert headers["Location"] == "/dashboard/"
    cookie = headers["Set-Cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    status, text, headers = await board.call("GET", "/dashboard/")
    assert status == 200
    assert 'dir="rtl"' in text and 'lang="fa"' in text
    assert "مریم احمدی" in text
    assert "Content-Security-Policy" in headers
    # the code went out as a notice through the outbox, to the officer's chat first
    msgs = await board.store.list_incidents(statuses=["resolved"])
    assert [r.severity for r in msgs] == ["signin"]


async def test_the_code_is_written_by_phone_number_too(board: Board) -> None:
    assert await ask_code(board, "۰۹۱۲ ۱۱۱ ۲۲۳۳") == 303  # officer.a's phone, Persian digits
    assert await code_sent_to(board, "officer.a")


async def test_a_reused_code_is_refused(board: Board) -> None:
    await ask_code(board, "officer.a")
    code = await code_sent_to(board, "officer.a")
    assert (await enter_code(board, code))[0] == 303
    status, text, _ = await enter_code(board, code)
    assert status == 401
    assert "This code is wrong, used or expired." in text or "اعتبار ندارد" in text


async def test_an_expired_code_is_refused(board: Board) -> None:
    await ask_code(board, "officer.a")
    code = await code_sent_to(board, "officer.a")
    board.clock.move(minutes=11)
    assert (await enter_code(board, code))[0] == 401


async def test_wrong_codes_wear_a_code_out(board: Board) -> None:
    await ask_code(board, "officer.a")
    code = await code_sent_to(board, "officer.a")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        assert (await enter_code(board, wrong))[0] == 401
    assert (await enter_code(board, code))[0] == 401  # the right one, too late


async def test_codes_per_hour_are_limited(board: Board) -> None:
    for _ in range(5):
        await ask_code(board, "officer.a")
    first = await code_sent_to(board, "officer.a")
    assert await ask_code(board, "officer.a") == 303  # the sixth: nothing sent, same answer
    assert await code_sent_to(board, "officer.a") == first
    board.clock.move(minutes=61)
    await ask_code(board, "officer.a")
    assert await code_sent_to(board, "officer.a") != first


async def test_someone_not_in_the_working_group_gets_the_same_answer_and_no_code(
    board: Board,
) -> None:
    assert await ask_code(board, "nobody.here") == 303
    assert await ask_code(board, "press.d") == 303  # a viewer: may sign in
    with pytest.raises(AssertionError):
        await code_sent_to(board, "nobody.here")


async def test_a_form_without_its_csrf_token_is_refused(board: Board) -> None:
    status, _, _ = await board.call("POST", "/dashboard/signin", data={"who": "officer.a"})
    assert status == 403
    token = await sign_in(board, "officer.a")
    iid = await board.open()
    path = f"/dashboard/incidents/{iid}/resolve"
    assert (await board.call("POST", path, data={}))[0] == 403
    assert (await board.call("POST", path, data={"csrf": token + "x"}))[0] == 403
    assert (await board.service.get(iid)).status == "open"


async def test_a_forged_cookie_is_refused(board: Board) -> None:
    await sign_in(board, "officer.a")
    jar = board.http.cookie_jar
    value = jar.filter_cookies(URL(board.url))[SESSION_COOKIE].value
    sid, mac = value.rsplit(".", 1)
    jar.clear()
    headers = {"Cookie": f"{SESSION_COOKIE}={sid}.{mac[:-2]}AA"}
    status, _, _ = await board.call("GET", "/dashboard/", headers=headers, allow_redirects=False)
    assert status == 302
    headers = {"Cookie": f"{SESSION_COOKIE}=made-up-session"}
    status, _, _ = await board.call("GET", "/dashboard/", headers=headers, allow_redirects=False)
    assert status == 302


async def test_a_cookie_replayed_after_signing_out_is_refused(board: Board) -> None:
    token = await sign_in(board, "officer.a")
    value = board.http.cookie_jar.filter_cookies(URL(board.url))[SESSION_COOKIE].value
    status, _, _ = await board.call(
        "POST", "/dashboard/signout", data={"csrf": token}, allow_redirects=False
    )
    assert status == 303
    board.http.cookie_jar.clear()
    headers = {"Cookie": f"{SESSION_COOKIE}={value}"}
    status, _, _ = await board.call("GET", "/dashboard/", headers=headers, allow_redirects=False)
    assert status == 302


async def test_the_english_switch(board: Board) -> None:
    await sign_in(board, "officer.a")
    status, text, _ = await board.call("GET", "/dashboard/lang/en?next=%2Fdashboard%2F")
    assert status == 200
    assert 'dir="ltr"' in text and "Province overview" in text
    assert await csrf_of(board, "/dashboard/")


async def test_an_unknown_contact_in_the_dashboard_config_is_named_at_start(
    tmp_path: Path,
) -> None:
    from structlog.testing import capture_logs

    with capture_logs() as logs:
        async for _ in start_board(tmp_path, province=["staff.b", "provnce.typo"]):
            pass
    warned = [e for e in logs if e["event"] == "dashboard.unknown_contact"]
    assert [(e["where"], e["contact"]) for e in warned] == [("dashboard.province", "provnce.typo")]
