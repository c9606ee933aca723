"""A neutral `Card` as WeCom (企业微信) messages: a text message, a markdown group post and a
"button_interaction" template card for message/send. Pure translation, no I/O.

All user text goes through `plain()` first. WeCom renders `<a href=...>` in text messages and
`<@userid>` mentions in group posts, so "<" and ">" become the full-width "＜" "＞"; markdown
link and format characters become their full-width look-alikes as well, so a supplier's note can
never turn into a link dressed up as something else. Full-width characters are used instead of
backslash escapes because WeCom's markdown subset does not document any escape syntax.

Limits are WeCom's (developer.work.weixin.qq.com, 发送应用消息 / 应用推送消息 / 群机器人):
text content 2048 bytes, markdown 2048 bytes (message/send, appchat/send) or 4096 bytes
(webhook/send); template card lengths are WeCom's recommended maxima in characters.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypedDict

from messages.cards import Button, ButtonStyle, Card

URGENT_MARK = "🔴 "
TYPE_INSTEAD = "回复："
TYPE_INSTEAD_SEPARATOR = " / "
ELLIPSIS = "…"

# Byte limits (utf-8) of message contents.
TEXT_LIMIT = 2048  # text.content, message/send and appchat/send and webhook/send
APPCHAT_MARKDOWN_LIMIT = 2048  # markdown.content, message/send and appchat/send
WEBHOOK_MARKDOWN_LIMIT = 4096  # markdown.content, 群机器人 webhook/send
MARKDOWN_LIMIT = APPCHAT_MARKDOWN_LIMIT  # safe for every group post

# Template card ("button_interaction") limits: characters unless said otherwise.
TITLE_LIMIT = 26  # main_title.title
DESC_LIMIT = 30  # main_title.desc
SUB_TITLE_LIMIT = 112  # sub_title_text
HORIZONTAL_LIMIT = 6  # entries of horizontal_content_list
KEYNAME_LIMIT = 5  # horizontal_content_list[].keyname
VALUE_LIMIT = 26  # horizontal_content_list[].value
BUTTONS_LIMIT = 6  # entries of button_list
BUTTON_TEXT_LIMIT = 10  # button_list[].text
BUTTON_KEY_BYTES = 1024  # button_list[].key, utf-8 bytes; comes back as EventKey
TASK_ID_BYTES = 128  # task_id: letters, digits and _-@ only

# button_list[].style is 1-4 (default 1); WeCom documents the four looks only as a picture:
# 1 is the filled main button, 3 the red one, 4 a plain one.
BUTTON_STYLES: dict[ButtonStyle, int] = {"primary": 1, "danger": 3, "default": 4}

_TASK_ID = re.compile(r"[A-Za-z0-9_\-@]+")
# C0 and C1 controls except tab and newline, and the bidirectional overrides and marks that can
# make text read differently from what it is.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_MARKDOWN = str.maketrans({"[": "［", "]": "］", "(": "（", ")": "）", "*": "＊", "`": "｀"})
_HEADING = re.compile(r"^([ \t]*)#", re.MULTILINE)


def plain(text: str) -> str:
    """User text made harmless in a WeCom text message: "<" ">" become "＜" "＞" (so no
    `<a href>` link and no `<@userid>` mention), line breaks become "\\n", and control and
    bidirectional-override characters are dropped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u2028", "\n").replace("\u2029", "\n")
    text = _CONTROL.sub("", text)
    return text.replace("<", "＜").replace(">", "＞")


def escape_markdown(text: str) -> str:
    """User text for WeCom markdown, shown as typed: `plain()`, then [ ] ( ) * ` become their
    full-width look-alikes and a "#" starting a line becomes "＃" (">" is already "＞")."""
    text = plain(text).translate(_MARKDOWN)
    return _HEADING.sub(lambda m: m.group(1) + "＃", text)


