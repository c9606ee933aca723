"""A neutral `Card` as DingTalk (钉钉) robot messages: markdown, and an ActionCard whose
buttons send their text equivalent back. Pure translation, no I/O.

A button is a `dtmd://dingtalkclient/sendMessage?content=...` link: pressed, DingTalk sends
that text from the person to the robot, exactly as if typed, so a button needs no callback of
its own. (Interactive cards, 互动卡片, need a template built in DingTalk's card builder for each
app; an ActionCard works with the robot alone.)

User text is shown as typed: DingTalk's markdown documents no escape, so link, emphasis and
heading characters become their full-width look-alikes, and "<" ">" too (no HTML).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

from messages.cards import Button, Card

URGENT_MARK = "🔴 "
TYPE_INSTEAD = "回复："
TYPE_INSTEAD_SEPARATOR = " / "
MENTION_FIRST = "（在群里请先 @机器人）"
ELLIPSIS = "…"
SEND_BACK = "dtmd://dingtalkclient/sendMessage?content="
TEXT_LIMIT = 4000  # characters of a markdown text: under DingTalk's 5000
TITLE_LIMIT = 60  # the title shown in the chat list
BUTTONS_LIMIT = 5  # sampleActionCard5 has the most buttons; more are typed instead

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_MARKDOWN = str.maketrans(
    {"[": "［", "]": "］", "(": "（", ")": "）", "*": "＊", "`": "｀", "<": "＜", ">": "＞",
     "_": "＿", "~": "～", "|": "｜"}
)  # fmt: skip
_HEADING = re.compile(r"^([ \t]*)([#\-+]|\d+\.)", re.MULTILINE)


def escape_markdown(text: str) -> str:
    """User text for DingTalk markdown, shown as typed: controls dropped, line breaks kept,
    markdown and HTML characters made full-width, a heading or list mark at a line's start too."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text).translate(_MARKDOWN)
    return _HEADING.sub(lambda m: m.group(1) + "\u200b" + m.group(2), text)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def title_of(card: Card) -> str:
    """The message's title in the chat list: the card's, plain, cut short."""
    title = _one_line(card.title) or "VMI"
    mark = URGENT_MARK if card.urgent else ""
    return (mark + title)[:TITLE_LIMIT]


def card_markdown(
    card: Card, *, typed: tuple[Button, ...] | None = None, group: bool = False
) -> str:
    """The card as DingTalk markdown: the title in bold, the lines, the fields as "label: value"
    and a last line with what to type for `typed` buttons (default: all of them). In a `group`
    the robot hears only what @mentions it, and the line says so."""
    rows: list[str] = []
    title = _one_line(escape_markdown(card.title))
    if title:
        rows.append(f"{URGENT_MARK if card.urgent else ''}**{title}**")
    for line in card.lines:
        rows.extend(part for part in escape_markdown(line).split("\n") if part.strip())
    for label, value in card.fields:
        row = f"{_one_line(escape_markdown(label))}: {_one_line(escape_markdown(value))}"
        rows.append(row.removeprefix(": "))
    buttons = card.buttons if typed is None else typed
    words = [_one_line(escape_markdown(b.text_equivalent)) for b in buttons if b.text_equivalent]
    hint = TYPE_INSTEAD + TYPE_INSTEAD_SEPARATOR.join(words) if words else ""
    if hint and group:
        hint += MENTION_FIRST
    return _fit(rows, hint)


def _fit(rows: list[str], hint: str) -> str:
    """Rows joined as paragraphs, cut at a row so that the hint still fits."""
    tail = f"\n\n{hint}" if hint else ""
    kept: list[str] = []
    for row in rows:
        if len("\n\n".join([*kept, row])) + len(tail) > TEXT_LIMIT - len(ELLIPSIS) - 2:
            kept.append(ELLIPSIS)
            break
        kept.append(row)
    return "\n\n".join(kept) + tail


def send_back_url(text: str) -> str:
    """A link that, pressed, sends `text` to the robot from the person who pressed it."""
    return SEND_BACK + quote(text, safe="")


def robot_message(card: Card, *, group: bool = False) -> tuple[str, dict[str, str]]:
    """The card as the robot's `msgKey` and `msgParam` (oToMessages/batchSend and
    groupMessages/send): an ActionCard when it has buttons with text to send back (one to one
    only: a group's robot does not hear them), else markdown."""
    pressable = tuple(b for b in card.buttons if b.text_equivalent)
    if group or not pressable:
        return "sampleMarkdown", {"title": title_of(card), "text": card_markdown(card, group=group)}
    shown, typed = pressable[:BUTTONS_LIMIT], pressable[BUTTONS_LIMIT:]
    param = {"title": title_of(card), "text": card_markdown(card, typed=typed)}
    if len(shown) == 1:
        label = _one_line(shown[0].label) or shown[0].text_equivalent
        param.update(singleTitle=label, singleURL=send_back_url(shown[0].text_equivalent))
        return "sampleActionCard", param
    for n, button in enumerate(shown, start=1):
        param[f"actionTitle{n}"] = _one_line(button.label) or button.text_equivalent
        param[f"actionURL{n}"] = send_back_url(button.text_equivalent)
    return f"sampleActionCard{len(shown)}", param


def webhook_body(card: Card) -> dict[str, Any]:
    """The card as a custom group robot's markdown message (it has no buttons that reach us)."""
    return {
        "msgtype": "markdown",
        "markdown": {"title": title_of(card), "text": card_markdown(card, group=True)},
    }


def msg_param(param: dict[str, str]) -> str:
    """`msgParam` as DingTalk takes it: a JSON string."""
    return json.dumps(param, ensure_ascii=False)
