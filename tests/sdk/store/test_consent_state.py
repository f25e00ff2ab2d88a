"""Opt-out always wins, whatever order events arrive in (property-based)."""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from consentry.sdk.consent_state import ConsentEvent, ConsentStatus, EventKind, derive_state

START = datetime(2026, 1, 1, tzinfo=UTC)
PROOF = {"method": "double_opt_in", "collection_point": "https://example.com/form", "wording": "Oui, je veux"}


def event(key: str, kind: str, day: int, *, channel: str = "email", advertiser: str = "acme", proof: bool = False):
    extra = PROOF if proof or kind == "regranted" else {"method": "imported"}
    return ConsentEvent(key, kind, channel, START + timedelta(days=day), "test", advertiser, **extra)


events_strategy = st.lists(
    st.builds(
        lambda kind, day, proof, channel: (kind, day, proof, channel),
        st.sampled_from(list(EventKind)),
        st.integers(0, 30),
        st.booleans(),
        st.sampled_from(["email", "sms", "all"]),
    ),
    min_size=1,
    max_size=12,
).map(
    lambda items: [event(f"k{i}", kind, day, proof=proof, channel=ch) for i, (kind, day, proof, ch) in enumerate(items)]
)


@settings(max_examples=300)
@given(events_strategy, st.randoms())
def test_the_order_of_arrival_never_changes_the_state(events, random):
    shuffled = list(events)
    random.shuffle(shuffled)
    assert derive_state(events, channel="email", advertiser="acme") == derive_state(
        shuffled, channel="email", advertiser="acme"
    )


@settings(max_examples=300)
@given(events_strategy)
def test_an_opt_out_is_lifted_only_by_a_later_provable_consent(events):
    state = derive_state(events, channel="email", advertiser="acme")
    relevant = [e for e in events if e.channel in ("email", "all")]
    opt_outs = [e.occurred_at for e in relevant if e.kind.opts_out]
    if not opt_outs:
        return
    latest_opt_out = max(opt_outs)
    lifting = [e for e in relevant if not e.kind.opts_out and e.is_provable and e.occurred_at > latest_opt_out]
    if lifting:
        assert state.status is ConsentStatus.GRANTED
        assert state.provable
    else:
        assert state.status is ConsentStatus.OPTED_OUT


def test_a_late_event_never_overrides_a_newer_one():
    withdrawal = event("w", "withdrawn", 10)
    stale_grant = event("g", "granted", 5, proof=True)
    assert derive_state([withdrawal, stale_grant], channel="email", advertiser="acme").status is ConsentStatus.OPTED_OUT


def test_opt_out_wins_a_tie():
    same_day = [event("g", "regranted", 3), event("o", "objected", 3)]
    assert derive_state(same_day, channel="email", advertiser="acme").status is ConsentStatus.OPTED_OUT


def test_a_consent_to_another_advertiser_does_not_lift_an_objection():
    events = [event("o", "objected", 1), event("g", "regranted", 2, advertiser="partner")]
    assert derive_state(events, channel="email", advertiser="acme").status is ConsentStatus.OPTED_OUT


def test_an_imported_subscription_does_not_lift_an_unsubscribe():
    events = [event("o", "withdrawn", 1), event("g", "granted", 2)]
    assert derive_state(events, channel="email", advertiser="acme").status is ConsentStatus.OPTED_OUT
