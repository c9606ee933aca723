"""Buttons no card of ours carries: pressed anyway (a forged payload, an old client), they are
not understood and change nothing, and the answer never reads like a half-filled form."""

from __future__ import annotations

import json
import time
import urllib.parse

import pytest

from bot.storage.tables import LedgerRow, ProposalRow
from tests.faults.edge import BUYER, CHANNEL, Edge


def pressed(action: str, value: str, user: str = BUYER) -> str:
    """A block_actions payload as Slack posts it for a button in the agreement's channel."""
    stamp = f"{time.time():.6f}"
    payload = {
        "type": "block_actions",
        "team": {"id": "T01"},
        "user": {"id": user},
        "api_app_id": "A01",
        "trigger_id": f"trigger-{stamp}",
        "channel": {"id": CHANNEL},
        "container": {"type": "message", "channel_id": CHANNEL, "message_ts": stamp},
        "message": {"ts": stamp, "text": "card"},
        "actions": [
            {
                "type": "button",
                "action_id": f"vmi:{action}",
                "block_id": "vmi_actions",
                "value": value,
                "action_ts": stamp,
            }
        ],
    }
    return urllib.parse.urlencode({"payload": json.dumps(payload)})


@pytest.mark.parametrize("action", ["expire", "cancel", "decline", "nonsense"])
@pytest.mark.probe("a button for a step no role may take: not understood, nothing changed")
def test_a_button_of_no_step_people_take_is_not_understood(edge: Edge, action: str) -> None:
    status, _ = edge.slack_post(pressed(action, "P1"), "application/x-www-form-urlencoded")
    assert status == 200
    edge.delivered()
    [answer] = edge.slack.calls_to("chat.postEphemeral")
    text = json.dumps([answer.params.get("text"), answer.params.get("blocks")], ensure_ascii=False)
    assert "没看懂" in text and "只有" not in text and "可以做" not in text
    assert edge.count(LedgerRow) == 0 and edge.count(ProposalRow) == 0
