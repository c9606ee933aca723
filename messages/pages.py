"""The shared sheet's web pages: HTML from the jinja2 templates in messages/pages/, escaped
(autoescape on: an item's name or a reason someone typed is shown, never run), in zh or en."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from messages.render import LOCALES, period_shown
from messages.words import state_labels

PAGES = Path(__file__).parent / "pages"

WORDS = {
    "zh": {"sheet": "库存表", "overview": "总览", "as_of": "截至", "stock": "库存",
           "item": "物料", "on_hand": "在库", "in_transit": "在途", "position": "库存位置",
           "min": "补货线", "max": "安全线", "bar": "在库 / 库存位置", "per_day": "日均领用",
           "cover": "可用天数", "aged": "呆滞", "billable": "待结算领用", "proposals": "补货建议",
           "id": "编号", "qty": "数量", "state": "状态", "shipped": "已发货",
           "received": "已入库", "eta": "预计到货", "steps": "经过",
           "no_proposals": "没有未完成的补货建议",
           "plans": "需求计划与领用", "period": "期间", "planned": "计划", "withdrawn": "已领用",
           "no_plans": "没有需求计划", "chart": "近 60 天在库", "stock_outs": "缺货天数",
           "statement": "未完成的对账单", "total": "合计", "price": "单价", "amount": "金额",
           "no_statement": "没有待确认的对账单", "disputed": "有异议：",
           "customer": "客户", "proposed": "待确认",
           "confirmed": "已确认待发",
           "overview_note": "按可用天数排序（近 30 天日均领用），无领用的排在最后",
           "forbidden": "链接无效或已过期。请在群里发「表格」获取新链接。"},
    "en": {"sheet": "Stock sheet", "overview": "Overview", "as_of": "As of", "stock": "Stock",
           "item": "Item", "on_hand": "On hand", "in_transit": "In transit",
           "position": "Position", "min": "Min", "max": "Max", "bar": "On hand / position",
           "per_day": "Daily use", "cover": "Days of cover", "aged": "Aged",
           "billable": "To bill", "proposals": "Proposals", "id": "Id", "qty": "Qty",
           "state": "State", "shipped": "Shipped", "received": "Received", "eta": "ETA",
           "steps": "Steps", "no_proposals": "No open proposals", "plans": "Plans and withdrawals",
           "period": "Period", "planned": "Planned", "withdrawn": "Withdrawn",
           "no_plans": "No demand plans", "chart": "On hand, last 60 days",
           "stock_outs": "Days out of stock", "statement": "Open statement", "total": "Total",
           "price": "Unit price", "amount": "Amount", "no_statement": "No statement waiting",
           "disputed": "Disputed:",
           "customer": "Customer", "proposed": "Proposed", "confirmed": "Confirmed, to ship",
           "overview_note": "sorted by days of cover (average daily use of the last 30 days); "
                            "items without withdrawals last",
           "forbidden": "This link is not valid or has expired. "
                        "Type \"sheet\" in the chat for a new one."},
}  # fmt: skip
ACTIONS = {
    "zh": {"propose": "提出", "confirm": "确认", "adjust": "调整", "reject": "拒绝", "ship": "发货",
           "receive": "入库", "eta": "预计到货", "cancel": "取消", "decline": "无法供货",
           "expire": "过期", "resize": "调整数量", "correct_receipt": "更正入库"},
    "en": {"propose": "proposed", "confirm": "confirmed", "adjust": "adjusted",
           "reject": "rejected", "ship": "shipped", "receive": "received", "eta": "ETA",
           "cancel": "cancelled", "decline": "declined", "expire": "expired",
           "resize": "resized", "correct_receipt": "receipt corrected"},
}  # fmt: skip
STATEMENT_STATES = {
    "zh": {"draft": "待确认", "disputed": "有异议", "locked": "已锁定"},
    "en": {"draft": "waiting for signatures", "disputed": "disputed", "locked": "locked"},
}


@cache
def environment() -> Environment:
    """The pages' jinja2 environment: HTML escaped, strict about missing values."""
    env = Environment(
        loader=FileSystemLoader(PAGES),
        undefined=StrictUndefined,
        autoescape=select_autoescape(["html", "j2"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # installed with the code: no file check at every page
    )
    env.filters["period"] = period_shown
    return env


def _locale(locale: str) -> str:
    return locale if locale in LOCALES else LOCALES[0]


def _named(lines: list[dict[str, Any]], locale: str) -> list[dict[str, Any]]:
    """Each item with the name a page in `locale` shows."""
    english = locale == "en"
    return [
        {**i, "name_shown": (i.get("name_en") if english else None) or i["name"]} for i in lines
    ]


def _page(name: str, locale: str, **context: Any) -> str:
    locale = _locale(locale)
    stylesheet = (PAGES / "sheet.css").read_text(encoding="utf-8")
    return (
        environment()
        .get_template(f"{name}.html.j2")
        .render(locale=locale, w=WORDS[locale], stylesheet=stylesheet, **context)
    )


def sheet_page(sheet: dict[str, Any], locale: str, overview_url: str = "") -> str:
    """One agreement's page (bot.services.sheet.agreement_sheet's figures)."""
    locale = _locale(locale)
    shown = {**sheet, "items": _named(sheet["items"], locale)}
    return _page(
        "sheet", locale, a=shown, s=sheet["statement"], states=state_labels(locale),
        actions=ACTIONS[locale], statement_states=STATEMENT_STATES[locale],
        overview_url=overview_url,
    )  # fmt: skip


def overview_page(lines: list[dict[str, Any]], locale: str, as_of: str) -> str:
    """The supplier's overview (bot.services.sheet.overview's lines, each with its page's
    `url`)."""
    return _page("overview", locale, lines=_named(lines, _locale(locale)), as_of=as_of)


def forbidden_page(locale: str) -> str:
    """What a wrong, expired or foreign link shows: nothing of the sheet, and how to get one."""
    locale = _locale(locale)
    both = [WORDS[locale]["forbidden"], *(WORDS[o]["forbidden"] for o in LOCALES if o != locale)]
    return _page("forbidden", locale, both=both)
