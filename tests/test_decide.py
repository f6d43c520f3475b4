"""decide(): the retry and failover rules as properties (hypothesis); no store, no clock.

A run plays one message through a script of channel answers the way the store applies
outcomes: a claim spends an attempt, a retry waits for its time on the same channel, a
failover moves to the next channel with no attempts spent. The claim may come late (a
busy outbox), never early (the store's claim contract, tested in test_store_contract.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from crisisd.channels.base import Failed, Retry, SendResult, Sent
from crisisd.delivery.decide import JITTER, RetryPolicy, decide
from crisisd.domain import MessageStatus, Purpose, channel_kind
from crisisd.store import (
    MessageRow,
    Outcome,
    OutcomeFailed,
    OutcomeFailover,
    OutcomeRetry,
    OutcomeSent,
)

T0 = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
# Property runs are checked for what they decide, never for how long they take.
PROPERTIES = settings(max_examples=200, deadline=None)


def rendering(kind: str) -> dict[str, object]:
    return {"kind": kind, "text": f"{kind}: آتش در سالن ۲", "template": f"fa/alert.{kind}.j2"}


def message(channels: list[str]) -> MessageRow:
    """A claimed alert before its first send (attempts are added by each claim)."""
    return MessageRow(
        id=7,
        key="KMT-479/alert/0/emergency_team/staff.b",
        incident_id="KMT-479",
        purpose=Purpose.ALERT,
        step=0,
        audience="emergency_team",
        recipient="staff.b",
        lang="fa",
        channels=channels,
        channel_index=0,
        channel=channels[0],
        renderings={kind: rendering(kind) for kind in ("chat", "sms", "email")},
        priority=10,
        planned_at=T0,
        not_before=T0,
        status=MessageStatus.SENDING,
        attempts=0,
        ack_required=True,
        ack_deadline=T0 + timedelta(minutes=5),
        ack_code="0123456789abcdef01234567",
        acked_at=None,
        escalate_to="management",
        escalated=False,
        external=False,
        drill=False,
        sink_for=None,
        sent_at=None,
        sent_channel=None,
        provider_id=None,
        last_error=None,
    )


Move = tuple[SendResult, float, float]  # the channel's answer, the jitter, lateness (s)


@dataclass(frozen=True, slots=True)
class Step:
    sent: MessageRow  # the message as it was when this send was made
    result: SendResult
    now: datetime
    outcome: Outcome


def deliver(
    channels: list[str],
    script: list[Move],
    policy: RetryPolicy,
) -> list[Step]:
    """Play ``script`` (answer, jitter, seconds the claim comes late) until the message ends."""
    msg, due, steps = message(channels), T0, []
    for result, jitter, late in script:
        now = due + timedelta(seconds=late)
        msg = replace(msg, attempts=msg.attempts + 1)  # the claim
        outcome = decide(msg, result, policy, now, jitter=jitter)
        steps.append(Step(msg, result, now, outcome))
        match outcome:
            case OutcomeSent() | OutcomeFailed():
                break
            case OutcomeRetry():
                due = outcome.not_before
            case OutcomeFailover():
                msg = replace(
                    msg,
                    channel_index=outcome.channel_index,
                    channel=outcome.next_channel,
                    attempts=0,
                )
                due = outcome.at
    return steps


policies = st.builds(
    RetryPolicy,
    base=st.floats(0.01, 30.0),
    cap=st.floats(0.1, 600.0),
    max_attempts_per_channel=st.integers(1, 6),
)
answers: st.SearchStrategy[SendResult] = st.one_of(
    st.builds(Sent, st.text("0123456789", max_size=6)),
    st.builds(Retry, after=st.floats(0.0, 3600.0), reason=st.sampled_from(["429", "timeout"])),
    st.builds(Failed, reason=st.just("blocked"), scope=st.sampled_from(["recipient", "channel"])),
)
transient: st.SearchStrategy[SendResult] = st.builds(
    Retry, after=st.floats(0.0, 3600.0), reason=st.just("502 bad gateway")
)
channel_lists = st.lists(
    st.sampled_from(["bale", "telegram", "sms", "email"]), min_size=1, max_size=4, unique=True
)


def scripts(answer: st.SearchStrategy[SendResult]) -> st.SearchStrategy[list[Move]]:
    """Up to 30 sends: each an answer, a jitter, and how late (seconds) its claim comes."""
    return st.lists(
        st.tuples(answer, st.floats(*JITTER), st.floats(0.0, 600.0)), min_size=1, max_size=30
    )


@PROPERTIES
@given(channel_lists, scripts(answers), policies)
def test_a_retry_is_never_scheduled_before_retry_after(
    channels: list[str], script: list[Move], policy: RetryPolicy
) -> None:
    for step in deliver(channels, script, policy):
        if isinstance(step.outcome, OutcomeRetry):
            assert isinstance(step.result, Retry)
            wait = step.outcome.not_before - step.now
            assert wait >= timedelta(seconds=step.result.after)  # the channel's own wish
            assert wait <= timedelta(seconds=max(step.result.after, policy.cap))  # and no longer
            assert step.outcome.channel == step.sent.channel  # on the same channel
        else:  # whatever else is decided is due now, never in the past
            assert step.outcome.at == step.now


@PROPERTIES
@given(channel_lists, scripts(answers), policies)
def test_attempts_per_channel_are_bounded_by_the_policy(
    channels: list[str], script: list[Move], policy: RetryPolicy
) -> None:
    sends: dict[str, int] = {}
    for step in deliver(channels, script, policy):
        sends[step.sent.channel] = sends.get(step.sent.channel, 0) + 1
    assert all(n <= policy.max_attempts_per_channel for n in sends.values())
    assert set(sends) <= set(channels)


@PROPERTIES
@given(channel_lists, st.lists(transient, min_size=60, max_size=60), policies)
def test_a_failover_gets_a_fresh_budget_on_the_next_channel(
    channels: list[str], answers_: list[SendResult], policy: RetryPolicy
) -> None:
    """A channel that only ever answers "try later" is left after the full budget, and the
    next channel gets the full budget again, not what the first one left over."""
    script = [(answer, JITTER[1], 0.0) for answer in answers_]
    steps = deliver(channels, script, policy)
    per_channel = [sum(s.sent.channel == c for s in steps) for c in channels]
    assert per_channel == [policy.max_attempts_per_channel] * len(channels)
    failovers = [(s.sent, s.outcome) for s in steps if isinstance(s.outcome, OutcomeFailover)]
    assert [o.channel_index for _, o in failovers] == list(range(1, len(channels)))
    assert all(sent.attempts == policy.max_attempts_per_channel for sent, _ in failovers)
    assert isinstance(steps[-1].outcome, OutcomeFailed)


@PROPERTIES
@given(channel_lists, scripts(answers), policies)
def test_a_final_failure_happens_once_and_only_when_every_channel_is_spent(
    channels: list[str], script: list[Move], policy: RetryPolicy
) -> None:
    """OutcomeFailed is the one outcome that tells the officer (the dispatcher's path)."""
    steps = deliver(channels, script, policy)
    finals = [i for i, s in enumerate(steps) if isinstance(s.outcome, OutcomeFailed)]
    assert len(finals) <= 1
    if finals:
        last = steps[finals[0]]
        assert finals[0] == len(steps) - 1  # nothing is decided after it
        assert last.sent.channel_index == len(channels) - 1  # no channel was skipped
        assert not isinstance(last.result, Sent)
    if any(isinstance(s.outcome, OutcomeSent) for s in steps):
        assert not finals


@PROPERTIES
@given(channel_lists, scripts(answers), policies)
def test_a_send_records_the_rendering_of_the_channel_it_went_on(
    channels: list[str], script: list[Move], policy: RetryPolicy
) -> None:
    for step in deliver(channels, script, policy):
        if isinstance(step.outcome, OutcomeSent):
            assert isinstance(step.result, Sent)
            assert step.outcome.provider_id == step.result.provider_id
            assert step.outcome.channel == step.sent.channel
            assert step.outcome.rendering.kind == channel_kind(step.sent.channel)


def test_backoff_doubles_from_base_up_to_the_cap() -> None:
    policy = RetryPolicy(base=2.0, cap=60.0)
    assert [policy.ceiling(n) for n in range(1, 8)] == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    msg = replace(message(["bale", "sms"]), attempts=3)
    retry = decide(msg, Retry(1.0, "429"), policy, T0, jitter=0.5)
    assert retry == OutcomeRetry(7, "bale", T0, "429", T0 + timedelta(seconds=4.0))
    waited = decide(msg, Retry(30.0, "429"), policy, T0, jitter=0.5)
    assert isinstance(waited, OutcomeRetry)
    assert waited.not_before == T0 + timedelta(seconds=30)  # retry_after wins over backoff


@PROPERTIES
@given(channel_lists, transient, policies, st.integers(0, 7))
def test_a_channel_marked_down_moves_a_transient_failure_on_at_once(
    channels: list[str], result: SendResult, policy: RetryPolicy, spent: int
) -> None:
    """The breaker is open: the next channel now, whatever budget is left; with no next
    channel, the ordinary retry rules (the message waits for the channel to come back)."""
    msg = replace(message(channels), attempts=min(spent, policy.max_attempts_per_channel - 1))
    down = decide(msg, result, policy, T0, channel_down=True)
    up = decide(msg, result, policy, T0)
    if len(channels) > 1:
        assert isinstance(down, OutcomeFailover)
        assert (down.next_channel, down.at) == (channels[1], T0)
        assert down.reason.startswith(f"{channels[0]} is down: ")
    else:
        assert down == up


def test_a_channel_marked_down_does_not_change_a_send_or_a_permanent_failure() -> None:
    msg = message(["email", "sms"])
    policy = RetryPolicy()
    for result in (Sent("q1"), Failed("recipient refused: 550", "recipient")):
        assert decide(msg, result, policy, T0, channel_down=True) == decide(msg, result, policy, T0)