def card_text(card: Card, *, limit: int = TEXT_LIMIT) -> str:
    """The card as a WeCom text message: title, lines, fields as "label: value" and, for the
    buttons, a last line with what to type instead ("回复：确认 P1 / 调整 P1 数量 / …").

    Longer than `limit` utf-8 bytes, it is cut at a line boundary and "…" ends the kept part;
    the what-to-type line is kept."""
    head = _rows(card, plain, title_format="{}")
    hint = _type_instead(card.buttons, plain)
    return _fit_lines(head, [hint] if hint else [], limit)


def card_markdown(card: Card, *, limit: int = MARKDOWN_LIMIT) -> str:
    """The card as WeCom markdown for a group post (appchat/send or webhook/send): the title in
    bold, the lines, the fields and what to type instead; all user text escaped.

    `limit` is 2048 bytes by default, which appchat/send takes; pass WEBHOOK_MARKDOWN_LIMIT for
    a group robot. Cut like `card_text`."""
    head = _rows(card, escape_markdown, title_format="**{}**")
    hint = _type_instead(card.buttons, escape_markdown)
    return _fit_lines(head, [hint] if hint else [], limit)


def template_card(card: Card, task_id: str) -> dict[str, Any]:
    """The `template_card` object of a message/send with msgtype "template_card", card_type
    "button_interaction":

    - main_title.title: the title (urgent: "🔴 " before it), cut to 26 characters with "…";
    - main_title.desc: the first line, cut to 30; sub_title_text: the other lines, cut to 112;
    - horizontal_content_list: the first 6 fields, keyname cut to 5 and value to 26 characters;
    - button_list: the buttons, key "action:value", text the label cut to 10 characters.

    ValueError for a bad task_id (1-128 of A-Z a-z 0-9 _ - @), more than 6 buttons, a key
    longer than 1024 bytes, two buttons with the same key, or a card with nothing to show."""
    if not _TASK_ID.fullmatch(task_id) or len(task_id) > TASK_ID_BYTES:
        raise ValueError(
            f"task_id must be 1-{TASK_ID_BYTES} letters, digits, '_', '-' or '@': {task_id!r}"
        )
    if len(card.buttons) > BUTTONS_LIMIT:
        raise ValueError(f"a template card holds at most {BUTTONS_LIMIT} buttons")
    title = _one_line(plain(card.title))
    if title and card.urgent:
        title = URGENT_MARK + title
    lines = [line for line in (plain(x).strip() for x in card.lines) if line]
    main_title: dict[str, str] = {}
    if title:
        main_title["title"] = _cut(title, TITLE_LIMIT)
    if lines:
        main_title["desc"] = _cut(_one_line(lines[0]), DESC_LIMIT)
    if not main_title:
        raise ValueError("a template card needs a title or a line")
    out: dict[str, Any] = {"card_type": "button_interaction", "main_title": main_title}
    sub_title = "\n".join(lines[1:])
    if sub_title:
        out["sub_title_text"] = _cut(sub_title, SUB_TITLE_LIMIT)
    horizontal = [_horizontal(label, value) for label, value in card.fields[:HORIZONTAL_LIMIT]]
    if horizontal:
        out["horizontal_content_list"] = horizontal
    buttons = [_button(b) for b in card.buttons]
    keys = [b["key"] for b in buttons]
    if len(set(keys)) != len(keys):
        raise ValueError(f"button keys must differ: {keys}")
    if buttons:
        out["button_list"] = buttons
    out["task_id"] = task_id
    return out


def button_key(action: str, value: str) -> str:
    """The key of a template-card button, "action:value" (e.g. "confirm:P1"); WeCom returns it
    as the click event's EventKey. ValueError when it cannot be read back by parse_button_key
    or is longer than WeCom's 1024 bytes."""
    if not action or ":" in action:
        raise ValueError(f"a button action must be non-empty and without ':': {action!r}")
    key = f"{action}:{value}"
    if len(key.encode("utf-8")) > BUTTON_KEY_BYTES:
        # Cutting a key would make the button act on something else; refuse instead.
        raise ValueError(f"button key longer than {BUTTON_KEY_BYTES} bytes")
    return key


