"""A neutral `Card` as a Slack message: the `text` fallback and Block Kit `blocks` for
chat.postMessage and chat.update. Pure translation, no I/O.

A card's text is plain (what a person typed is echoed in it), and mrkdwn has no escape for
`*`, `_`, `~` or a backtick: so no card text goes into mrkdwn. The blocks carry it as
`plain_text` and rich text's own text elements, which Slack shows exactly as given, and our own
formatting (the bold title and field labels) is rich text's `bold` style, never a character in
the text. Only the notification `text` is mrkdwn-escaped (& < >), so it can never become
`<!channel>`, `<@U1>` or a link dressed up as something else.
"""

from __future__ import annotations

from typing import Any

from messages.cards import Button, Card

# A Block Kit object as JSON: its values are text, lists and other objects by turns.
Json = dict[str, Any]

ACTIONS_BLOCK_ID = "vmi_actions"
ACTION_PREFIX = "vmi:"
URGENT_MARK = "🔴 "
TYPE_INSTEAD = "或回复 / or type: "

# Slack's limits (Block Kit reference).
TEXT_LIMIT = 3000  # a section's or context element's text
FIELD_LIMIT = 2000  # a field's label or value, as a section field allowed
CONTEXT_ELEMENTS = 10
BUTTON_LABEL_LIMIT = 75
BUTTON_VALUE_LIMIT = 2000
ACTION_ID_LIMIT = 255
ELEMENTS_PER_ACTIONS = 25
FALLBACK_LIMIT = 40000  # chat.postMessage truncates `text` beyond this

_ENTITY_MAX = len("&amp;")


