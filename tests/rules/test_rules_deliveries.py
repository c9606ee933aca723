"""Deliveries as they really happen, with the seed's numbers (on hand 45, min 50, max 100: P1
proposes 55): shipped in parts, a new ETA, declined by the supplier, cancelled by the buyer,
rejected with a reason, and a review that does not ask the same question twice."""

from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from vmi_rules.proposal import (
    Actor,
    Proposal,
    ProposalState,
    TransitionRefused,
    in_transit,
    position,
)
from vmi_rules.review import Rejection, review_item
from vmi_rules.terms import Item

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 21, 11, 0, tzinfo=SH)
TODAY = NOW.date()
KEEPER = Actor("keeper", "王仓管", "warehouse")
BUYER = Actor("buyer", "王采购", "buyer")
SUPPLIER = Actor("supplier", "李供应", "supplier")
BEARING = Item(sku="6205", name="6205 深沟球轴承", min=50, max=100, lead_time_days=3)
ON_HAND = 45

P1 = Proposal(id="P1", sku="6205", qty=55)
CONFIRMED = P1.confirm(BUYER, NOW).after


def refused(reason: str, step: object) -> None:
    """Assert the step (a zero-argument callable) is refused for `reason`."""
    with pytest.raises(TransitionRefused) as caught:
        step()  # type: ignore[operator]
    assert caught.value.reason == reason


# --- part shipments -------------------------------------------------------------------------


def test_a_part_shipment_ships_part_and_leaves_the_rest_to_ship() -> None:
    step = CONFIRMED.ship(SUPPLIER, NOW, qty=30)
    after = step.after
    assert (after.state, after.shipped_qty, after.to_ship, step.qty) == (
        ProposalState.SHIPPED, 30, 25, 30,
    )  # fmt: skip
    # the position and what is in transit do not depend on how much has left (rule 2)
    assert position(ON_HAND, [after]) == position(ON_HAND, [CONFIRMED]) == 100
    assert in_transit([after]) == in_transit([CONFIRMED]) == 55


def test_a_second_shipment_sends_the_rest_and_then_shipping_is_done() -> None:
    part = CONFIRMED.ship(SUPPLIER, NOW, qty=30).after
    rest = part.ship(SUPPLIER, NOW)
    assert (rest.qty, rest.after.shipped_qty, rest.after.to_ship) == (25, 55, 0)
    refused("already", lambda: rest.after.ship(SUPPLIER, NOW))


def test_more_than_is_left_to_ship_is_refused() -> None:
    part = CONFIRMED.ship(SUPPLIER, NOW, qty=30).after
    refused("over_ship", lambda: part.ship(SUPPLIER, NOW, qty=26))
    refused("over_ship", lambda: CONFIRMED.ship(SUPPLIER, NOW, qty=56))
    refused("bad_quantity", lambda: CONFIRMED.ship(SUPPLIER, NOW, qty=0))


def test_receipts_count_against_what_was_shipped() -> None:
    part = CONFIRMED.ship(SUPPLIER, NOW, qty=30).after
    first = part.receive(KEEPER, NOW)  # "入库 P1": what was sent, not all 55
    assert (first.qty, first.after.state, first.after.outstanding) == (
        30, ProposalState.SHIPPED, 25,
    )  # fmt: skip
    assert position(ON_HAND + 30, [first.after]) == 100
    rest = first.after.ship(SUPPLIER, NOW).after
    last = rest.receive(KEEPER, NOW)
    assert (last.qty, last.after.state, last.after.outstanding) == (25, ProposalState.RECEIVED, 0)


def test_goods_taken_in_before_they_were_marked_shipped_count_as_sent() -> None:
    early = CONFIRMED.receive(KEEPER, NOW, qty=20).after  # the supplier forgot to click
    assert early.to_ship == 35
    assert early.ship(SUPPLIER, NOW).after.shipped_qty == 55


def test_a_proposal_shipped_before_part_shipments_were_kept_was_shipped_whole() -> None:
    old = Proposal(id="P1", sku="6205", qty=55, state=ProposalState.SHIPPED)
    assert (old.shipped_qty, old.to_ship, old.on_the_way) == (55, 0, 55)


# --- a new ETA ------------------------------------------------------------------------------


def test_the_supplier_moves_the_eta_of_goods_on_their_way() -> None:
    shipped = CONFIRMED.ship(SUPPLIER, NOW, eta=date(2026, 11, 24)).after
    step = shipped.change_eta(SUPPLIER, date(2026, 11, 26), NOW, TODAY)
    assert (step.action, step.after.eta, step.after.state) == (
        "eta", date(2026, 11, 26), ProposalState.SHIPPED,
    )  # fmt: skip
    assert (step.by, step.at, step.note) == (SUPPLIER, NOW, "2026-11-26")
    assert CONFIRMED.change_eta(SUPPLIER, TODAY, NOW, TODAY).after.eta == TODAY


