"""A neutral card as DingTalk robot messages: user text shown as typed, buttons that send their
text back one to one, none in a group."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from bot.adapters.dingtalk.cards import (
    CARD_ACTIONS,
    PROPOSAL_PARAM,
    Click,
    card_params,
    parse_click,
)
from bot.adapters.dingtalk.render import SEND_BACK, card_markdown, robot_message, webhook_body
from bot.adapters.dingtalk.sender import signed_webhook
from messages.cards import Button, Card

PROPOSAL = Card(
    "补货建议 P1",
    lines=("6205 建议 55 件",),
    buttons=(
        Button("确认", "confirm", "P1@55", "primary", "确认 P1"),
        Button("调整", "adjust", "P1", "default", "调整 P1 数量"),
        Button("拒绝", "reject", "P1", "danger", "拒绝 P1 原因"),
    ),
)


def test_user_text_cannot_become_a_link_or_a_heading() -> None:
    card = Card("备注", lines=("[点我](http://evil.example) **粗** <b>x</b>", "# 标题"))
    text = card_markdown(card)
    assert "](" not in text and "**粗**" not in text and "<b>" not in text
    assert "［点我］（http://evil.example）" in text
    assert "\n# " not in text and "标题" in text


def test_one_to_one_a_proposal_is_an_action_card_whose_buttons_send_their_text() -> None:
    key, param = robot_message(PROPOSAL)
    assert key == "sampleActionCard3"
    assert [param[f"actionTitle{n}"] for n in (1, 2, 3)] == ["确认", "调整", "拒绝"]
    sent = [unquote(param[f"actionURL{n}"].removeprefix(SEND_BACK)) for n in (1, 2, 3)]
    assert sent == ["确认 P1", "调整 P1 数量", "拒绝 P1 原因"]
    assert all(param[f"actionURL{n}"].startswith(SEND_BACK) for n in (1, 2, 3))


def test_in_a_group_it_is_markdown_saying_what_to_type_after_the_mention() -> None:
    key, param = robot_message(PROPOSAL, group=True)
    assert key == "sampleMarkdown"
    assert "确认 P1 / 调整 P1 数量 / 拒绝 P1 原因" in param["text"] and "@机器人" in param["text"]
    assert json.dumps(webhook_body(PROPOSAL), ensure_ascii=False).count("确认 P1") == 1


def test_the_webhook_signature_is_as_dingtalk_documents() -> None:
    # HMAC-SHA256 over "timestamp\nsecret" keyed with the secret, base64, then URL-encoded
    url = signed_webhook(
        "https://oapi.dingtalk.com/robot/send?access_token=t", "SECx", 1700000000000
    )
    query = dict(parse_qsl(urlsplit(url).query))
    digest = hmac.new(b"SECx", b"1700000000000\nSECx", hashlib.sha256).digest()
    assert query == {
        "access_token": "t",
        "timestamp": "1700000000000",
        "sign": base64.b64encode(digest).decode(),
    }
    assert "%3D" in url  # base64's padding is escaped in the query


TEMPLATE = Path(__file__).parent.parent / "docs" / "dingtalk_card_template.json"


def test_a_proposal_fills_every_variable_of_the_shipped_template_and_nothing_else() -> None:
    template = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    params = card_params(PROPOSAL)
    assert params is not None and all(isinstance(v, str) for v in params.values())
    assert set(params) == {v["name"] for v in template["variables"]}
    [group] = [c for c in template["components"] if "buttons" in c]
    assert tuple(b["actionId"] for b in group["buttons"]) == CARD_ACTIONS
    assert all(PROPOSAL_PARAM in b["params"] for b in group["buttons"])
    assert (params["proposal"], params["status"], params["confirm_label"]) == (
        "P1@55",
        "open",
        "确认",
    )


def test_only_a_proposal_s_buttons_make_an_interactive_card() -> None:
    statement = Card("结算单 S1", buttons=(
        Button("确认对账", "confirm_statement", "S1@1~buyer", "primary", "确认对账 S1"),
        Button("对账有误", "dispute_statement", "S1", "danger", "对账有误 S1 原因"),
    ))  # fmt: skip
    assert card_params(statement) is None and card_params(Card("提醒")) is None
    two = Card(
        "P1 P2", buttons=(Button("确认", "confirm", "P1@55"), Button("拒绝", "reject", "P2"))
    )
    assert card_params(two) is None  # one card, one proposal


def test_a_click_is_read_as_dingtalk_sends_it_and_anything_else_is_not() -> None:
    content = {"cardPrivateData": {"actionIds": ["adjust"], "params": {"proposal": "P1@55",
                                                                     "qty": " 60 "}}}  # fmt: skip
    data = {"outTrackId": "vmi-3-x", "userId": "dt-buyer", "content": json.dumps(content)}
    assert parse_click(data) == Click("vmi-3-x", "dt-buyer", "adjust", "P1@55", "60")
    for broken in ({**data, "content": "not json"}, {**data, "userId": ""},
                   {**data, "content": json.dumps({"cardPrivateData": {"actionIds": ["pay"],
                                                   "params": {"proposal": "P1"}}})}):  # fmt: skip
        assert parse_click(broken) is None
