"""A neutral card as a Slack message: the exact Block Kit, user text shown as typed everywhere
it appears (never as mrkdwn, which has no escape for * _ ~), Slack's length limits, and the
version shown after a click."""

from __future__ import annotations

import json
import re

import pytest
from slack_sdk.models.blocks import Block

from bot.adapters.slack.blocks import card_to_message, escape_mrkdwn
from messages.cards import Button, Card

EVIL = "<!channel> <@U123> <http://evil.example|bank> R&D"
EVIL_ESCAPED = "&lt;!channel&gt; &lt;@U123&gt; &lt;http://evil.example|bank&gt; R&amp;D"


def proposal_card(**changes: object) -> Card:
    card = Card(
        title="补货提案 P1 · 螺丝 M6",
        lines=("建议补货 1200 件，4 月 3 日到货", "按计划用量可用 9 天"),
        buttons=(
            Button("确认", "confirm", "P1", "primary", "确认 P1"),
            Button("调整", "adjust", "P1", "default", "调整 P1 数量"),
            Button("拒绝", "reject", "P1", "danger", "拒绝 P1 原因"),
        ),
    )
    return Card(**{**card.__dict__, **changes})


def assert_valid_for_slack(message: dict) -> None:
    """Every block passes slack_sdk's own model checks (types, lengths), offline."""
    assert 1 <= len(message["blocks"]) <= 50
    for raw in message["blocks"]:
        block = Block.parse(raw)
        assert block is not None and block.to_dict() == raw
        block.validate_json()
        for text in re.findall(r'"text": "((?:[^"\\]|\\.)*)"', json.dumps(raw)):
            assert 1 <= len(json.loads(f'"{text}"')) <= 3000


def texts(message: dict) -> list[tuple[str, str]]:
    """Every piece of text in the blocks with how Slack reads it: "mrkdwn" is formatted;
    "plain_text" and rich text's "text" elements are shown exactly as given."""
    found: list[tuple[str, str]] = []
    stack: list[object] = list(message["blocks"])
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("type") in ("mrkdwn", "plain_text", "text") and "text" in item:
                found.append((item["type"], item["text"]))
            stack.extend(v for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend(item)
    return found


def plain(text: str) -> dict:
    return {"type": "plain_text", "text": text, "emoji": False}


def bold_title(*elements: dict) -> dict:
    return {"type": "rich_text", "elements": [{"type": "rich_text_section",
                                               "elements": list(elements)}]}  # fmt: skip


def test_escape_mrkdwn_is_slacks_rule() -> None:
    assert escape_mrkdwn("a & b < c > d") == "a &amp; b &lt; c &gt; d"
    assert escape_mrkdwn("&amp;") == "&amp;amp;"  # typed text is shown as typed
    assert escape_mrkdwn('*粗体* _斜体_ ‘引号’ "q"') == '*粗体* _斜体_ ‘引号’ "q"'
    assert escape_mrkdwn(EVIL) == EVIL_ESCAPED


def test_proposal_card_exact_blocks() -> None:
    message = card_to_message(proposal_card())

    assert message == {
        "text": "补货提案 P1 · 螺丝 M6\n建议补货 1200 件，4 月 3 日到货\n按计划用量可用 9 天",
        "blocks": [
            bold_title({"type": "text", "text": "补货提案 P1 · 螺丝 M6", "style": {"bold": True}}),
            {
                "type": "section",
                "text": plain("建议补货 1200 件，4 月 3 日到货\n按计划用量可用 9 天"),
            },
            {
                "type": "actions",
                "block_id": "vmi_actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "确认", "emoji": True},
                        "action_id": "vmi:confirm",
                        "value": "P1",
                        "style": "primary",
                    },
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "调整", "emoji": True},
                        "action_id": "vmi:adjust",
                        "value": "P1",
                    },
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "拒绝", "emoji": True},
                        "action_id": "vmi:reject",
                        "value": "P1",
                        "style": "danger",
                    },
                ],
            },
            {
                "type": "context",
                "elements": [plain("或回复 / or type: 确认 P1 · 调整 P1 数量 · 拒绝 P1 原因")],
            },
        ],
    }
    assert_valid_for_slack(message)


