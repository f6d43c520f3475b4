"""Operational commands: run, trigger, drill, status, report, db upgrade."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from crisisd.cli.app import main
from crisisd.cli.common import CONFIG_HELP, config_from, fail, library_from
from crisisd.domain import CASUALTIES_MAX, Casualties, IncidentReport
from crisisd.errors import CrisisError
from crisisd.formats.timefmt import fa_digits, local_date

if TYPE_CHECKING:  # the store and the service load SQLAlchemy: only commands that need them do
    from crisisd.incidents import IncidentService
    from crisisd.library.model import Library

T = TypeVar("T")
config_option = click.option(
    "--config", "config_path", type=click.Path(path_type=Path), help=CONFIG_HELP
)


def _store_url(lib: Library) -> str:
    from crisisd.store.engine import normalize_url

    base = lib.config.source.parent if lib.config.source else Path.cwd()
    return normalize_url(lib.config.store_url, base)


def _with_service(
    config_path: Path | None, work: Callable[[IncidentService, Library], Awaitable[T]]
) -> T:
    try:
        lib = library_from(config_path)
    except CrisisError as exc:
        fail(exc)
        raise  # unreachable: _fail exits

    from crisisd.api.acklinks import signer_for
    from crisisd.incidents import IncidentService
    from crisisd.store import Store

    async def go() -> T:
        store = Store(_store_url(lib))
        await store.start()
        try:
            service = IncidentService(store, lambda: lib)
            # Signed ack links in SMS and email, as the daemon's own incidents carry.
            signer, public = await signer_for(lib.config, store)
            service.ack_link = lambda key: signer.url(public, key)
            return await work(service, lib)
        finally:
            await store.aclose()

    try:
        return asyncio.run(go())
    except CrisisError as exc:
        fail(exc)
        raise


@main.command()
@config_option
def run(config_path: Path | None) -> None:
    """Run the daemon (systemd: Type=notify). SIGHUP reloads, SIGTERM drains and stops."""
    from crisisd.cli.startup import run_daemon

    if config_path is None and Path("config.yaml").exists():
        config_path = Path("config.yaml")
    sys.exit(run_daemon(config_path))


@main.command()
@click.argument("factory")
@click.argument("incident_type")
@click.argument("severity")
@click.option(
    "--reporter", required=True, help="officer's contact id (must be an officer of FACTORY)"
)
@click.option("--details", default="", help="what is known, in a few sentences")
@click.option("--location", default="", help="where in the plant, e.g. a factory.locations name")
@click.option(
    "--casualties",
    type=click.Choice([c.value for c in Casualties]),
    default="unknown",
    show_default=True,
    help="is anyone hurt",
)
@click.option(
    "--casualties-count",
    type=click.IntRange(1, CASUALTIES_MAX),
    help="how many injured or dead, when known (with --casualties injured or fatalities)",
)
@click.option("--drill", is_flag=True, help="a drill: marked, never reaches press or authorities")
@click.option("--idempotency-key", help="the same key twice opens one incident")
@click.option("--api", "api_url", help="send through a running daemon's HTTP API at this URL")
@click.option(
    "--token", envvar="CRISISD_API_TOKEN", help="API bearer token (or $CRISISD_API_TOKEN)"
)
@config_option
def trigger(
    factory: str,
    incident_type: str,
    severity: str,
    reporter: str,
    details: str,
    location: str,
    casualties: str,
    casualties_count: int | None,
    drill: bool,
    idempotency_key: str | None,
    api_url: str | None,
    token: str | None,
    config_path: Path | None,
) -> None:
    """Open an incident, directly on the store (a running daemon sends it within a second)
    or with --api through a daemon's HTTP API."""
    if api_url:
        body: dict[str, Any] = {
            "factory": factory,
            "type": incident_type,
            "severity": severity,
            "reporter": reporter,
            "details": details,
            "location": location,
            "casualties": casualties,
            "drill": drill,
        }
        if casualties_count is not None:
            body["casualties_count"] = casualties_count
        _trigger_via_api(api_url, token, body, idempotency_key)
        return
    report = IncidentReport(
        factory,
        incident_type,
        severity,
        reporter,
        details,
        location,
        Casualties(casualties),
        casualties_count,
        drill=drill,
        source="cli",
        idempotency_key=idempotency_key,
    )

    async def work(svc: IncidentService, lib: Library) -> None:
        opened = await svc.open(report)
        state = "accepted" if opened.created else "already accepted (same idempotency key)"
        click.echo(f"{state}: incident {opened.incident_id}, {opened.messages} message(s) queued")
        for audience, contact in opened.unreachable:
            click.echo(f"  ! {contact} ({audience}) is reachable on none of the step's channels")

    _with_service(config_path, work)


