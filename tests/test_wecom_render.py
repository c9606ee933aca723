"""Neutral cards as WeCom text, markdown and button_interaction template cards."""

from __future__ import annotations

import pytest

from bot.adapters.wecom.render import (
    BUTTON_KEY_BYTES,
    TEXT_LIMIT,
    WEBHOOK_MARKDOWN_LIMIT,
    button_key,
    card_markdown,
    card_text,
    escape_markdown,
    parse_button_key,
    plain,
    template_card,
)
from messages.cards import Button, Card
from messages.render import proposal_buttons, render_card

EVIL = "<a href='http://evil'>bank</a>"


def proposal(**overrides: object) -> Card:
    context: dict = {
        "outcome": "new",
        "proposal_id": "P1",
        "item_name": "6205 轴承",
        "qty": 1200,
        "unit": "件",
        "max": 2000,
        "reason": "below",
        "position": 300,
        "min": 500,
        "on_hand": 300,
        "days_of_cover": None,
        "daily_demand": None,
        "days_to_min": None,
        "previous_qty": None,
    }
    return render_card("proposal", "zh", buttons=proposal_buttons("P1"), **{**context, **overrides})


# -- template card ----------------------------------------------------------------------------


def test_a_proposal_is_a_button_interaction_card() -> None:
    assert template_card(proposal(), "vmi-17") == {
        "card_type": "button_interaction",
        "main_title": {
            "title": "补货建议 P1 · 6205 轴承",
            "desc": "建议补货 1200 件，补到安全线 2000 件",
        },
        "sub_title_text": "原因：库存位置 300 件，低于补货线 500 件（现有 300 件）\n"
        "请采购确认：点按钮，或回复「确认 P1」「调整 P1 数量」「拒绝 P1 原因」",
        "button_list": [
            {"text": "确认", "style": 1, "key": "confirm:P1"},
            {"text": "调整", "style": 4, "key": "adjust:P1"},
            {"text": "拒绝", "style": 3, "key": "reject:P1"},
        ],
        "task_id": "vmi-17",
    }


def test_template_card_cuts_to_wecom_lengths() -> None:
    card = Card(
        title="补" * 40,
        lines=("一" * 40, "二" * 100, "三" * 100),
        fields=tuple((f"标签名称很长{i}", "值" * 30) for i in range(8)),
        buttons=(Button("一个非常非常长的按钮文字", "confirm", "P1", "primary"),),
        urgent=True,
    )
    out = template_card(card, "t")
    title = out["main_title"]["title"]
    assert len(title) == 26 and title.startswith("🔴 补") and title.endswith("…")
    assert len(out["main_title"]["desc"]) == 30 and out["main_title"]["desc"].endswith("…")
    assert len(out["sub_title_text"]) == 112 and out["sub_title_text"].startswith("二" * 100)
    horizontal = out["horizontal_content_list"]
    assert len(horizontal) == 6
    assert horizontal[0] == {"keyname": "标签名称…", "value": "值" * 25 + "…"}
    assert out["button_list"] == [{"text": "一个非常非常长的按…", "style": 1, "key": "confirm:P1"}]


def test_template_card_text_is_plain_and_fields_fit() -> None:
    card = Card(title="提案 <b>P1</b>", lines=("a\x07b",), fields=(("数量", "1200 件"), ("", "x")))
    out = template_card(card, "t")
    assert "<" not in str(out) and "\x07" not in str(out)
    assert out["main_title"] == {"title": "提案 ＜b＞P1＜/b＞", "desc": "ab"}
    assert out["horizontal_content_list"] == [
        {"keyname": "数量", "value": "1200 件"},
        {"keyname": "-", "value": "x"},
    ]
    assert "button_list" not in out and "sub_title_text" not in out


@pytest.mark.parametrize(
    "task_id",
    ["", "has space", "中文", "a/b", "a:b", "x" * 129, "tab\t", "ｆｕｌｌ"],
)
def test_a_bad_task_id_is_refused(task_id: str) -> None:
    with pytest.raises(ValueError, match="task_id"):
        template_card(proposal(), task_id)


def test_a_good_task_id_may_use_letters_digits_and_underscore_dash_at() -> None:
    task_id = "vmi_P1-2@x" + "9" * 118
    assert len(task_id) == 128
    assert template_card(proposal(), task_id)["task_id"] == task_id


def test_template_card_refuses_what_it_cannot_send_faithfully() -> None:
    seven = tuple(Button(str(i), "confirm", f"P{i}") for i in range(7))
    with pytest.raises(ValueError, match="at most 6"):
        template_card(Card("t", buttons=seven), "t")
    twice = (Button("a", "confirm", "P1"), Button("b", "confirm", "P1"))
    with pytest.raises(ValueError, match="differ"):
        template_card(Card("t", buttons=twice), "t")
    with pytest.raises(ValueError, match="1024"):
        template_card(Card("t", buttons=(Button("a", "confirm", "P" * 1100),)), "t")
    with pytest.raises(ValueError, match="title or a line"):
        template_card(Card(" "), "t")


# -- button keys ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "value"),
    [("confirm", "P1"), ("adjust", "P-12"), ("reject", ""), ("ship", "a:b"), ("确认", "提案 1")],
)
def test_button_key_round_trip(action: str, value: str) -> None:
    key = button_key(action, value)
    assert parse_button_key(key) == (action, value)


