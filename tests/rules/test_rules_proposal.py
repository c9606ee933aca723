"""Proposal life (rule 5) and the inventory position it feeds (rule 2)."""

from dataclasses import replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from vmi_rules.proposal import (
    ALLOWED_ROLES,
    IN_TRANSIT_STATES,
    OPEN_STATES,
    SYSTEM,
    Actor,
    Proposal,
    ProposalState,
    TransitionRefused,
    in_transit,
    position,
)

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 21, 11, 0, tzinfo=SH)
KEEPER = Actor("keeper", "王仓管", "warehouse")
BUYER = Actor("buyer", "王采购", "buyer")
SUPPLIER = Actor("supplier", "李供应", "supplier")
ADMIN = Actor("admin", "管理员", "admin")

P1 = Proposal(id="P1", sku="6205", qty=55)


def in_state(state: ProposalState, **changes: object) -> Proposal:
    return replace(P1, state=state, decided_by="王采购", **changes)  # type: ignore[arg-type]


# --- transitions ---------------------------------------------------------------------------


def test_confirm_moves_proposed_to_confirmed_and_names_the_buyer() -> None:
    step = P1.confirm(BUYER, NOW)
    assert step.action == "confirm"
    assert step.after.state is ProposalState.CONFIRMED
    assert step.after.decided_by == "王采购"
    assert (step.before, step.by, step.at) == (P1, BUYER, NOW)


def test_transitions_return_a_new_proposal_and_leave_the_old_one_alone() -> None:
    step = P1.confirm(BUYER, NOW)
    assert P1.state is ProposalState.PROPOSED
    assert step.after is not P1


def test_adjust_changes_the_quantity_and_confirms() -> None:
    step = P1.adjust(BUYER, 60, NOW)
    assert step.action == "adjust"
    assert step.qty == 60
    assert (step.after.qty, step.after.state) == (60, ProposalState.CONFIRMED)
    assert step.after.outstanding == 60


def test_reject_keeps_the_reason_and_closes_it() -> None:
    step = P1.reject(BUYER, "下月停产", NOW)
    assert step.after.state is ProposalState.REJECTED
    assert step.after.reject_reason == "下月停产"
    assert step.note == "下月停产"
    assert not step.after.is_open
    assert step.after.outstanding == 0


def test_ship_from_confirmed_with_an_eta() -> None:
    confirmed = P1.confirm(BUYER, NOW).after
    step = confirmed.ship(SUPPLIER, NOW, eta=date(2026, 11, 24))
    assert step.after.state is ProposalState.SHIPPED
    assert step.after.eta == date(2026, 11, 24)
    assert step.after.decided_by == "李供应"


def test_receive_in_full_after_shipping() -> None:
    shipped = in_state(ProposalState.SHIPPED)
    step = shipped.receive(KEEPER, NOW)
    assert step.qty == 55
    assert step.after.state is ProposalState.RECEIVED
    assert step.after.received_qty == 55
    assert step.after.outstanding == 0
    assert step.after.decided_by == "王仓管"


def test_receive_a_confirmed_proposal_the_supplier_forgot_to_mark_shipped() -> None:
    step = in_state(ProposalState.CONFIRMED).receive(KEEPER, NOW)
    assert step.after.state is ProposalState.RECEIVED


def test_partial_receipt_keeps_the_rest_in_transit() -> None:
    step = in_state(ProposalState.SHIPPED).receive(KEEPER, NOW, qty=30)
    assert step.qty == 30
    assert step.after.state is ProposalState.SHIPPED
    assert step.after.received_qty == 30
    assert step.after.outstanding == 25
    assert step.after.in_transit == 25


def test_second_partial_receipt_completes_it() -> None:
    partly = in_state(ProposalState.SHIPPED).receive(KEEPER, NOW, qty=30).after
    step = partly.receive(KEEPER, NOW)
    assert step.qty == 25
    assert step.after.state is ProposalState.RECEIVED
    assert step.after.received_qty == 55


def test_over_delivery_is_accepted_and_recorded_as_it_arrived() -> None:
    step = in_state(ProposalState.SHIPPED).receive(KEEPER, NOW, qty=60)
    assert step.qty == 60
    assert step.after.state is ProposalState.RECEIVED
    assert step.after.received_qty == 60
    assert step.after.outstanding == 0


def test_expire_is_done_by_the_bot() -> None:
    step = P1.expire(NOW)
    assert step.by == SYSTEM
    assert step.after.state is ProposalState.EXPIRED
    assert not step.after.is_open