def escape_mrkdwn(text: str) -> str:
    """Text for a mrkdwn field, shown as typed: & → &amp;, < → &lt;, > → &gt; (Slack's rule;
    nothing else is entity-encoded)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def card_to_message(card: Card, *, done_by: str | None = None) -> Json:
    """`{"text": ..., "blocks": [...]}` for chat.postMessage / chat.update.

    With `done_by` (e.g. "已确认 · 王采购") the card is the version shown after a click: the
    buttons and the what-to-type hint are gone and `done_by` is said in their place.
    """
    blocks: list[Json] = []
    title = " ".join(card.title.split())
    if title:
        mark = [_rich(URGENT_MARK)] if card.urgent else []
        blocks.append(_rich_text([*mark, _rich(_fit(title, TEXT_LIMIT), bold=True)]))
    blocks.extend(_section(part) for part in _split("\n".join(card.lines), TEXT_LIMIT))
    if card.fields:
        blocks.append(_fields(card.fields))
    if done_by is not None:
        if done_by.strip():
            blocks.append(_context([_fit(done_by, TEXT_LIMIT)]))
    elif card.buttons:
        blocks.extend(_actions_blocks(card.buttons))
        hint = _type_instead(card.buttons)
        if hint is not None:
            blocks.append(hint)
    return {"text": _fallback(card, done_by), "blocks": blocks}


def _fallback(card: Card, done_by: str | None) -> str:
    """The notification / screen-reader text: title and lines (and who acted), escaped."""
    parts = [card.title, *card.lines]
    if done_by and done_by.strip():
        parts.append(done_by)
    text = "\n".join(escape_mrkdwn(p) for p in parts if p.strip())
    return _fit(text, FALLBACK_LIMIT) or " "


def _plain(text: str) -> Json:
    # emoji off: ":bank:" typed by someone is shown as typed, like everything else they typed
    return {"type": "plain_text", "text": text, "emoji": False}


def _section(text: str) -> Json:
    return {"type": "section", "text": _plain(text)}


def _context(texts: list[str]) -> Json:
    return {"type": "context", "elements": [_plain(t) for t in texts]}


def _rich(text: str, *, bold: bool = False) -> Json:
    element: Json = {"type": "text", "text": text}
    if bold:
        element["style"] = {"bold": True}
    return element


def _rich_text(elements: list[Json]) -> Json:
    return {"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": elements}]}


def _fields(fields: tuple[tuple[str, str], ...]) -> Json:
    """Label and value pairs in one rich text block: each label bold, its value on the next
    line, a blank line between pairs."""
    elements: list[Json] = []
    for n, (label, value) in enumerate(fields):
        if n:
            elements.append(_rich("\n\n"))
        label = " ".join(label.split())
        if label:
            elements.append(_rich(_fit(label, FIELD_LIMIT), bold=True))
        if value:
            elements.append(_rich(("\n" if label else "") + _fit(value, FIELD_LIMIT)))
    return _rich_text(elements or [_rich(" ")])


def _button(button: Button) -> Json:
    action_id = f"{ACTION_PREFIX}{button.action}"
    if len(action_id) > ACTION_ID_LIMIT:
        raise ValueError(f"action_id longer than {ACTION_ID_LIMIT} characters: {action_id!r}")
    if len(button.value) > BUTTON_VALUE_LIMIT:
        # Cutting a value would make the button act on something else; refuse instead.
        raise ValueError(f"button value longer than {BUTTON_VALUE_LIMIT} characters")
    label = " ".join(button.label.split()) or button.action
    if len(label) > BUTTON_LABEL_LIMIT:
        label = label[: BUTTON_LABEL_LIMIT - 1] + "…"
    element: Json = {
        "type": "button",
        "text": {"type": "plain_text", "text": label, "emoji": True},
        "action_id": action_id,
        "value": button.value,
    }
    if button.style in ("primary", "danger"):
        element["style"] = button.style
    return element


def _actions_blocks(buttons: tuple[Button, ...]) -> list[Json]:
    """One actions block, "vmi_actions". Slack wants action_ids unique within a block and at
    most 25 elements, so a repeated action or a 26th button starts "vmi_actions_2" and so on."""
    groups: list[list[Json]] = [[]]
    for button in buttons:
        element = _button(button)
        current = groups[-1]
        taken = {e["action_id"] for e in current}
        if len(current) >= ELEMENTS_PER_ACTIONS or element["action_id"] in taken:
            groups.append([element])
        else:
            current.append(element)
    return [
        {
            "type": "actions",
            "block_id": ACTIONS_BLOCK_ID if n == 1 else f"{ACTIONS_BLOCK_ID}_{n}",
            "elements": elements,
        }
        for n, elements in enumerate(groups, start=1)
    ]


def _type_instead(buttons: tuple[Button, ...]) -> Json | None:
    """What to type instead of pressing, for clients that show no buttons."""
    typed = [b.text_equivalent.strip() for b in buttons if b.text_equivalent.strip()]
    if not typed:
        return None
    texts = _split(TYPE_INSTEAD + " · ".join(typed), TEXT_LIMIT)[:CONTEXT_ELEMENTS]
    return _context(texts)


def _cut_at(text: str, limit: int) -> int:
    """The longest prefix length ≤ limit that does not end inside an &amp;/&lt;/&gt; entity."""
    cut = limit
    amp = text.rfind("&", max(0, cut - _ENTITY_MAX + 1), cut)
    if amp != -1 and text.find(";", amp) >= cut:
        cut = amp
    return cut


def _fit(text: str, limit: int) -> str:
    """`text` cut to `limit` characters with "…", never in the middle of an entity."""
    if len(text) <= limit:
        return text
    return text[: _cut_at(text, limit - 1)] + "…"


def _split(text: str, limit: int) -> list[str]:
    """Escaped text in pieces of at most `limit` characters, none blank: split between lines
    where possible, else at a space, else anywhere outside an entity."""
    parts: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit + 1)
        if cut <= 0:
            cut = text.rfind(" ", limit // 2, limit + 1)
        if cut > 0:
            parts.append(text[:cut])
            text = text[cut + 1 :]
        else:
            cut = _cut_at(text, limit)
            parts.append(text[:cut])
            text = text[cut:]
    parts.append(text)
    return [p for p in parts if p.strip()]
