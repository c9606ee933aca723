"""A neutral card as a Slack message: the exact Block Kit, escaping of user text everywhere it
appears, Slack's length limits, and the version shown after a click."""

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
            {"type": "section", "text": {"type": "mrkdwn", "text": "*补货提案 P1 · 螺丝 M6*"}},
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "建议补货 1200 件，4 月 3 日到货\n按计划用量可用 9 天",
                },
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
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": "或回复 / or type: 确认 P1 · 调整 P1 数量 · 拒绝 P1 原因",
                    }
                ],
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
        {"type": "section", "text": {"type": "mrkdwn", "text": "🔴 *库存告急 A-1*"}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": "*SKU*\nA-1"},
                {"type": "mrkdwn", "text": "*可用天数*\n2"},
            ],
        },
    ]
    assert_valid_for_slack(message)


def test_user_text_is_escaped_everywhere_it_appears() -> None:
    card = Card(
        title=f"备注 {EVIL}",
        lines=(f"供应商说：{EVIL}", "second & third"),
        fields=((f"标签 {EVIL}", f"值 {EVIL}"),),
        buttons=(Button("确认", "confirm", "P1", "primary", f"确认 {EVIL}"),),
    )
    for message in (card_to_message(card), card_to_message(card, done_by=f"已确认 · {EVIL}")):
        dumped = json.dumps(message, ensure_ascii=False)
        for raw in ("<!channel>", "<@U123>", "<http://evil.example|bank>", "R&D"):
            assert raw not in dumped
        assert "<" not in dumped and ">" not in dumped
        assert re.search(r"&(?!amp;|lt;|gt;)", dumped) is None  # every & is an entity
        assert EVIL_ESCAPED in message["text"]
        assert_valid_for_slack(message)

    blocks = card_to_message(card)["blocks"]
    assert blocks[0]["text"]["text"] == f"*备注 {EVIL_ESCAPED}*"
    assert blocks[1]["text"]["text"] == f"供应商说：{EVIL_ESCAPED}\nsecond &amp; third"
    assert blocks[2]["fields"][0]["text"] == f"*标签 {EVIL_ESCAPED}*\n值 {EVIL_ESCAPED}"
    assert blocks[4]["elements"][0]["text"] == f"或回复 / or type: 确认 {EVIL_ESCAPED}"

    done = card_to_message(card, done_by=f"已确认 · {EVIL}")
    assert done["blocks"][-1] == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": f"已确认 · {EVIL_ESCAPED}"}],
    }
    assert done["text"].endswith(f"已确认 · {EVIL_ESCAPED}")


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


def test_one_long_line_is_split_without_breaking_an_entity() -> None:
    line = "&<" * 1000 + "y" * 2500  # 9000 escaped characters, no spaces
    message = card_to_message(Card(title="长", lines=(line,)))
    sections = [b["text"]["text"] for b in message["blocks"][1:]]

    assert len(sections) >= 3
    assert all(len(s) <= 3000 for s in sections)
    assert "".join(sections) == escape_mrkdwn(line)
    for section in sections:
        assert re.search(r"&(?!amp;|lt;|gt;)", section) is None
        assert not re.search(r"&(a|am|amp|l|lt|g|gt)?$", section)
    assert_valid_for_slack(message)


def test_long_title_and_field_are_cut_not_rejected() -> None:
    card = Card(title="&" * 1000, fields=(("规格", "<" * 600),))
    message = card_to_message(card)

    title = message["blocks"][0]["text"]["text"]
    field = message["blocks"][1]["fields"][0]["text"]
    assert len(title) <= 3000 and title.startswith("*&amp;") and title.endswith("…*")
    assert len(field) <= 2000 and field.endswith("&lt;…")
    assert_valid_for_slack(message)


def test_more_than_ten_fields_are_split() -> None:
    fields = tuple((f"f{n}", str(n)) for n in range(23))
    message = card_to_message(Card(title="t", fields=fields))
    sections = message["blocks"][1:]

    assert [len(s["fields"]) for s in sections] == [10, 10, 3]
    assert [f["text"] for s in sections for f in s["fields"]] == [f"*f{n}*\n{n}" for n in range(23)]
    assert_valid_for_slack(message)


def test_done_by_replaces_buttons_and_hint() -> None:
    message = card_to_message(proposal_card(), done_by="已确认 · 王采购")

    assert [b["type"] for b in message["blocks"]] == ["section", "section", "context"]
    assert message["blocks"][-1] == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": "已确认 · 王采购"}],
    }
    assert "vmi:" not in json.dumps(message) and "or type" not in json.dumps(message)
    assert message["text"].endswith("\n已确认 · 王采购")
    assert_valid_for_slack(message)


def test_card_without_buttons_or_equivalents_has_no_actions_or_hint() -> None:
    assert [b["type"] for b in card_to_message(Card(title="t", lines=("a",)))["blocks"]] == [
        "section",
        "section",
    ]
    no_hint = card_to_message(Card(title="t", buttons=(Button("OK", "ok", "1"),)))
    assert [b["type"] for b in no_hint["blocks"]] == ["section", "actions"]


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
