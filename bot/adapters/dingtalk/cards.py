"""A proposal card as a DingTalk interactive card (互动卡片), and a click on one read back.
Pure translation, no I/O.

An interactive card is an instance of a template built once per app in DingTalk's card builder
(docs/dingtalk_card_template.json says what it holds): our `cardParamMap` fills its variables
(every value a string), its buttons answer through the card callback with their actionId
(confirm, adjust, reject) and the `proposal` param, Adjust with the quantity typed into its
`qty` box, Reject with the reason typed into its `reason` box. After a click the card is
updated by key: the `outcome` shown, `status` "done" hides the buttons, for everyone who sees
that card.

Only a card whose buttons are a proposal's Confirm / Adjust / Reject fits the template; any
other card with buttons (a statement, an amendment) stays an ActionCard.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from bot.adapters.dingtalk.render import card_markdown, title_of
from messages.cards import Card

CARD_ACTIONS = ("confirm", "adjust", "reject")  # the template's buttons, by actionId
PROPOSAL_PARAM = "proposal"
QTY_PARAM = "qty"  # Adjust's input box
REASON_PARAM = "reason"  # Reject's input box
OPEN, DONE = "open", "done"  # `status`: buttons shown, buttons hidden
OUT_TRACK_PREFIX = "vmi-"
OUT_TRACK_LIMIT = 128  # DingTalk's most for an outTrackId
GROUP_SPACE = "dtv1.card//IM_GROUP."
ROBOT_SPACE = "dtv1.card//IM_ROBOT."


def out_track_id(row_key: str) -> str:
    """The card's outTrackId: the outbox row's own key, so a redelivery names the same card."""
    return (OUT_TRACK_PREFIX + row_key)[:OUT_TRACK_LIMIT]


def row_key_of(track_id: str) -> str | None:
    """The outbox row's key an outTrackId was made from; None for one this bot did not make."""
    if not track_id.startswith(OUT_TRACK_PREFIX):
        return None
    return track_id.removeprefix(OUT_TRACK_PREFIX)


def _proposal_of(value: str) -> str:
    return value.partition("~")[0].partition("@")[0]


def card_params(card: Card, *, group: bool = False) -> dict[str, str] | None:
    """The template's variables for `card`, when its buttons are one proposal's Confirm,
    Adjust and Reject (some of them); None for any other card."""
    buttons = card.buttons
    actions = [b.action for b in buttons]
    if not buttons or len(set(actions)) != len(actions):
        return None
    if any(a not in CARD_ACTIONS for a in actions):
        return None
    if len({_proposal_of(b.value) for b in buttons}) != 1:
        return None
    by_action = {b.action: b for b in buttons}
    # Confirm's value carries the quantity the card shows ("P1@55"); the others ignore it
    pressed = (by_action.get("confirm") or buttons[0]).value
    params = {
        "title": title_of(card),
        # the title is the template's own; in a group, what to type says to @mention the robot
        "body": card_markdown(replace(card, title=""), typed=None if group else (), group=group),
        PROPOSAL_PARAM: pressed,
        "status": OPEN,
        "outcome": "",
        "urgent": "true" if card.urgent else "false",
    }
    for action in CARD_ACTIONS:
        button = by_action.get(action)
        params[f"{action}_label"] = " ".join(button.label.split()) if button else ""
    adjust = by_action.get("adjust")
    params["qty_placeholder"] = adjust.text_equivalent if adjust else ""
    reject = by_action.get("reject")
    params["reason_placeholder"] = reject.text_equivalent if reject else ""
    return params


def outcome_params(reply: Card) -> dict[str, str]:
    """What a clicked card shows afterwards, for everyone: the answer, and no buttons."""
    return {"outcome": card_markdown(reply), "status": DONE}


def open_space(chat: str, *, group: bool) -> str:
    """The openSpaceId of a group (its openConversationId) or of a person's chat with the
    robot (their userId)."""
    return (GROUP_SPACE if group else ROBOT_SPACE) + chat


@dataclass(frozen=True)
class Click:
    """A button pressed on one of our interactive cards."""

    out_track_id: str
    user: str
    action: str
    proposal: str
    qty: str = ""  # typed into Adjust's box
    reason: str = ""  # typed into Reject's box


def parse_click(data: dict[str, Any]) -> Click | None:
    """A card callback's data as a `Click`; None when it is not a press of one of the
    template's buttons on a card with a proposal."""
    track, user = data.get("outTrackId"), data.get("userId")
    if not isinstance(track, str) or not track or not isinstance(user, str) or not user:
        return None
    content = data.get("content")
    try:
        parsed = json.loads(content) if isinstance(content, str) else content
    except ValueError:
        return None
    private = parsed.get("cardPrivateData") if isinstance(parsed, dict) else None
    if not isinstance(private, dict):
        return None
    ids, params = private.get("actionIds"), private.get("params")
    if not isinstance(ids, list) or not ids or not isinstance(params, dict):
        return None
    action, proposal = ids[0], params.get(PROPOSAL_PARAM)
    if action not in CARD_ACTIONS or not isinstance(proposal, str) or not proposal.strip():
        return None
    return Click(track, user, str(action), proposal.strip(), _typed(params.get(QTY_PARAM)),
                 _typed(params.get(REASON_PARAM)))  # fmt: skip


def _typed(value: object) -> str:
    """What was typed into a box: its text, or a number DingTalk sent as one."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return ""
    return " ".join(str(value).split())
