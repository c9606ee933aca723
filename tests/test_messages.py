"""Every reply template renders in both locales, with strict undefined variables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from jinja2 import UndefinedError

from messages.render import LOCALES, TEMPLATES, proposal_buttons, render_card
from vmi_rules.roles import MAY, may

LINE = {"name": "6205 深沟球轴承", "sku": "6205", "unit": "件", "qty": 45, "on_hand": 45,
        "min": 50, "max": 100, "inferred": 5, "gain": 2, "open": "P1", "unbilled": 81,
        "stock_out": False, "proposed_now": ""}  # fmt: skip
ITEM = {"sku": "6205", "name": "6205 深沟球轴承", "unit": "件", "on_hand": 45, "in_transit": 55,
        "position": 100, "min": 50, "max": 100, "aged_qty": 5, "billable_qty": 10,
        "last_count_at": "2026-11-21T10:00:00+08:00",
        "open_proposals": [{"id": "P1", "qty": 55, "state": "confirmed", "urgent": False,
                            "shipped_qty": 0, "received_qty": 30, "eta": "2026-11-24",
                            "updated_at": "2026-11-21T10:00:00+08:00"}],
        "demand_plans": [{"period": "2026-12", "qty": 90}]}  # fmt: skip
STATES = dict.fromkeys(["proposed", "confirmed", "shipped", "received", "rejected"], "s")

CASES: list[tuple[str, dict[str, Any]]] = [
    *[
        (
            "proposal",
            {
                "proposal_id": "P1",
                "item_name": "6205",
                "sku": "6205",
                "unit": "件",
                "qty": 55,
                "min": 50,
                "max": 100,
                "on_hand": 45,
                "position": 45,
                "reason": reason,
                "days_to_min": 3.3,
                "daily_demand": 2.9,
                "days_of_cover": 15.5,
                "outcome": outcome,
                "previous_qty": 40,
            },
        )
        for reason in ("below_min", "forecast")
        for outcome in ("new", "updated", "withdrawn")
    ],
    *[
        (
            "stock",
            {
                "kind": kind,
                "lines": [LINE],
                "time_doubted": doubted,
                "held": [
                    {
                        "sku": "6205",
                        "name": "6205",
                        "unit": "件",
                        "qty": 9,
                        "book": 90,
                        "max": 100,
                        "reason": reason,
                    }
                    for reason in ("drop", "far_above_max")
                ],
                "received_at": datetime(2026, 11, 21, 10, 0),
            },
        )
        for kind in ("count", "correction", "withdrawal", "receipt")
        for doubted in (False, True)
    ],
    *[
        (
            "proposal_action",
            {
                "action": action,
                "proposal_id": "P1",
                "by": "王采购",
                "item_name": "6205",
                "unit": "件",
                "qty": 55,
                "previous_qty": 50,
                "reason": "太多",
                "eta": "2026-11-25",
                "eta_past": True,
                "received": 50,
                "on_hand": 95,
                "position": 100,
                "min": 50,
                "max": 100,
                "outstanding": 5,
                "over": 3,
            },
        )
        for action in ("confirm", "adjust", "reject", "ship", "receive")
    ],
    *[
        (
            "plan",
            {
                "item_name": "6205",
                "unit": "件",
                "period": "2026-12",
                "qty": 120,
                "previous": 90,
                "position": 100,
                "extra": extra,
                "proposal_id": "P2",
                "late": True,
                "customer_share": "50",
                "supplier_share": "50",
                "notice_hours": 24,
            },
        )
        for extra in (0, 20)
    ],
    *[
        (
            "refusal",
            {
                "reason": reason,
                "detail": "6299",
                "example": "6205 库存 45",
                "items": ["6205"],
                "intent_label": "确认",
                "allowed": ["采购"],
                "role": "仓管员",
                "proposal_id": "P1",
                "decided_by": "王采购",
                "state_label": "已确认",
                "on_hand": 45,
                "unit": "件",
                "qty": 70,
                "shown": 55,
                "choices": ["plant-6205（工厂 ↔ 轴承厂）", "plant-7306（工厂二 ↔ 轴承厂）"],
                "limit": "10,000",
                "last_month": "2026-11",
                "moved": "receipt",
                "missing": "qty",
                "open_ids": ["P6"],
                "days": 7,
                "cutoff": "11-25",
                "day": "11-20",
                "later": "11-21 09:00",
                "kind": "count",
            },
        )
        for reason in (
            "unknown_item",
            "bad_quantity",
            "too_large",
            "fraction",
            "bad_period",
            "ambiguous",
            "not_understood",
            "wrong_role",
            "unknown_member",
            "unknown_proposal",
            "already",
            "not_allowed",
            "error",
            "over_stock",
            "changed",
            "past_period",
            "not_this_agreement",
            "which_agreement",
            "too_long",
            "moved_since",
            "nothing_to_undo",
            "undo_moved",
            "nothing_held",
            "held_moved",
            "approximate",
            "remark",
            "future_date",
            "too_far_back",
            "settled_period",
            "recorded_later",
        )
    ],
    *[
        ("todo", {"member_name": "王采购", "lines": lines})
        for lines in (
            [],
            [
                {
                    "id": "P1",
                    "step": "确认",
                    "item_name": "6205",
                    "unit": "件",
                    "qty": 55,
                    "received_qty": 10,
                    "eta": "11-24",
                    "waited": "3 天",
                    "late": True,
                }
            ],
        )
    ],
    ("courtesy", {"member_name": "王仓管"}),
    ("stock_out", {"items": ["6205 深沟球轴承"], "by": "王仓管"}),
    (
        "proposal_withdrawn",
        {"item_name": "6205", "unit": "件", "by": "王仓管", "proposal_id": "P1", "qty": 100},
    ),
    *[
        (
            "undone",
            {
                "kind": kind,
                "item_name": "6205",
                "unit": "件",
                "qty": 9,
                "unbilled": 81,
                "on_hand": 90,
            },
        )
        for kind in ("count", "withdrawal", "held")
    ],
    (
        "history",
        {
            "proposal_id": "P1",
            "item_name": "6205",
            "unit": "件",
            "qty": 55,
            "state": "已发货",
            "received_qty": 0,
            "eta": "2026-11-24",
            "steps": [
                {"action": a, "by": b, "at": "11-21 10:00", "qty": 55, "note": "太多"}
                for a, b in (("propose", "system"), ("reject", "王采购"))
            ],
        },
    ),
    *[
        (
            "help",
            {
                "member_name": "王仓管",
                "may_do": [action for action in MAY if may(role, action)],
                "role_label": role,
                "sku": "6205",
                "others": ["6206"],
                "items": ["6205"],
                "puzzled": "ok",
            },
        )
        for role in ("warehouse", "buyer", "supplier", "admin")
    ],
    ("status", {"agreement": "plant-6205", "items": [ITEM], "states": STATES}),
    ("review", {"agreement": "plant-6205", "proposed": ["P1 6205 55 件"], "uncounted": []}),
    ("review", {"agreement": "plant-6205", "proposed": [], "uncounted": ["6206"]}),
    ("adjust_form", {"proposal_id": "P1"}),
    *[
        (
            "reminder",
            {
                "kind": kind,
                "agreement": "plant-6205",
                "proposal_id": "P1",
                "period": "2026-12",
                "due_day": 5,
                "example": "6205 库存 45",
            },
        )
        for kind in (
            "count_missing",
            "weekly_plan",
            "monthly_plan",
            "plan_overdue",
            "unconfirmed",
            "not_arrived",
        )
    ],
    *[
        (
            "settlement",
            {
                "id": "S1",
                "agreement": "plant-6205",
                "revision": revision,
                "state": state,
                "start": "2026-10-25",
                "end": "2026-11-24",
                "total": "1,062.50",
                "overstock_days": 30,
                "lines": [
                    {
                        "name": "6205",
                        "unit": "件",
                        "qty": 85,
                        "unit_price": "12.50",
                        "amount": "1,062.50",
                    }
                ],
                "adjustments": [
                    {
                        "name": "6205",
                        "unit": "件",
                        "qty": -10,
                        "unit_price": "12.50",
                        "amount": "-125.00",
                        "of": "S0",
                        "start": "2026-09-25",
                        "end": "2026-10-24",
                    }
                ],
                "confirmed": (
                    {
                        "buyer": {"by": "王采购", "at": "2026-11-25 10:00"},
                        "supplier": {"by": "李供应", "at": "2026-11-25 11:00"},
                    }
                    if state == "locked"
                    else {}
                ),
                "disputes": [],
                "open_dispute": (
                    {"by": "王采购", "at": "2026-11-25 10:00", "reason": "11-24 盘点有误"}
                    if state == "disputed"
                    else None
                ),
                "reviews": [
                    {
                        "name": "6205",
                        "unit": "件",
                        "qty": 85,
                        "planned": planned,
                        "error": error,
                        "aged": 5,
                        "stock_outs": 0,
                        "emergencies": 1,
                        "average": 77.4,
                        "turns": 1.1,
                    }
                ],
            },
        )
        for (planned, error), (state, revision) in zip(
            ((90, -5), (None, None), (80, 5)),
            (("draft", 1), ("disputed", 1), ("locked", 2)),
            strict=True,
        )
    ],
    *[
        (
            "statement_action",
            {
                "action": action,
                "id": "S1",
                "revision": 2,
                "by": "王采购",
                "total": "1,062.50",
                "total_before": "1,187.50",
                "side": "buyer",
                "side_label": "采购方",
                "waiting": ["供应商"],
                "locked": locked,
                "reason": "11-24 盘点有误",
            },
        )
        for action, locked in (
            ("confirm", False),
            ("confirm", True),
            ("dispute", False),
            ("reissue", False),
        )
    ],
    *[
        (
            "overstock",
            {
                "alert_id": "O1",
                "agreement": "plant-6205",
                "sku": "6205",
                "item_name": "6205 深沟球轴承",
                "unit": "件",
                "qty": 130,
                "on_hand": 130,
                "max": 100,
                "days": 30,
                "limit": 30,
                "since": "2026-11-01",
                "unit_price": "12.50",
                "value": "1625.00",
                "offer": 30,
                "again": again,
            },
        )
        for again in (False, True)
    ],
    *[
        (
            "overstock_decision",
            {
                "alert_id": "O1",
                "choice": choice,
                "by": "王采购",
                "item_name": "6205",
                "unit": "件",
                "qty": 30,
                "on_hand": 100,
                "price": "10.00",
                "unit_price": "12.50",
            },
        )
        for choice in ("return", "discount", "keep")
    ],
    *[
        (
            "amendment",
            {
                "kind": kind,
                "amendment_id": "A1",
                "agreement": "plant-6205",
                "sku": "6205",
                "item_name": "6205 深沟球轴承",
                "changes": [{"field": "min", "old": 50, "new": 55}],
                "proposed_by": "王采购",
                "decided_by": "李供应",
                "reason": "太高",
            },
        )
        for kind in ("proposed", "applied", "rejected", "file_wins")
    ],
    *[
        ("uncounted", {"agreement": "plant-6205", "items": items, "example": "6205 库存 45"})
        for items in ([{"sku": "6206", "name": "6206 深沟球轴承"}], [])
    ],
    *[
        ("sheet_link", {"off": off, "page": page, "url": "" if off else "https://x/sheet/a?key=k",
                        "expires": "" if off else "2026-12-02 10:00", "agreements": ["plant-6205"],
                        "smartsheet": smartsheet})
        for off in (True, False)
        for page in ("sheet", "overview")
        for smartsheet in ("", "https://doc.weixin.qq.com/smartsheet/s1")
    ],
    *[
        (
            "retro",
            {
                "agreement": "plant-6205", "month": "2026-11", "start": "2026-10-25",
                "end": "2026-11-24", "to_date": to_date, "overstock_days": 30,
                "items": [{
                    "sku": "6205", "name": "6205", "unit": "件", "min": 50, "max": 100,
                    "withdrawn": 85, "planned": planned, "wmape_pct": "64%", "bias_pct": "-6%",
                    "stockout_days": 0, "fill_pct": "100%", "proposals_on_time": 0,
                    "proposals_late": 1, "emergencies": 1, "customer_share": "50%",
                    "supplier_share": "50%", "average_stock": 77.4, "average_value": "967.50",
                    "turns": 1.1, "on_hand_at_end": 60, "days_of_cover": 21.9, "aged_qty": 5,
                    "under_plan": 5 if planned else 0, "suggested_min": suggested,
                    "suggested_max": 53,
                }],
            },
        )
        for planned, to_date, suggested in ((90.0, False, 44), (None, True, None))
    ],
    *[
        (
            "suggest",
            {
                "sku": "6205", "item_name": "6205", "unit": "件", "current_min": 50,
                "current_max": 100, "found": found, "min": 44, "max": 53, "days": 31,
                "mean_daily": 2.74, "std_daily": 6.69, "protection_days": 6,
                "review_every_days": 3, "lead_time_days": 3, "service_level": 0.95,
                "z": 1.645, "safety_stock": 26.9, "service_pct": "95.0%", "demand_over_p": 16.4,
                "demand_over_r": 8.2, "pack_size": 1, "moq": 0,
            },
        )
        for found in (True, False)
    ],
    *[
        (
            "sheet",
            {
                "kind": kind, "file_name": "盘点.xlsx", "month": "", "import_id": "I1",
                "recorded_at": "",
                "lines": [
                    {"row": 3, "kind": "count", "sku": "6205", "qty": 45, "period": "",
                     "problem": "", "text": "45件", "name": "6205", "unit": "件"},
                    {"row": 4, "kind": "plan", "sku": "6205", "qty": 90, "period": "2026-12",
                     "problem": "wrong_role", "text": "90", "name": "6205", "unit": "件"},
                ],
            },
        )
        for kind in ("export", "preview", "recorded")
    ],
    (
        "simulate",
        {
            "sku": "6205", "item_name": "6205 深沟球轴承", "item_name_en": "", "unit": "件",
            "days": 90,
            "now": {"min": 50, "max": 100, "avg_stock": "72.5", "stockout_days": 0,
                    "orders": 9, "emergencies": 0},
            "new": {"min": 40, "max": 90, "avg_stock": "61.0", "stockout_days": 2,
                    "orders": 10, "emergencies": 0},
        },
    ),
]  # fmt: skip


def test_every_template_has_both_locales_and_a_case_here() -> None:
    names = {p.stem for p in (TEMPLATES / "zh").glob("*.j2")}
    assert names == {p.stem for p in (TEMPLATES / "en").glob("*.j2")}
    assert names - {"buttons"} == {name for name, _ in CASES}


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize(("name", "context"), CASES, ids=lambda v: v if isinstance(v, str) else "")
def test_renders_with_a_title_and_lines(name: str, context: dict[str, Any], locale: str) -> None:
    card = render_card(name, locale, buttons=proposal_buttons("P1"), **context)
    assert card.title and card.lines
    assert all("{{" not in line and "{%" not in line for line in card.lines)
    assert [b.label for b in card.buttons] and all(b.label for b in card.buttons)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize(
    ("name", "context"),
    [next(case for case in CASES if case[0] == name) for name in ("proposal", "stock")],
    ids=["proposal", "stock"],
)
def test_a_missing_value_is_an_error_not_a_blank(
    name: str, context: dict[str, Any], locale: str
) -> None:
    broken = dict(context)
    broken.pop(next(iter(broken)))
    with pytest.raises(UndefinedError):
        render_card(name, locale, **broken)


def test_button_words_match_what_people_type() -> None:
    zh = render_card(
        "review", "zh", buttons=proposal_buttons("P7"), agreement="a", proposed=[], uncounted=[]
    )
    en = render_card(
        "review", "en", buttons=proposal_buttons("P7"), agreement="a", proposed=[], uncounted=[]
    )
    assert [b.text_equivalent for b in zh.buttons] == ["确认 P7", "调整 P7 数量", "拒绝 P7 原因"]
    assert [b.text_equivalent for b in en.buttons] == [
        "confirm P7",
        "adjust P7 QTY",
        "reject P7 REASON",
    ]
