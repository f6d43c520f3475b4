"""The command group and the library commands: validate, render, approve, sandbox."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import click

from crisisd import redaction
from crisisd.cli.common import CONFIG_HELP, config_from, fail, library_from, with_store
from crisisd.errors import CrisisError

if TYPE_CHECKING:  # the store loads SQLAlchemy: only validate --reach needs it
    from crisisd.enrolment.directory import BoundLibrary
    from crisisd.problems import Problem
    from crisisd.store import Store


@click.group()
@click.version_option(package_name="crisisd")
def main() -> None:
    """crisisd — crisis alerting for factories: playbooks, fan-out, acknowledgements, drills."""


@main.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path), help=CONFIG_HELP)
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@click.option(
    "--reach",
    is_flag=True,
    help="also read the store's bindings and warn where an audience that must acknowledge "
    "has members none of its step's messengers reach",
)
def validate(config_path: Path | None, as_json: bool, reach: bool) -> None:
    """Check config, contacts, playbooks, templates and approvals; list every problem."""
    try:
        lib = library_from(config_path)
    except CrisisError as exc:
        fail(exc, as_json)
        return
    if reach:
        from dataclasses import replace

        lib = replace(lib, warnings=lib.warnings + tuple(_reach(config_path)))
    summary = {
        "ok": True,
        "factories": sorted(lib.playbooks),
        "contacts": len(lib.directory.contacts),
        "templates": len(lib.templates.refs),
        "warnings": [p.as_dict() for p in lib.warnings],
        "calendar": lib.calendar.describe(),
    }
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False))
        return
    for p in lib.warnings:
        click.echo(redaction.redact(p.format()))
    warned = f", {len(lib.warnings)} warning(s) above" if lib.warnings else ""
    click.echo(
        f"ok: {len(lib.playbooks)} playbook(s) ({', '.join(sorted(lib.playbooks))}), "
        f"{len(lib.directory.contacts)} contacts, {len(lib.templates.refs)} templates{warned}"
    )
    click.echo(f"calendar: {summary['calendar']}")


def _reach(config_path: Path | None) -> list[Problem]:
    from crisisd.library.advice import reach_warnings

    async def work(_store: Store, bound: BoundLibrary) -> list[Problem]:
        return reach_warnings(bound())

    return with_store(config_path, work)


@main.command()
@click.argument("factory")
@click.argument("incident_type")
@click.argument("severity")
@click.option(
    "--lang", type=click.Choice(["fa", "en"]), help="show every recipient in this language"
)
@click.option("--drill", is_flag=True, help="render as a drill (marked; no external audience)")
@click.option("--channel", help="show only this channel's texts (bale, telegram, sms, email)")
@click.option("--details", default="", help="incident details as the officer would type them")
@click.option("--location", default="", help="location inside the factory")
@click.option("--at", "at", help="incident time, ISO 8601 (default: now)")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help=CONFIG_HELP)
def render(
    factory: str,
    incident_type: str,
    severity: str,
    lang: str | None,
    drill: bool,
    channel: str | None,
    details: str,
    location: str,
    at: str | None,
    config_path: Path | None,
) -> None:
    """Print exactly what each audience would receive for an incident, per channel."""
    from crisisd.planning.preview import describe_plan, preview_open

    try:
        lib = library_from(config_path)
        opened = (
            dt.datetime.fromisoformat(at) if at else dt.datetime.now(ZoneInfo(lib.config.timezone))
        )
        if opened.tzinfo is None:
            opened = opened.replace(tzinfo=ZoneInfo(lib.config.timezone))
        plan = preview_open(
            lib, factory, incident_type, severity, details, location, drill, opened, lang
        )
    except CrisisError as exc:
        fail(exc)
        return
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo(describe_plan(lib, plan, channel))


@main.command()
@click.argument("template")
@click.option("--by", "by", required=True, help="name of the approver (PR directorate)")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help=CONFIG_HELP)
def approve(template: str, by: str, config_path: Path | None) -> None:
    """Record that TEMPLATE (e.g. fa/holding_statement.email.j2) is approved as it is now."""
    from crisisd.approvals import approve as record
    from crisisd.templates import TemplateSet

    try:
        config = config_from(config_path)
    except CrisisError as exc:
        fail(exc)
        return
    root = config.resolve_path(config.templates)
    templates = TemplateSet(root)
    rel = template.removeprefix("templates/")
    ref = templates.by_rel(rel)
    if ref is None:
        click.echo(
            f"error: no template {rel} under {root} (or it has errors: run validate)", err=True
        )
        sys.exit(1)
    entry = record(root, ref, by, dt.date.today())
    click.echo(f"approved {rel} (sha256 {entry.sha256[:12]}…) by {by}")


@main.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path), help=CONFIG_HELP)
@click.option("--port", default=8790, show_default=True, help="first of consecutive ports")
@click.option("--host", default="127.0.0.1", show_default=True)
def sandbox(config_path: Path | None, port: int, host: str) -> None:
    """Run the fake Bot APIs, SMS gateways, SMTP inbox and inbox page until Ctrl-C."""
    import asyncio

    from crisisd.sandbox.runner import start_sandbox

    try:
        lib = library_from(config_path)
    except CrisisError as exc:
        fail(exc)
        return

    async def serve() -> None:
        sb = await start_sandbox(lib.config, host=host, base_port=port)
        sb.seed(lib.directory, lib.playbooks)
        for what, where in sb.addresses().items():
            click.echo(f"{what:>18}: {where}")
        # one machine-readable line too, for scripts and tests
        click.echo(json.dumps({"event": "sandbox.ready", **sb.addresses()}))
        click.echo("Ctrl-C stops the sandbox.")
        try:
            await asyncio.Event().wait()
        finally:
            await sb.aclose()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())
