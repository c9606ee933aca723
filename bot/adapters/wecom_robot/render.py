"""A neutral `Card` as the WeCom intelligent robot's message bodies: markdown, a
"button_interaction" template card (rendered as the self-built app's, bot.adapters.wecom.render),
the stream reply to a message, and the clicked card's update. Pure translation, no I/O.

User text is escaped by the same rules as the app's messages (full-width look-alikes for
markdown and "<" ">"). A robot message holds at most 20480 bytes of content.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot.adapters.wecom.render import BUTTONS_LIMIT, card_markdown, template_card
from messages.cards import Card
from messages.words import welcome

CONTENT_LIMIT = 20480  # bytes of markdown or stream content
# A card has no box to type in: what needs a number (adjusting a proposal) is typed, as the
# card's own "回复：…" line says; everything else is a button.
TYPED = frozenset({"adjust"})
TASK_PREFIX = "vmi-"


def markdown(card: Card) -> str:
    """The card as the robot's markdown: title in bold, lines, fields, what to type."""
    return card_markdown(card, limit=CONTENT_LIMIT)


def pressable(card: Card) -> Card:
    """The card with the buttons a click can answer (at most a template card's six)."""
    return replace(card, buttons=tuple(b for b in card.buttons if b.action not in TYPED)[
        :BUTTONS_LIMIT])  # fmt: skip


def task_id(key: str) -> str:
    """A template card's task id from the outbox row's delivery key: one per row, so a row
    sent again is the same card."""
    return f"{TASK_PREFIX}{key}"


def message_body(card: Card, task: str) -> dict[str, Any]:
    """`msgtype` and its content for aibot_send_msg or aibot_respond_msg: a template card
    when the card has buttons to press, else markdown."""
    shown = pressable(card)
    if shown.buttons:
        return {"msgtype": "template_card", "template_card": template_card(shown, task)}
    return {"msgtype": "markdown", "markdown": {"content": markdown(card)}}


def reply_body(card: Card, task: str) -> dict[str, Any]:
    """The answer to a message (aibot_respond_msg): a finished stream of markdown, or the
    template card."""
    body = message_body(card, task)
    if body["msgtype"] == "template_card":
        return body
    return {"msgtype": "stream", "stream": {"id": task, "finish": True,
                                            "content": body["markdown"]["content"]}}  # fmt: skip


def updated_card(card: Card, task: str) -> dict[str, Any]:
    """aibot_respond_update_msg's body: the clicked card (its task id) now showing the
    outcome, with no buttons left to press."""
    return {
        "response_type": "update_template_card",
        "template_card": template_card(replace(card, buttons=()), task),
    }


def welcome_body(locale: str) -> dict[str, Any]:
    """aibot_respond_welcome_msg's body: one line on what to type."""
    return {"msgtype": "text", "text": {"content": welcome(locale)}}