@main.command()
@click.argument("factory")
@click.option("--scenario", help="type/severity, default: the playbook's first drill")
@click.option("--reporter", help="officer contact id (default: the factory's first officer)")
@config_option
def drill(
    factory: str, scenario: str | None, reporter: str | None, config_path: Path | None
) -> None:
    """Start a drill now: every message marked, external audiences replaced by the officer."""

    async def work(svc: IncidentService, lib: Library) -> None:
        pb = lib.playbook(factory)
        chosen = scenario or (pb.drills[0].scenario if pb.drills else None)
        if chosen is None or "/" not in chosen:
            raise click.UsageError("give --scenario TYPE/SEVERITY (the playbook has no drills)")
        itype, severity = chosen.split("/", 1)
        report = IncidentReport(
            factory, itype, severity, reporter or pb.factory.officers[0], drill=True, source="cli"
        )
        opened = await svc.open(report)
        click.echo(
            f"drill started: incident {opened.incident_id} ({chosen}), {opened.messages} message(s)"
        )

    _with_service(config_path, work)


@main.command()
@click.option("--all", "show_all", is_flag=True, help="closed incidents too")
@click.option("--json", "as_json", is_flag=True)
@click.option(
    "--lang",
    type=click.Choice(["fa", "en"]),
    default=lambda: "fa" if os.environ.get("LANG", "").startswith("fa") else "en",
    help="fa: Persian names, Jalali dates with Persian digits; en: Gregorian (default: from LANG)",
)
@config_option
def status(show_all: bool, as_json: bool, lang: str, config_path: Path | None) -> None:
    """Open incidents with delivery and acknowledgement counts, times in the daemon's zone
    (SMS: delivered of sent)."""

    from crisisd.store.receipts import ReceiptLedger

    async def work(svc: IncidentService, lib: Library) -> list[dict[str, Any]]:
        statuses = None if show_all else ["open", "taken_over"]
        ledger = ReceiptLedger(svc.store)
        out = []
        for row in await svc.store.list_incidents(statuses):
            msgs = await svc.store.messages_of(row.id)
            counts = Counter(m.status for m in msgs)
            acked = sum(1 for m in msgs if m.ack_required and m.acked_at)
            need = sum(1 for m in msgs if m.ack_required)
            out.append(
                {
                    "id": row.id,
                    "factory": row.factory,
                    "type": row.incident_type,
                    "severity": row.severity,
                    "status": row.status,
                    "drill": row.drill,
                    "opened_at": row.opened_at.isoformat(),
                    "opened_local": local_date(row.opened_at, lang, tz=lib.config.zone),
                    "messages": dict(counts),
                    "sms": await ledger.counts(row.id),
                    "acks": f"{acked}/{need}",
                }
            )
            out[-1]["line"] = status_line(lib, out[-1], lang)
        return out

    rows = _with_service(config_path, work)
    if as_json:
        click.echo(json.dumps([{k: v for k, v in r.items() if k != "line"} for r in rows]))
        return
    if not rows:
        click.echo("هیچ حادثهٔ بازی نیست" if lang == "fa" else "no open incidents")
    for r in rows:
        click.echo(r["line"])


@main.command()
@click.argument("incident_id")
@click.option("--format", "fmt", type=click.Choice(["md", "html"]), default="md")
@click.option("--output", type=click.Path(path_type=Path), help="write to a file")
@config_option
def report(incident_id: str, fmt: str, output: Path | None, config_path: Path | None) -> None:
    """An incident's full timeline (every event, message and ack; Jalali and Gregorian times).

    INCIDENT_ID: e.g. KMT-479, or `last` for the incident (or drill) opened last.
    """
    from crisisd.reports.incident import incident_report, render_html, render_markdown

    async def work(svc: IncidentService, lib: Library) -> str:
        if incident_id.strip().lower() == "last":
            latest = await svc.store.list_incidents(limit=1)
            if not latest:
                raise click.ClickException("no incident yet: `crisisd trigger` opens one")
            chosen = latest[0].id
        else:
            chosen = (await svc.get(incident_id)).id
        doc = await incident_report(svc.store, lib, chosen)
        return render_html(doc) if fmt == "html" else render_markdown(doc)

    text = _with_service(config_path, work)
    if output:
        output.write_text(text, encoding="utf-8")
        click.echo(f"written to {output}")
    else:
        click.echo(text)