def parse_button_key(key: str) -> tuple[str, str] | None:
    """("confirm", "P1") from "confirm:P1"; None for a key this module did not make."""
    action, sep, value = key.partition(":")
    if not sep or not action:
        return None
    return action, value


# -- helpers ---------------------------------------------------------------------------------


def _rows(card: Card, escape: Callable[[str], str], *, title_format: str) -> list[str]:
    rows: list[str] = []
    title = _one_line(escape(card.title))
    if title:
        mark = URGENT_MARK if card.urgent else ""
        rows.append(mark + title_format.format(title))
    for line in card.lines:
        rows.extend(part for part in escape(line).split("\n") if part.strip())
    for label, value in card.fields:
        label_text, value_text = _one_line(escape(label)), _one_line(escape(value))
        row = f"{label_text}: {value_text}" if label_text else value_text
        if row.strip():
            rows.append(row)
    return rows


def _type_instead(buttons: tuple[Button, ...], escape: Callable[[str], str]) -> str | None:
    typed = [_one_line(escape(b.text_equivalent)) for b in buttons]
    typed = [t for t in typed if t]
    if not typed:
        return None
    return TYPE_INSTEAD + TYPE_INSTEAD_SEPARATOR.join(typed)


def _horizontal(label: str, value: str) -> dict[str, str]:
    keyname = _one_line(plain(label)) or "-"  # keyname is required
    value_text = _one_line(plain(value))
    return {"keyname": _cut(keyname, KEYNAME_LIMIT), "value": _cut(value_text, VALUE_LIMIT)}


class _TemplateButton(TypedDict):
    """One entry of a template card's button_list."""

    text: str
    style: int
    key: str


def _button(button: Button) -> _TemplateButton:
    text = _one_line(plain(button.label)) or button.action
    return {
        "text": _cut(text, BUTTON_TEXT_LIMIT),
        "style": BUTTON_STYLES.get(button.style, BUTTON_STYLES["default"]),
        "key": button_key(button.action, button.value),
    }


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _cut(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, "…" last when cut."""
    if len(text) <= limit:
        return text
    return text[: limit - len(ELLIPSIS)].rstrip() + ELLIPSIS


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _cut_bytes(text: str, limit: int) -> str:
    """`text` cut to at most `limit` utf-8 bytes, "…" last when cut (never mid-character)."""
    if _size(text) <= limit:
        return text
    room = limit - _size(ELLIPSIS)
    cut = text.encode("utf-8")[: max(room, 0)].decode("utf-8", "ignore")
    return cut.rstrip() + ELLIPSIS


def _fit_lines(head: list[str], tail: list[str], limit: int) -> str:
    """`head` and `tail` lines joined, within `limit` utf-8 bytes: whole lines of `head` are
    dropped from the end (a "…" line in their place) so that `tail` stays; a first line too
    long on its own is cut inside."""
    text = "\n".join(head + tail)
    if _size(text) <= limit:
        return text
    tail_text = "\n".join(tail)
    if _size(tail_text) + _size("\n" + ELLIPSIS) > limit:  # not even the tail fits
        return _cut_bytes(text, limit)
    room = limit - (_size("\n" + tail_text) if tail else 0)  # for head lines and the "…"
    kept: list[str] = []
    used = _size(ELLIPSIS)
    for line in head:
        need = _size(line) + 1  # the line and the newline before the "…"
        if used + need > room:
            break
        kept.append(line)
        used += need
    if not kept and head:
        kept_text = _cut_bytes(head[0], room)
        return "\n".join([kept_text, *tail])
    return "\n".join([*kept, ELLIPSIS, *tail])