def test_urgent_title_and_fields() -> None:
    card = Card(
        title="  库存告急 A-1 ",
        fields=(("SKU", "A-1"), ("可用天数", "2")),
        urgent=True,
    )
    message = card_to_message(card)

    assert message["blocks"] == [
        bold_title(
            {"type": "text", "text": "🔴 "},
            {"type": "text", "text": "库存告急 A-1", "style": {"bold": True}},
        ),
        bold_title(
            {"type": "text", "text": "SKU", "style": {"bold": True}},
            {"type": "text", "text": "\nA-1"},
            {"type": "text", "text": "\n\n"},
            {"type": "text", "text": "可用天数", "style": {"bold": True}},
            {"type": "text", "text": "\n2"},
        ),
    ]
    assert_valid_for_slack(message)


def test_user_text_is_shown_as_typed_everywhere_it_appears() -> None:
    typed = f"{EVIL} *粗体* _斜体_ ~删除~ `code` > 引用 :bank:"
    card = Card(
        title=f"备注 {typed}",
        lines=(f"供应商说：{typed}", "second & third"),
        fields=((f"标签 {typed}", f"值 {typed}"),),
        buttons=(Button("确认", "confirm", "P1", "primary", f"确认 {typed}"),),
    )
    for message in (card_to_message(card), card_to_message(card, done_by=f"已确认 · {typed}")):
        shown = texts(message)
        assert all(kind != "mrkdwn" for kind, _ in shown)  # nothing in the blocks is formatted
        assert all(t.get("emoji") is not True for t in _plain_texts(message) if typed in t["text"])
        assert sum(typed in text for _, text in shown) >= 4
        # the notification text is mrkdwn: & < > escaped, so nothing in it pings or links
        assert "<" not in message["text"] and ">" not in message["text"].replace("&gt;", "")
        assert re.search(r"&(?!amp;|lt;|gt;)", message["text"]) is None
        assert EVIL_ESCAPED in message["text"]
        assert_valid_for_slack(message)

    blocks = card_to_message(card)["blocks"]
    assert blocks[0]["elements"][0]["elements"] == [
        {"type": "text", "text": f"备注 {typed}", "style": {"bold": True}}
    ]
    assert blocks[1]["text"] == plain(f"供应商说：{typed}\nsecond & third")
    assert [e["text"] for e in blocks[2]["elements"][0]["elements"]] == [
        f"标签 {typed}",
        f"\n值 {typed}",
    ]
    assert blocks[4]["elements"][0] == plain(f"或回复 / or type: 确认 {typed}")

    done = card_to_message(card, done_by=f"已确认 · {typed}")
    assert done["blocks"][-1] == {"type": "context", "elements": [plain(f"已确认 · {typed}")]}
    assert done["text"].endswith(
        f"已确认 · {EVIL_ESCAPED} *粗体* _斜体_ ~删除~ `code` &gt; 引用 :bank:"
    )


