"""Buttons no card of ours carries: pressed anyway (a forged payload, an old client), they are
not understood and change nothing, and the answer never reads like a half-filled form."""

from __future__ import annotations

import json
import time

import pytest

from bot.storage.tables import LedgerRow, ProposalRow
from tests.faults.edge import BUYER, FORM, Edge, press


@pytest.mark.parametrize("action", ["expire", "cancel", "decline", "nonsense"])
@pytest.mark.probe("a button for a step no role may take: not understood, nothing changed")
def test_a_button_of_no_step_people_take_is_not_understood(edge: Edge, action: str) -> None:
    status, _ = edge.slack_post(press(action, "P1", BUYER, f"{time.time():.6f}"), FORM)
    assert status == 200
    edge.delivered()
    [answer] = edge.slack.calls_to("chat.postEphemeral")
    text = json.dumps([answer.params.get("text"), answer.params.get("blocks")], ensure_ascii=False)
    assert "没看懂" in text and "只有" not in text and "可以做" not in text
    assert edge.count(LedgerRow) == 0 and edge.count(ProposalRow) == 0