@pytest.mark.parametrize(
    "do",
    [
        lambda p: p.confirm(ADMIN, NOW),
        lambda p: p.adjust(ADMIN, 10, NOW),
        lambda p: p.reject(ADMIN, "x", NOW),
    ],
)
def test_admin_may_take_the_buyers_steps(do) -> None:  # type: ignore[no-untyped-def]
    assert do(P1).by == ADMIN


def test_admin_may_ship_and_receive() -> None:
    shipped = in_state(ProposalState.CONFIRMED).ship(ADMIN, NOW).after
    assert shipped.receive(ADMIN, NOW).after.state is ProposalState.RECEIVED


def test_allowed_roles_per_action() -> None:
    assert {
        "confirm": {"buyer", "admin"},
        "adjust": {"buyer", "admin"},
        "reject": {"buyer", "admin"},
        "ship": {"supplier", "admin"},
        "receive": {"warehouse", "admin"},
        "expire": {"system"},
        "resize": {"system"},
        "eta": {"supplier", "admin"},
        "decline": {"supplier", "admin"},
        "cancel": {"buyer", "admin"},
        "correct_receipt": {"warehouse", "admin"},
    } == ALLOWED_ROLES


# --- refusals ------------------------------------------------------------------------------


def refusal(call) -> TransitionRefused:  # type: ignore[no-untyped-def]
    with pytest.raises(TransitionRefused) as caught:
        call()
    return caught.value


def test_keeper_clicking_confirm_is_refused_for_the_role() -> None:
    refused = refusal(lambda: P1.confirm(KEEPER, NOW))
    assert refused.reason == "wrong_role"
    assert refused.allowed_roles == {"buyer", "admin"}
    assert refused.action == "confirm"


def test_role_is_checked_before_state() -> None:
    refused = refusal(lambda: in_state(ProposalState.REJECTED).confirm(KEEPER, NOW))
    assert refused.reason == "wrong_role"


@pytest.mark.parametrize(
    ("actor", "action"),
    [
        (SUPPLIER, lambda p, a: p.confirm(a, NOW)),
        (KEEPER, lambda p, a: p.adjust(a, 10, NOW)),
        (SUPPLIER, lambda p, a: p.reject(a, "x", NOW)),
        (BUYER, lambda p, a: p.ship(a, NOW)),
        (SUPPLIER, lambda p, a: p.receive(a, NOW)),
        (BUYER, lambda p, a: p.receive(a, NOW)),
    ],
)
def test_wrong_roles_are_refused(actor: Actor, action) -> None:  # type: ignore[no-untyped-def]
    for state in ProposalState:
        assert refusal(lambda s=state: action(in_state(s), actor)).reason == "wrong_role"


@pytest.mark.parametrize(
    "state", [ProposalState.CONFIRMED, ProposalState.SHIPPED, ProposalState.RECEIVED]
)
def test_second_confirm_answers_already_confirmed_by(state: ProposalState) -> None:
    refused = refusal(lambda: in_state(state).confirm(BUYER, NOW))
    assert refused.reason == "already"
    assert refused.decided_by == "王采购"
    assert refused.state is state


def test_second_click_after_a_real_confirm_names_who_confirmed() -> None:
    confirmed = P1.confirm(BUYER, NOW).after
    other_buyer = Actor("buyer2", "赵采购", "buyer")
    refused = refusal(lambda: confirmed.confirm(other_buyer, NOW))
    assert (refused.reason, refused.decided_by) == ("already", "王采购")


@pytest.mark.parametrize("state", [ProposalState.REJECTED, ProposalState.EXPIRED])
def test_confirm_a_closed_proposal_is_not_allowed(state: ProposalState) -> None:
    assert refusal(lambda: in_state(state).confirm(BUYER, NOW)).reason == "not_allowed"


def test_adjust_after_confirmation_is_already_decided() -> None:
    assert refusal(lambda: in_state(ProposalState.CONFIRMED).adjust(BUYER, 60, NOW)).reason == (
        "already"
    )


def test_adjust_a_rejected_proposal_is_not_allowed() -> None:
    refused = refusal(lambda: in_state(ProposalState.REJECTED).adjust(BUYER, 60, NOW))
    assert refused.reason == "not_allowed"


@pytest.mark.parametrize("qty", [0, -5])
def test_adjust_to_nothing_or_less_is_a_bad_quantity(qty: int) -> None:
    assert refusal(lambda: P1.adjust(BUYER, qty, NOW)).reason == "bad_quantity"


def test_state_is_checked_before_quantity() -> None:
    assert refusal(lambda: in_state(ProposalState.CONFIRMED).adjust(BUYER, 0, NOW)).reason == (
        "already"
    )


