"""Prometheus metrics of one daemon (its own registry, so tests can run several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900)


class Metrics:
    """Counters the daemon's parts update; exposed as text on GET /metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.sends = Counter(
            "crisisd_sends",
            "Send attempts by channel and outcome",
            ["channel", "outcome"],
            registry=r,
        )
        self.delivery_latency = Histogram(
            "crisisd_delivery_latency_seconds",
            "From a message being due to it being sent",
            ["channel"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.queue_depth = Gauge(
            "crisisd_outbox_messages", "Messages in the outbox by status", ["status"], registry=r
        )
        self.incidents = Counter(
            "crisisd_incidents", "Incidents opened", ["factory", "drill"], registry=r
        )
        self.acks = Counter("crisisd_acks", "Acknowledgements recorded", ["via"], registry=r)
        self.escalations = Counter("crisisd_escalations", "Escalations fired", registry=r)
        self.drills = Counter("crisisd_drills", "Drills started", ["factory"], registry=r)
        self.reloads = Counter("crisisd_reloads", "Reloads by result", ["result"], registry=r)
        self.part_failures = Counter(
            "crisisd_part_failures",
            "Background parts (tasks, scheduled jobs) that died or failed; an outage counts once",
            ["part"],
            registry=r,
        )
        self.part_down = Gauge(
            "crisisd_part_down",
            "1 while a background part is down (dead, waiting to restart, or its job failing)",
            ["part"],
            registry=r,
        )
        self._cluster(r)

    def _cluster(self, r: CollectorRegistry) -> None:
        """Several daemons on one PostgreSQL store: who leads what, and the shared outbox."""
        self.leader = Gauge(
            "crisisd_leader",
            "1 while this daemon holds the leader lease of the role (scheduler, poll.<bot>)",
            ["role"],
            registry=r,
        )
        self.lease_holder = Gauge(
            "crisisd_lease_holder",
            "1 for the daemon (worker id) holding each role's unexpired lease, as stored",
            ["role", "holder"],
            registry=r,
        )
        self.leadership_changes = Counter(
            "crisisd_leadership_changes",
            "Roles this daemon gained or lost",
            ["role", "change"],
            registry=r,
        )
        self.oldest_undelivered = Gauge(
            "crisisd_oldest_undelivered_seconds",
            "Since the oldest due message not yet sent (pending or claimed) became due",
            registry=r,
        )
        self.oldest_claim = Gauge(
            "crisisd_oldest_claim_seconds",
            "Since the oldest message now claimed (sending) became due",
            registry=r,
        )
        self.expired_claims = Gauge(
            "crisisd_expired_claims",
            "Claimed messages whose lease ran out (a dead daemon's), waiting to be taken over",
            registry=r,
        )
        self.claims = Gauge(
            "crisisd_claimed_messages",
            "Messages claimed (in flight) per worker id, over every daemon on the store",
            ["worker"],
            registry=r,
        )

        self.channel_down = Gauge(
            "crisisd_channel_down",
            "1 while a channel's circuit breaker is open (its server stopped answering)",
            ["channel"],
            registry=r,
        )
        self.channel_trips = Counter(
            "crisisd_channel_breaker_trips",
            "Times a channel was marked down after consecutive timeouts or lost connections",
            ["channel"],
            registry=r,
        )
        self.channel_floods = Counter(
            "crisisd_channel_flood_waits",
            "429s honoured by pausing the whole channel or one chat",
            ["channel", "scope"],
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