def _plain_texts(message: dict) -> list[dict]:
    found: list[dict] = []
    stack: list[object] = list(message["blocks"])
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("type") == "plain_text":
                found.append(item)
            stack.extend(v for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend(item)
    return found


def test_button_labels_are_plain_text_and_kept_as_typed() -> None:
    card = Card(title="t", buttons=(Button("R&D <确认>", "confirm", "a&b", "default"),))
    button = card_to_message(card)["blocks"][1]["elements"][0]

    # plain_text is never parsed by Slack: escaping would show "&amp;" on the button
    assert button["text"] == {"type": "plain_text", "text": "R&D <确认>", "emoji": True}
    assert button["value"] == "a&b"
    assert "style" not in button


def test_long_lines_are_split_into_sections_within_slack_limits() -> None:
    lines = tuple(f"第 {n} 行 " + "x" * 990 for n in range(7))
    message = card_to_message(Card(title="长", lines=lines))
    sections = [b["text"]["text"] for b in message["blocks"][1:]]

    assert len(sections) == 3
    assert all(len(s) <= 3000 for s in sections)
    assert "\n".join(sections) == "\n".join(lines)  # split between lines, nothing lost
    assert_valid_for_slack(message)


def test_one_long_line_is_split_and_kept_whole() -> None:
    line = "&<" * 1000 + "y" * 2500  # 4500 characters, no spaces
    message = card_to_message(Card(title="长", lines=(line,)))
    sections = [b["text"]["text"] for b in message["blocks"][1:]]

    assert len(sections) >= 2
    assert all(len(s) <= 3000 for s in sections)
    assert "".join(sections) == line  # plain text: nothing escaped, nothing lost
    assert_valid_for_slack(message)


def test_long_title_and_field_are_cut_not_rejected() -> None:
    card = Card(title="&" * 4000, fields=(("规格", "<" * 2600),))
    message = card_to_message(card)

    title = message["blocks"][0]["elements"][0]["elements"][0]["text"]
    field = message["blocks"][1]["elements"][0]["elements"][1]["text"]
    assert len(title) <= 3000 and title.startswith("&&") and title.endswith("…")
    assert len(field) <= 2001 and field.endswith("<…")
    assert_valid_for_slack(message)


def test_many_fields_are_all_shown_in_order() -> None:
    fields = tuple((f"f{n}", str(n)) for n in range(23))
    message = card_to_message(Card(title="t", fields=fields))
    [shown] = message["blocks"][1:]

    bold = [e["text"] for e in shown["elements"][0]["elements"] if e.get("style")]
    values = [e["text"] for e in shown["elements"][0]["elements"] if e["text"].startswith("\n")
              and e["text"].strip()]  # fmt: skip
    assert bold == [f"f{n}" for n in range(23)]
    assert values == [f"\n{n}" for n in range(23)]
    assert_valid_for_slack(message)


def test_done_by_replaces_buttons_and_hint() -> None:
    message = card_to_message(proposal_card(), done_by="已确认 · 王采购")

    assert [b["type"] for b in message["blocks"]] == ["rich_text", "section", "context"]
    assert message["blocks"][-1] == {"type": "context", "elements": [plain("已确认 · 王采购")]}
    assert "vmi:" not in json.dumps(message) and "or type" not in json.dumps(message)
    assert message["text"].endswith("\n已确认 · 王采购")
    assert_valid_for_slack(message)


def test_card_without_buttons_or_equivalents_has_no_actions_or_hint() -> None:
    assert [b["type"] for b in card_to_message(Card(title="t", lines=("a",)))["blocks"]] == [
        "rich_text",
        "section",
    ]
    no_hint = card_to_message(Card(title="t", buttons=(Button("OK", "ok", "1"),)))
    assert [b["type"] for b in no_hint["blocks"]] == ["rich_text", "actions"]


def test_button_limits() -> None:
    long_label = Card(title="t", buttons=(Button("确" * 100, "confirm", "P1"),))
    label = card_to_message(long_label)["blocks"][1]["elements"][0]["text"]["text"]
    assert len(label) == 75 and label.endswith("…")

    too_long_value = Card(title="t", buttons=(Button("确认", "confirm", "v" * 2001),))
    with pytest.raises(ValueError, match="value"):
        card_to_message(too_long_value)


def test_same_action_twice_goes_to_a_second_actions_block() -> None:
    """Slack rejects a block whose action_ids repeat."""
    card = Card(
        title="两条提案",
        buttons=(
            Button("确认 P1", "confirm", "P1", "primary"),
            Button("确认 P2", "confirm", "P2", "primary"),
        ),
    )
    actions = [b for b in card_to_message(card)["blocks"] if b["type"] == "actions"]

    assert [a["block_id"] for a in actions] == ["vmi_actions", "vmi_actions_2"]
    assert [e["value"] for a in actions for e in a["elements"]] == ["P1", "P2"]
    assert all(e["action_id"] == "vmi:confirm" for a in actions for e in a["elements"])
