"""Books both sides can trust, in the rules: a receipt corrected, and a step taken back, with
the seed's P1 of 55."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from vmi_rules.proposal import Actor, Proposal, ProposalState, TransitionRefused

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 21, 11, 0, tzinfo=SH)
KEEPER = Actor("keeper", "王仓管", "warehouse")
BUYER = Actor("buyer", "王采购", "buyer")
SUPPLIER = Actor("supplier", "李供应", "supplier")
P1 = Proposal(id="P1", sku="6205", qty=55)


def test_a_receipt_of_55_corrected_to_50_leaves_5_on_the_way() -> None:
    received = P1.confirm(BUYER, NOW).after.ship(SUPPLIER, NOW).after.receive(KEEPER, NOW).after
    assert received.state is ProposalState.RECEIVED
    fixed = received.correct_receipt(KEEPER, wrong=55, qty=50, at=NOW)
    assert (fixed.after.state, fixed.after.received_qty, fixed.after.outstanding) == (
        ProposalState.SHIPPED, 50, 5,
    )  # fmt: skip
    assert fixed.note == "55 -> 50"


def test_a_correction_beyond_the_order_or_by_the_buyer_is_refused() -> None:
    part = P1.confirm(BUYER, NOW).after.receive(KEEPER, NOW, qty=20).after
    with pytest.raises(TransitionRefused) as too_many:
        part.correct_receipt(KEEPER, wrong=20, qty=56, at=NOW)
    assert too_many.value.reason == "over_receipt"
    with pytest.raises(TransitionRefused) as wrong_role:
        part.correct_receipt(BUYER, wrong=20, qty=25, at=NOW)
    assert wrong_role.value.reason == "wrong_role"
    fixed = part.correct_receipt(KEEPER, wrong=20, qty=55, at=NOW).after
    assert fixed.state is ProposalState.RECEIVED


def test_taking_back_a_confirmation_an_adjustment_and_a_rejection() -> None:
    confirmed = P1.confirm(BUYER, NOW).after
    back = confirmed.take_back(BUYER, "confirm", 0, ProposalState.PROPOSED, NOW).after
    assert (back.state, back.qty, back.decided_by) == (ProposalState.PROPOSED, 55, "")
    adjusted = P1.adjust(BUYER, 60, NOW).after
    back = adjusted.take_back(BUYER, "adjust", 60, ProposalState.PROPOSED, NOW, 55).after
    assert (back.state, back.qty) == (ProposalState.PROPOSED, 55)
    rejected = P1.reject(BUYER, "库存够用", NOW).after
    back = rejected.take_back(BUYER, "reject", 0, ProposalState.PROPOSED, NOW).after
    assert (back.state, back.reject_reason, back.outstanding) == (ProposalState.PROPOSED, "", 55)


def test_taking_back_a_part_shipment_and_a_receipt() -> None:
    shipped = P1.confirm(BUYER, NOW).after.ship(SUPPLIER, NOW, qty=30).after
    back = shipped.take_back(SUPPLIER, "ship", 30, ProposalState.CONFIRMED, NOW).after
    assert (back.state, back.shipped_qty, back.to_ship) == (ProposalState.CONFIRMED, 0, 55)
    received = replace(shipped, state=ProposalState.SHIPPED).receive(KEEPER, NOW).after
    back = received.take_back(KEEPER, "receive", 30, ProposalState.SHIPPED, NOW).after
    assert (back.state, back.received_qty, back.outstanding) == (ProposalState.SHIPPED, 0, 55)
    unshipped = P1.confirm(BUYER, NOW).after.receive(KEEPER, NOW).after  # never marked sent
    back = unshipped.take_back(KEEPER, "receive", 55, ProposalState.CONFIRMED, NOW).after
    assert (back.state, back.shipped_qty, back.to_ship) == (ProposalState.CONFIRMED, 0, 55)


def test_a_step_that_is_not_taken_back_is_refused() -> None:
    with pytest.raises(TransitionRefused):
        P1.take_back(BUYER, "decline", 0, ProposalState.PROPOSED, NOW)