@main.group()
def db() -> None:
    """Store maintenance."""


@db.command("upgrade")
@config_option
def db_upgrade(config_path: Path | None) -> None:
    """Apply pending schema migrations (also done at every start)."""
    try:
        config = config_from(config_path)
    except CrisisError as exc:
        fail(exc)
        return
    base = config.source.parent if config.source else Path.cwd()
    from crisisd.store import Store
    from crisisd.store.engine import normalize_url

    async def go() -> None:
        store = Store(normalize_url(config.store_url, base))
        await store.start()
        await store.aclose()

    asyncio.run(go())
    click.echo("store schema is up to date")


@main.command()
@config_option
@click.option("--fast", is_flag=True, help="short pauses (CI smoke test)")
def demo(config_path: Path | None, fast: bool) -> None:
    """A scripted fire at the sample steel mill, end to end on the sandbox, with its report."""
    from crisisd.cli.demo import run_demo

    sys.exit(run_demo(config_path, fast=fast))


def _trigger_via_api(
    api_url: str, token: str | None, body: dict[str, Any], idempotency_key: str | None
) -> None:
    import urllib.error
    import urllib.request

    if not api_url.startswith(("http://", "https://")):
        raise click.UsageError("--api must be an http:// or https:// URL")
    if not token:
        raise click.UsageError("--api needs --token (or $CRISISD_API_TOKEN)")
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    url = api_url.rstrip("/") + "/v1/incidents"
    req = urllib.request.Request(url, json.dumps(body).encode(), headers)  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - scheme checked
            answer = json.loads(resp.read())
    except urllib.error.HTTPError as err:
        detail = json.loads(err.read() or b"{}").get("error", {})
        click.echo(f"refused ({err.code}): {detail.get('message', err.reason)}", err=True)
        sys.exit(1)
    except urllib.error.URLError as err:
        click.echo(f"cannot reach {api_url}: {err.reason}", err=True)
        sys.exit(1)
    state = "accepted" if answer.get("created", True) else "already accepted (same key)"
    click.echo(f"{state}: incident {answer['id']}, {answer.get('messages', 0)} message(s) queued")


STATUS_WORDS = {
    "fa": {
        "open": "باز",
        "taken_over": "واگذار شده",
        "resolved": "پایان یافته",
        "cancelled": "لغو شده",
        "pending": "در صف",
        "sending": "در حال ارسال",
        "sent": "فرستاده",
        "failed": "ناموفق",
        "drill": "[تمرین]",
        "acks": "تأیید",
        "opened": "ثبت",
        "semi": "؛",
    },
    "en": {"drill": "[DRILL]", "acks": "acks", "opened": "opened", "semi": ";"},
}


def status_line(lib: Library, r: dict[str, Any], lang: str) -> str:
    """One incident for a person: names and the local calendar in ``lang``."""
    from crisisd.planning.render import SEVERITY_NAMES

    words = STATUS_WORDS[lang]
    pb = lib.playbooks.get(r["factory"])
    factory, kind = r["factory"], r["type"]
    if pb is not None:
        factory = pb.factory.name.get(lang)
        itype = pb.incidents.get(r["type"])
        kind = itype.name.get(lang) if itype is not None else kind
    severity = SEVERITY_NAMES.get(r["severity"], {}).get(lang, r["severity"])
    counts = "، " if lang == "fa" else ", "
    shown = counts.join(
        f"{words.get(k, k)} {fa_digits(v) if lang == 'fa' else v}"
        for k, v in sorted(r["messages"].items())
    )
    acks = fa_digits(r["acks"]) if lang == "fa" else r["acks"]
    drill = f" {words['drill']}" if r["drill"] else ""
    status = words.get(r["status"], r["status"])
    return (
        f"{r['id']}{drill} {factory} — {kind} ({severity}) — {status} — "
        f"{words['opened']} {r['opened_local']} — {shown}{_delivered(r['sms'], lang)}"
        f"{words['semi']} {words['acks']} {acks}"
    )


def _delivered(sms: dict[str, int], lang: str) -> str:
    """ "; SMS delivered 3 of 5 sent": a receipt, not the gateway's acceptance."""
    if not sms:
        return ""
    delivered, sent = sms.get("delivered", 0), sum(sms.values())
    if lang == "fa":
        return f"؛ پیامک: {fa_digits(delivered)} از {fa_digits(sent)} فرستاده رسید"
    return f"; SMS delivered {delivered} of {sent} sent"