def test_an_eta_in_the_past_or_by_the_wrong_role_or_once_received_is_refused() -> None:
    shipped = CONFIRMED.ship(SUPPLIER, NOW).after
    refused("past_eta", lambda: shipped.change_eta(SUPPLIER, TODAY - timedelta(days=1), NOW, TODAY))
    refused("wrong_role", lambda: shipped.change_eta(BUYER, TODAY, NOW, TODAY))
    received = shipped.receive(KEEPER, NOW).after
    refused("not_allowed", lambda: received.change_eta(SUPPLIER, TODAY, NOW, TODAY))


# --- declined, cancelled, rejected: each with a reason --------------------------------------


@pytest.mark.parametrize("before", [P1, CONFIRMED], ids=["proposed", "confirmed"])
def test_the_supplier_declines_before_anything_is_shipped(before: Proposal) -> None:
    step = before.decline(SUPPLIER, "原材料缺货", NOW)
    after = step.after
    assert (after.state, after.reject_reason, after.is_open, step.note) == (
        ProposalState.DECLINED, "原材料缺货", False, "原材料缺货",
    )  # fmt: skip
    assert position(ON_HAND, [after]) == ON_HAND  # nothing is coming any more
    refused("already", lambda: after.decline(SUPPLIER, "again", NOW))


def test_declining_needs_a_reason_the_supplier_and_nothing_shipped() -> None:
    refused("needs_reason", lambda: P1.decline(SUPPLIER, " ", NOW))
    refused("wrong_role", lambda: P1.decline(BUYER, "x", NOW))
    part = CONFIRMED.ship(SUPPLIER, NOW, qty=10).after
    refused("not_allowed", lambda: part.decline(SUPPLIER, "x", NOW))


def test_the_buyer_cancels_a_confirmed_proposal_before_it_ships() -> None:
    after = CONFIRMED.cancel(BUYER, "产线停了", NOW).after
    assert (after.state, after.reject_reason, after.outstanding) == (
        ProposalState.CANCELLED, "产线停了", 0,
    )  # fmt: skip
    refused("needs_reason", lambda: CONFIRMED.cancel(BUYER, "", NOW))
    refused("not_allowed", lambda: P1.cancel(BUYER, "x", NOW))  # proposed: that is a rejection
    refused(
        "not_allowed", lambda: CONFIRMED.ship(SUPPLIER, NOW, qty=1).after.cancel(BUYER, "x", NOW)
    )
    refused("wrong_role", lambda: CONFIRMED.cancel(SUPPLIER, "x", NOW))


def test_a_rejection_needs_a_reason_and_keeps_the_position_it_leaves() -> None:
    refused("needs_reason", lambda: P1.reject(BUYER, "", NOW))
    step = P1.reject(BUYER, "库存够用", NOW, position_left=ON_HAND)
    assert (step.after.state, step.after.reject_reason, step.qty) == (
        ProposalState.REJECTED, "库存够用", ON_HAND,
    )  # fmt: skip


# --- the review after a rejection -----------------------------------------------------------

REJECTED = Rejection(proposal_id="P1", reason="库存够用", at=NOW, position=ON_HAND)


def review(on_hand: int, now: datetime, rejected: Rejection | None = REJECTED):  # type: ignore[no-untyped-def]
    return review_item(BEARING, on_hand, [], [], now, 3, rejected)


def test_right_after_a_rejection_the_same_is_not_proposed_again() -> None:
    decision = review(ON_HAND, NOW + timedelta(minutes=5))
    assert (decision.action, decision.reason, decision.rejected) == (
        "none", "rejected_recently", REJECTED,
    )  # fmt: skip


def test_once_the_position_changes_it_proposes_and_says_it_was_rejected_before() -> None:
    decision = review(ON_HAND - 5, NOW + timedelta(hours=1))  # 5 withdrawn since
    assert (decision.action, decision.qty, decision.rejected) == ("propose", 60, REJECTED)


def test_once_a_review_cycle_has_passed_it_proposes_again() -> None:
    decision = review(ON_HAND, NOW + timedelta(days=3))
    assert (decision.action, decision.qty, decision.rejected) == ("propose", 55, REJECTED)
    assert review(ON_HAND, NOW + timedelta(days=3) - timedelta(seconds=1)).action == "none"


def test_without_a_rejection_the_seed_case_proposes_55() -> None:
    decision = review(ON_HAND, NOW, rejected=None)
    assert (decision.action, decision.qty, decision.rejected) == ("propose", 55, None)


def test_a_rejection_does_not_hold_back_a_review_that_proposes_nothing() -> None:
    decision = review(60, NOW)  # above min: nothing to propose, and nothing to explain
    assert (decision.action, decision.reason) == ("none", "ok")


def test_replace_keeps_a_part_shipment() -> None:
    part = CONFIRMED.ship(SUPPLIER, NOW, qty=30).after
    assert replace(part, decided_by="x").shipped_qty == 30
