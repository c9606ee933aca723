"""A neutral `Card` as a Feishu message: an interactive card (card JSON 2.0) or plain text.
Pure translation, no I/O.

Every text goes in as `plain_text`, which Feishu shows exactly as given: what a person typed and
is echoed back can never become a mention, a link or markdown. A button's callback value is
`{"action": "vmi:<action>", "value": "<value>"}`, the same pair Slack's buttons carry; Adjust
is a small form, the quantity typed into its box and sent with the button.
"""

from __future__ import annotations

import json
from typing import Any

from messages.cards import Button, Card

Json = dict[str, Any]

ACTION_PREFIX = "vmi:"
QTY_FIELD = "qty"  # the Adjust form's box
URGENT_MARK = "🔴 "
TYPE_INSTEAD = "或回复 / or type: "
TEXT_LIMIT = 10_000  # far below a card's 30 KB; a statement's lines fit many times over
_STYLES = {"primary": "primary_filled", "danger": "danger", "default": "default"}


def _plain(text: str) -> Json:
    return {"tag": "plain_text", "content": text[:TEXT_LIMIT]}


def _div(text: str) -> Json:
    return {"tag": "div", "text": _plain(text)}


def button_value(button: Button) -> Json:
    """What Feishu sends back when the button is pressed."""
    return {"action": ACTION_PREFIX + button.action, "value": button.value}


def _button(button: Button, *, submit: bool = False) -> Json:
    out: Json = {
        "tag": "button",
        "text": _plain(button.label),
        "type": _STYLES.get(button.style, "default"),
        "behaviors": [{"type": "callback", "value": button_value(button)}],
    }
    if submit:
        out.update(name=f"{button.action}_{button.value}"[:100], form_action_type="submit")
    return out


def _adjust_form(button: Button) -> Json:
    """The quantity box and the Adjust button that sends it."""
    return {
        "tag": "form",
        "name": f"adjust_{button.value}"[:100],
        "elements": [
            {
                "tag": "input",
                "name": QTY_FIELD,
                "input_type": "text",
                "placeholder": _plain(button.text_equivalent or button.label),
                "width": "fill",
            },
            _button(button, submit=True),
        ],
    }


def interactive_card(card: Card, *, done_by: str | None = None) -> Json:
    """The card as Feishu's card JSON 2.0. With `done_by` it is the version shown after a
    click: no buttons, `done_by` in their place."""
    elements: list[Json] = []
    lines = "\n".join(card.lines).strip()
    if lines:
        elements.append(_div(lines))
    if card.fields:
        elements.append(_div("\n".join(f"{k}: {v}" for k, v in card.fields)))
    if done_by is not None:
        if done_by.strip():
            elements.append(_div(done_by))
    elif card.buttons:
        plain = [b for b in card.buttons if b.action != "adjust"]
        if plain:
            elements.append(
                {
                    "tag": "column_set",
                    "flex_mode": "flow",
                    "columns": [
                        {"tag": "column", "width": "auto", "elements": [_button(b)]} for b in plain
                    ],
                }
            )
        elements.extend(_adjust_form(b) for b in card.buttons if b.action == "adjust")
        typed = [b.text_equivalent.strip() for b in card.buttons if b.text_equivalent.strip()]
        if typed:
            elements.append(_div(TYPE_INSTEAD + " · ".join(typed)))
    title = " ".join(card.title.split()) or " "
    header: Json = {
        "title": _plain((URGENT_MARK if card.urgent else "") + title),
        "template": "red" if card.urgent else "blue",
    }
    # update_multi: one card for everyone in the group, so a patch changes it for all
    return {
        "schema": "2.0",
        "config": {"update_multi": True},
        "header": header,
        "body": {"elements": elements or [_div(" ")]},
    }


def message_content(card: Card) -> tuple[str, str]:
    """(msg_type, content) for im.v1.message.create: a card with buttons or fields is an
    interactive card, anything else plain text."""
    if card.buttons or card.fields or card.urgent:
        return "interactive", json.dumps(interactive_card(card), ensure_ascii=False)
    return "text", json.dumps({"text": card.as_text()}, ensure_ascii=False)


def parse_value(value: object) -> tuple[str, str] | None:
    """("confirm", "P1") from a pressed button's value; None for one this module did not make."""
    if not isinstance(value, dict):
        return None
    action, pressed = value.get("action"), value.get("value")
    if not (isinstance(action, str) and action.startswith(ACTION_PREFIX)):
        return None
    if not isinstance(pressed, str):
        return None
    name = action.removeprefix(ACTION_PREFIX)
    return (name, pressed) if name else None