def test_reject_twice_is_already() -> None:
    assert refusal(lambda: in_state(ProposalState.REJECTED).reject(BUYER, "x", NOW)).reason == (
        "already"
    )


@pytest.mark.parametrize(
    "state",
    [ProposalState.CONFIRMED, ProposalState.SHIPPED, ProposalState.RECEIVED, ProposalState.EXPIRED],
)
def test_reject_after_proposed_is_not_allowed(state: ProposalState) -> None:
    assert refusal(lambda: in_state(state).reject(BUYER, "x", NOW)).reason == "not_allowed"


def test_ship_a_proposal_nobody_confirmed_is_not_allowed() -> None:
    assert refusal(lambda: P1.ship(SUPPLIER, NOW)).reason == "not_allowed"


@pytest.mark.parametrize("state", [ProposalState.SHIPPED, ProposalState.RECEIVED])
def test_ship_twice_is_already(state: ProposalState) -> None:
    refused = refusal(lambda: in_state(state).ship(SUPPLIER, NOW))
    assert (refused.reason, refused.decided_by) == ("already", "王采购")


@pytest.mark.parametrize("state", [ProposalState.REJECTED, ProposalState.EXPIRED])
def test_ship_a_closed_proposal_is_not_allowed(state: ProposalState) -> None:
    assert refusal(lambda: in_state(state).ship(SUPPLIER, NOW)).reason == "not_allowed"


@pytest.mark.parametrize(
    "state", [ProposalState.PROPOSED, ProposalState.REJECTED, ProposalState.EXPIRED]
)
def test_receive_what_was_never_confirmed_is_not_allowed(state: ProposalState) -> None:
    assert refusal(lambda: in_state(state).receive(KEEPER, NOW)).reason == "not_allowed"


def test_receive_twice_is_already() -> None:
    received = in_state(ProposalState.SHIPPED).receive(KEEPER, NOW).after
    refused = refusal(lambda: received.receive(KEEPER, NOW))
    assert (refused.reason, refused.decided_by) == ("already", "王仓管")


@pytest.mark.parametrize("qty", [0, -1])
def test_receive_nothing_or_less_is_a_bad_quantity(qty: int) -> None:
    refused = refusal(lambda: in_state(ProposalState.SHIPPED).receive(KEEPER, NOW, qty=qty))
    assert refused.reason == "bad_quantity"


def test_expire_twice_is_already() -> None:
    assert refusal(lambda: in_state(ProposalState.EXPIRED).expire(NOW)).reason == "already"


@pytest.mark.parametrize(
    "state", [ProposalState.CONFIRMED, ProposalState.SHIPPED, ProposalState.REJECTED]
)
def test_expire_after_a_decision_is_not_allowed(state: ProposalState) -> None:
    assert refusal(lambda: in_state(state).expire(NOW)).reason == "not_allowed"


def test_refusal_message_says_what_and_why() -> None:
    refused = refusal(lambda: in_state(ProposalState.CONFIRMED).confirm(BUYER, NOW))
    assert "confirm" in str(refused)
    assert "王采购" in str(refused)


# --- quantities and position ---------------------------------------------------------------


def test_open_and_in_transit_states() -> None:
    assert {s.value for s in OPEN_STATES} == {"proposed", "confirmed", "shipped"}
    assert {s.value for s in IN_TRANSIT_STATES} == {"confirmed", "shipped"}


def test_a_proposed_proposal_is_outstanding_but_not_in_transit() -> None:
    assert (P1.outstanding, P1.in_transit) == (55, 0)


def test_position_counts_every_open_proposal_and_skips_closed_ones() -> None:
    proposals = [
        P1,
        replace(P1, id="P2", qty=20, urgent=True, state=ProposalState.SHIPPED, received_qty=5),
        replace(P1, id="P3", state=ProposalState.REJECTED),
        replace(P1, id="P4", state=ProposalState.RECEIVED, received_qty=55),
    ]
    assert position(45, proposals) == 45 + 55 + 15
    assert in_transit(proposals) == 15


def test_proposal_needs_a_positive_quantity() -> None:
    with pytest.raises(ValueError, match="positive"):
        Proposal(id="P9", sku="6205", qty=0)


def test_the_review_resizes_only_a_proposal_nobody_confirmed() -> None:
    step = P1.resize(70, NOW, "below_min")
    assert (step.after.qty, step.after.state, step.by) == (70, ProposalState.PROPOSED, SYSTEM)
    assert step.note == "55 -> 70 (below_min)"
    with pytest.raises(TransitionRefused) as refused:
        in_state(ProposalState.CONFIRMED).resize(70, NOW)
    assert refused.value.reason == "not_allowed"
