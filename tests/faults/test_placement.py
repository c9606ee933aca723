"""A message belongs to the agreement of the chat it was said in, or, one to one, to the one
agreement its sender takes part in (asked which when several), never to another: a supplier
serves many customers, and one customer's stock must not be read or written from another's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.services.review import review
from bot.storage.db import transaction
from bot.storage.tables import LedgerRow, ProposalRow
from tests.faults.edge import KEEPER, SUPPLIER, Edge, served, slack_message
from tests.support import EXAMPLE, shanghai

OTHER_CHANNEL = "C02GEAR"
OTHER_KEEPER = "U02KEEPER"

# A second customer of the same supplier, in a channel of its own, with an item of its own.
SECOND_CUSTOMER = f"""
[[parties]]
id = "gear-plant"
name = "齿轮厂"
role = "customer"

[[members]]
id = "gear-keeper"
name = "赵仓管"
party = "gear-plant"
role = "warehouse"
slack = "{OTHER_KEEPER}"

[[members]]
id = "boss"
name = "总管"
role = "admin"
slack = "U03BOSS"

[[agreements]]
id = "gear-m8"
customer = "gear-plant"
supplier = "bearing-co"
slack_channel = "{OTHER_CHANNEL}"

[[agreements.items]]
sku = "M8"
name = "M8 螺栓"
unit = "件"
min = 100
max = 400
unit_price = 0.3
lead_time_days = 2
"""


@pytest.fixture
def two(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Edge]:
    """The example agreement and a second customer of the same supplier."""
    config = tmp_path / "two.toml"
    text = EXAMPLE.read_text(encoding="utf-8")
    # the example's sections after [[parties]] stay in place; the new ones go at the end
    config.write_text(text + SECOND_CUSTOMER, encoding="utf-8")
    with served(tmp_path, monkeypatch, config) as running:
        yield running


def ledger(edge: Edge) -> list[tuple[str, str, int]]:
    with transaction(edge.runtime.engine, read_only=True) as session:
        rows = session.execute(select(LedgerRow.agreement_id, LedgerRow.sku, LedgerRow.qty))
        return [tuple(row) for row in rows]  # type: ignore[misc]


def said_in(edge: Edge, channel: str) -> list[str]:
    """Every text the bot posted or threaded in `channel`, blocks included."""
    edge.delivered()
    return [
        json.dumps([call.params.get("text"), call.params.get("blocks")], ensure_ascii=False)
        for call in edge.slack.calls_to("chat.postMessage")
        if call.params.get("channel") == channel
    ]


@pytest.mark.probe("keeper of A counts A's item in B's channel: nothing written, no A figures")
def test_a_count_in_another_agreements_channel_is_refused(two: Edge) -> None:
    two.slack_post(slack_message("6205 库存 45", user=KEEPER))  # A's own channel: recorded
    status, _ = two.slack_post(slack_message("6205 库存 77", user=KEEPER, channel=OTHER_CHANNEL))
    assert status == 200
    assert ledger(two) == [("plant-6205", "6205", 45)]
    there = " ".join(said_in(two, OTHER_CHANNEL))
    assert "gear-m8" in there and "plant-6205" not in there
    assert "45" not in there and "深沟球轴承" not in there


@pytest.mark.probe("keeper of A asks about B's item in B's channel: A's items are not listed")
def test_an_unknown_item_in_another_channel_lists_nothing_of_a(two: Edge) -> None:
    two.slack_post(slack_message("M8 库存 3", user=KEEPER, channel=OTHER_CHANNEL))
    assert ledger(two) == []
    there = " ".join(said_in(two, OTHER_CHANNEL))
    assert there and "深沟球轴承" not in there and "6205" not in there


@pytest.mark.probe("supplier of two customers, one to one, names no agreement: asked which")
def test_a_member_of_two_agreements_is_asked_which(two: Edge) -> None:
    two.slack_post(slack_message("6205 库存 45", user=KEEPER))
    dm = "D01SUPPLIER"
    event = json.loads(slack_message("状态", user=SUPPLIER, channel=dm))
    event["event"]["channel_type"] = "im"
    two.slack_post(json.dumps(event))
    asked = " ".join(said_in(two, dm))
    assert "plant-6205" in asked and "gear-m8" in asked and "现有" not in asked
    event = json.loads(slack_message("plant-6205: 状态", user=SUPPLIER, channel=dm))
    event["event"]["channel_type"] = "im"
    two.slack_post(json.dumps(event))
    answered = said_in(two, dm)[-1]
    assert "45" in answered and "M8" not in answered


@pytest.mark.probe("a proposal of A confirmed from B's channel: refused, A's proposal unchanged")
def test_a_proposal_cannot_be_acted_on_from_another_agreements_channel(two: Edge) -> None:
    two.slack_post(slack_message("6205 库存 20", user=KEEPER))
    with transaction(two.runtime.engine) as session:
        proposed = review(session, two.runtime.config, shanghai(2026, 11, 21, 10))
    assert proposed
    admin_of_both = "U03BOSS"  # an admin of no party takes part in every agreement
    two.slack_post(slack_message("确认 P1", user=admin_of_both, channel=OTHER_CHANNEL))
    there = " ".join(said_in(two, OTHER_CHANNEL))
    assert "P1" in there and "已确认" not in there
    with transaction(two.runtime.engine, read_only=True) as session:
        assert session.scalar(select(ProposalRow.state)) == "proposed"


@pytest.mark.probe("a member of two agreements sends 20,000 characters one to one: too long")
def test_a_huge_message_is_too_long_before_anyone_asks_which_agreement(two: Edge) -> None:
    dm = "D01SUPPLIER"
    event = json.loads(slack_message("6205 库存 45\n" * 1_700, user=SUPPLIER, channel=dm))
    event["event"]["channel_type"] = "im"
    two.slack_post(json.dumps(event))
    [answer] = said_in(two, dm)
    assert "消息太长" in answer and "10,000" in answer and "哪个协议" not in answer
    assert ledger(two) == []
