"""Email and SMS beside a general-purpose notifier library: 1,000 emails + 1,000 Persian SMS.

The sandbox fakes (SMTP inbox, Kavenegar) run in a process of their own. Each run sends the
same fan-out three ways, one after the other, to fresh fakes:

* crisisd with the shipped settings (``smtp.rate_per_second`` and ``pool_size`` at their
  defaults), the SMS gateways' rate lifted as for a bulk-capable account;
* crisisd with the email pace lifted to what a local relay takes;
* Apprise (installed for this benchmark only: ``make bench`` runs ``pip install apprise``),
  one ``mailto://`` and one ``form://`` (Kavenegar's form) target per recipient, one
  ``notify``. Without Apprise the row says so and a bare aiosmtplib + aiohttp loop stands in.

Seconds from ``open`` (or ``notify``) to the last message accepted by the fakes; medians
of ``--runs``. Run by hand or with ``make bench``; never part of the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import structlog

from bench.fanout import RemoteSandbox, bench_config, contact_yaml, control, pipeline, sandbox_child
from bench.tally import Figure, emit, figure, ratio_figure
from crisisd.config import Config, Rate, Smtp
from crisisd.library.loader import load_library
from crisisd.sandbox.runner import SMS_KEYS
from tests.minitree import make_tree

DETAILS = (
    "آتش‌سوزی در انبار مواد اولیهٔ سالن ۲ ساعت ۱۰:۳۰ آغاز شد. تیم آتش‌نشانی کارخانه در محل است و "
    "آتش‌نشانی شهرستان در راه است. همهٔ کارکنان سالن‌های ۱ تا ۳ از درهای شمالی خارج شوند و در "
    "محوطهٔ پارکینگ شمالی جمع شوند. از آسانسور استفاده نکنید. دو نفر برای بررسی به درمانگاه "
    "منتقل شدند. اطلاعیهٔ بعدی تا نیم ساعت دیگر."
)
LOCAL_RELAY = 5_000.0  # messages/s: more than a relay on the same host is asked for here
SMS = "{{ factory.name }}: {{ incident.type_name }}\n{{ incident.details }}\n"
EMAIL = """\
{% block subject %}{{ factory.name }}: {{ incident.type_name }}{% endblock %}
{% block text %}{{ incident.details }}{% endblock %}
{% block html %}<p>{{ incident.details }}</p>{% endblock %}
"""


def tree(root: Path, n: int) -> Config:
    """The mini tree plus ``n`` people, even ones by email and odd ones by SMS."""
    config = make_tree(root)
    for lang in ("fa", "en"):
        (root / "templates" / lang / "notice.sms.j2").write_text(SMS, encoding="utf-8")
        (root / "templates" / lang / "notice.email.j2").write_text(EMAIL, encoding="utf-8")
    d = root / "playbooks" / "directory.yaml"
    people = "".join(contact_yaml(i, "email" if i % 2 == 0 else "sms") for i in range(n))
    d.write_text(d.read_text(encoding="utf-8") + people, encoding="utf-8")
    pb = root / "playbooks" / "mini.yaml"
    members = ", ".join(f"w{i}" for i in range(n))
    step = "          - {audience: everyone, template: notice, channels: [email, sms]}\n"
    text = pb.read_text(encoding="utf-8").replace(
        "  management:\n",
        f"  everyone:\n    members: [{members}]\n    sms_parts: 6\n  management:\n",
        1,
    )
    text = text.replace("      major:\n", f"      minor:\n        steps:\n{step}      major:\n", 1)
    pb.write_text(text, encoding="utf-8")
    return config


async def through_crisisd(config: Config, tmp: Path, smtp: Smtp) -> dict[str, float]:
    lib = load_library(config.model_copy(update={"smtp": smtp}))
    async with sandbox_child(lib.config, tmp, enforce=False) as remote:
        async with pipeline(lib, remote, tmp, unpaced=False) as p:
            t0 = time.perf_counter()
            _incident, total, _accepted = await p.open("minor", "bench-email")
            await p.all_sent(total, deadline=600)
            seconds = time.perf_counter() - t0
        stats = await control(remote, "/stats")
    return {"seconds": seconds, "messages": total, "smtp": stats["smtp_received"]}


async def through_apprise(config: Config, tmp: Path, n: int) -> dict[str, Any]:
    lib = load_library(config)
    async with sandbox_child(lib.config, tmp, enforce=False) as remote:
        try:
            import apprise  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            return await _bare(remote, n) | {"library": "bare aiosmtplib + aiohttp (no Apprise)"}
        ap = apprise.Apprise()
        sms = f"{remote.sms.url.split('://', 1)[1]}/v1/{SMS_KEYS['kavenegar']}/sms/send.json"
        for i in range(n):
            if i % 2 == 0:
                ap.add(
                    f"mailto://{remote.host}:{remote.smtp_port}?smtp={remote.host}&mode=insecure"
                    f"&from=crisisd@example.com&to=w{i}@example.com"
                )
            else:
                ap.add(f"form://{sms}?:receptor=0912{i:07d}")
        t0 = time.perf_counter()
        result = await asyncio.to_thread(ap.notify, body=DETAILS, title="کارخانه کوچک: آتش‌سوزی")
        seconds = time.perf_counter() - t0
        stats = await control(remote, "/stats")
    return {
        "seconds": seconds,
        "ok": bool(result),
        "smtp": stats["smtp_received"],
        "sms": stats["sms_sent"],
        "library": f"Apprise {apprise.__version__}",
    }


async def _bare(remote: RemoteSandbox, n: int) -> dict[str, Any]:
    import aiohttp
    import aiosmtplib

    url = f"{remote.sms.url}/v1/{SMS_KEYS['kavenegar']}/sms/send.json"
    t0 = time.perf_counter()
    async with aiohttp.ClientSession() as http:
        conn = aiosmtplib.SMTP(hostname=remote.host, port=remote.smtp_port)
        await conn.connect()
        for i in range(n):
            if i % 2 == 0:
                mail = f"Subject: x\r\n\r\n{DETAILS}\r\n".encode()
                await conn.sendmail("crisisd@example.com", [f"w{i}@example.com"], mail)
            else:
                form = {"receptor": f"0912{i:07d}", "message": DETAILS}
                async with http.post(url, data=form) as resp:
                    await resp.read()
        await conn.quit()
    return {"seconds": time.perf_counter() - t0, "ok": True}


async def one_run(n: int, root: Path) -> dict[str, Any]:
    base = tree(root / "tree", n)
    config = bench_config(base, Rate(global_per_second=1e6, per_chat_per_second=1e6))
    config = config.model_copy(update={"playbooks": base.playbooks, "templates": base.templates})
    shipped = Smtp(port=25)
    lifted = shipped.model_copy(update={"rate_per_second": LOCAL_RELAY})
    out = {}
    for name, smtp in (("shipped", shipped), ("lifted", lifted)):
        (root / name).mkdir()
        out[name] = await through_crisisd(config, root / name, smtp)
    (root / "library").mkdir()
    out["library"] = await through_apprise(config, root / "library", n)
    return out


def figures(runs: list[dict[str, Any]], n: int) -> list[Figure]:
    lib = [r["library"]["seconds"] for r in runs]
    name = runs[0]["library"].get("library", "Apprise")
    out = []
    for key, what in (("shipped", "shipped settings"), ("lifted", "email pace lifted")):
        mine = [r[key]["seconds"] for r in runs]
        out.append(figure(f"{n:,} emails + SMS, crisisd ({what})", mine, "s", raw=lib))
        out.append(
            ratio_figure(
                f"crisisd ({what}) seconds / {name} seconds",
                mine,
                lib,
                1.0,
                lower_is_better=True,
                note="below 1: crisisd is faster" if key == "shipped" else "",
            )
        )
    return out


def main() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    logging.basicConfig(level=logging.ERROR)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=2_000, help="half email, half SMS")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    runs = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="crisisd-email-") as tmp:
            runs.append(asyncio.run(one_run(args.messages, Path(tmp))))
    emit("email + SMS", figures(runs, args.messages), runs, args.json)


if __name__ == "__main__":
    main()
