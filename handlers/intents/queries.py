"""Questions: where the stock and proposals stand (状态), and what a member can type (帮助)."""

from __future__ import annotations

from bot.services.status import status
from handlers.parsing import Help, Status
from handlers.turn import Turn, item_labels
from messages.cards import Card
from messages.words import role_label, state_labels
from vmi_rules.roles import MAY, may


def on_status(turn: Turn, intent: Status) -> Card:
    """Where the agreement's items (or one of them) stand."""
    document = status(turn.session, turn.config, turn.now, [turn.agreement.id])
    [agreement] = document["agreements"]
    items = [i for i in agreement["items"] if intent.sku in (None, i["sku"])]
    return turn.card(
        "status", agreement=agreement["id"], items=items, states=state_labels(turn.locale)
    )


def on_help(turn: Turn, intent: Help) -> Card:
    """What this member can type."""
    return help_card(turn)


def help_card(turn: Turn, puzzled: str = "") -> Card:
    """What this member can type, as far as the role table lets them (after `puzzled`, a text
    not understood)."""
    skus = [item.sku for item in turn.agreement.items] or ["6205"]
    return turn.card(
        "help",
        member_name=turn.member.name,
        may_do=[action for action in MAY if may(turn.member.role, action)],
        role_label=role_label(turn.member.role, turn.locale),
        sku=skus[0],
        others=skus[1:2],
        items=item_labels(turn.agreement),
        puzzled=puzzled,
    )
