"""The outbox gauges every daemon shows on /metrics: depth, oldest undelivered, claims."""

from __future__ import annotations

from datetime import timedelta

from crisisd.domain import IncidentReport
from crisisd.incidents import IncidentService
from crisisd.library.model import Library
from crisisd.metrics import Metrics
from crisisd.scheduler.gauges import OutboxWatch
from crisisd.store import Store
from tests.minitree import T0


async def test_gauges_show_depth_age_and_who_holds_claims(store: Store, library: Library) -> None:
    svc = IncidentService(store, lambda: library, clock=lambda: T0)
    opened = await svc.open(IncidentReport("mini", "fire", "major", "officer.a"))
    claimed = await store.claim("host-a:1", T0, 1, timedelta(seconds=30))
    assert len(claimed) == 1
    metrics = Metrics()
    later = T0 + timedelta(seconds=90)
    await OutboxWatch(store.engine, metrics, clock=lambda: later).refresh()
    text = metrics.render().decode()
    # every message but the claimed one is pending (the press step's is not due yet)
    assert f'crisisd_outbox_messages{{status="pending"}} {float(opened.messages - 1)}' in text
    assert 'crisisd_outbox_messages{status="sending"} 1.0' in text
    assert "crisisd_oldest_undelivered_seconds 90.0" in text
    assert "crisisd_oldest_claim_seconds 90.0" in text
    assert "crisisd_expired_claims 1.0" in text  # leased for 30 s, 90 s ago: a dead daemon's
    assert 'crisisd_claimed_messages{worker="host-a:1"} 1.0' in text