def test_button_key_shape_and_refusals() -> None:
    assert button_key("confirm", "P1") == "confirm:P1"
    assert parse_button_key("confirm:P1") == ("confirm", "P1")
    for bad in ("", "confirm", ":P1"):
        assert parse_button_key(bad) is None
    with pytest.raises(ValueError):
        button_key("", "P1")
    with pytest.raises(ValueError):
        button_key("a:b", "P1")
    longest = "x" * (BUTTON_KEY_BYTES - len("confirm:"))
    assert len(button_key("confirm", longest).encode()) == BUTTON_KEY_BYTES
    with pytest.raises(ValueError):
        button_key("confirm", "件" * 400)  # 1200 bytes


# -- plain text -------------------------------------------------------------------------------


def test_plain_neutralises_a_link_in_a_text_message() -> None:
    assert plain(EVIL) == "＜a href='http://evil'＞bank＜/a＞"
    assert plain("<@all> 注意") == "＜@all＞ 注意"  # no robot mention either


def test_plain_drops_control_and_direction_characters() -> None:
    assert plain("a\x00b\x1bc\x7fd\x85e") == "abcde"
    assert plain("line1\r\nline2\rline3\u2028line4") == "line1\nline2\nline3\nline4"
    assert plain("tab\tkept") == "tab\tkept"
    assert plain("abc\u202edcba\u2066x\u2069") == "abcdcbax"
    assert plain("中文，全角（括号）") == "中文，全角（括号）"


def test_card_text_has_title_lines_fields_and_what_to_type() -> None:
    card = Card(
        title="补货建议 P1",
        lines=("建议补货 1200 件",),
        fields=(("供应商", "李供应"),),
        buttons=(
            Button("确认", "confirm", "P1", "primary", "确认 P1"),
            Button("调整", "adjust", "P1", "default", "调整 P1 数量"),
            Button("拒绝", "reject", "P1", "danger", "拒绝 P1 原因"),
        ),
    )
    assert card_text(card) == (
        "补货建议 P1\n建议补货 1200 件\n供应商: 李供应\n回复：确认 P1 / 调整 P1 数量 / 拒绝 P1 原因"
    )


def test_card_text_is_plain_and_urgent_is_marked() -> None:
    card = Card(title="缺货", lines=(f"备注：{EVIL}",), urgent=True)
    assert card_text(card) == "🔴 缺货\n备注：＜a href='http://evil'＞bank＜/a＞"


def test_card_text_is_cut_at_a_line_within_2048_bytes_keeping_what_to_type() -> None:
    lines = tuple(f"第 {i} 行 " + "库存" * 30 for i in range(40))
    confirm = Button("确认", "confirm", "P1", "primary", "确认 P1")
    card = Card("长消息", lines=lines, buttons=(confirm,))
    text = card_text(card)
    assert len(text.encode("utf-8")) <= TEXT_LIMIT
    rows = text.split("\n")
    assert rows[0] == "长消息" and rows[-2] == "…" and rows[-1] == "回复：确认 P1"
    assert all(row in lines for row in rows[1:-2])  # whole lines only
    assert len(rows) > 5


def test_one_huge_line_is_cut_inside() -> None:
    text = card_text(Card("件" * 1000))
    assert len(text.encode("utf-8")) <= TEXT_LIMIT and text.endswith("…")
    assert text.startswith("件" * 600)


def test_a_short_card_is_not_cut() -> None:
    card = Card("t", lines=("x" * 2000,))
    assert card_text(card) == "t\n" + "x" * 2000
    assert len(card_text(card).encode()) == 2002


# -- markdown ---------------------------------------------------------------------------------


def test_markdown_escapes_a_disguised_link() -> None:
    out = escape_markdown("[bank](http://evil)")
    assert out == "［bank］（http://evil）"
    assert "[" not in out and "](" not in out


def test_markdown_escapes_format_syntax() -> None:
    assert escape_markdown("**bold** `code`") == "＊＊bold＊＊ ｀code｀"
    assert escape_markdown("# 标题\n  #二\n> 引用\na # b") == "＃ 标题\n  ＃二\n＞ 引用\na # b"
    font = escape_markdown('<font color="warning">假</font>')
    assert font == '＜font color="warning"＞假＜/font＞'


def test_card_markdown_for_a_group_post() -> None:
    card = Card(
        title="结算单 *11 月*",
        lines=("合计 [1,062.50](http://evil) 元", "# 不是标题"),
        fields=(("数量", "85"),),
        buttons=(Button("确认", "confirm", "S1", "primary", "确认 S1"),),
        urgent=True,
    )
    assert card_markdown(card) == (
        "🔴 **结算单 ＊11 月＊**\n"
        "合计 ［1,062.50］（http://evil） 元\n"
        "＃ 不是标题\n"
        "数量: 85\n"
        "回复：确认 S1"
    )


def test_card_markdown_limits() -> None:
    card = Card("月报", lines=tuple("库存 " * 100 for _ in range(20)))
    short = card_markdown(card)
    assert len(short.encode()) <= 2048 and short.endswith("\n…")
    long = card_markdown(card, limit=WEBHOOK_MARKDOWN_LIMIT)
    assert 2048 < len(long.encode()) <= WEBHOOK_MARKDOWN_LIMIT and long.endswith("\n…")
    assert long.startswith("**月报**\n")
