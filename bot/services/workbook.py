"""The shared sheet as an Excel workbook (DESIGN §7): what the bot already knows, laid out the
way people keep it: 库存 / Stock, 流水 / Ledger, 补货 / Proposals, 计划 / Plans, 对账 /
Statements. Figures come from the status and statement services; nothing is worked out twice.

Numbers and dates are written as numbers and dates (not text), the header row is frozen, the
columns are sized, and the stock sheet marks on hand below min and above max.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import xlsxwriter
from sqlmodel import Session

from bot.config import AgreementConfig, Config
from bot.services.statement_card import statement_document
from bot.services.status import status
from bot.storage import proposals as stored_proposals
from bot.storage.sheet_rows import (
    ledger_rows,
    plan_rows,
    proposal_rows,
    statement_rows,
    taken_back_ids,
)
from messages.words import state_labels
from vmi_rules.periods import parse_period

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

SHEETS = {
    "zh": {"stock": "库存", "ledger": "流水", "proposals": "补货", "plans": "计划",
           "statements": "对账"},
    "en": {"stock": "Stock", "ledger": "Ledger", "proposals": "Proposals", "plans": "Plans",
           "statements": "Statements"},
}  # fmt: skip
HEADERS = {
    "zh": {
        "stock": ["物料编码", "名称", "单位", "库存", "在途", "库存位置", "补货线", "安全线",
                  "可用天数", "最近盘点", "盘点人"],
        "ledger": ["日期", "物料编码", "类型", "数量", "经手人", "补货单", "备注"],
        "proposals": ["补货单", "物料编码", "数量", "状态", "紧急", "已发货", "已入库",
                      "预计到货", "日期", "步骤", "经手人", "步骤数量", "备注"],
        "plans": ["物料编码", "名称", "期间", "开始", "结束", "需求数量", "更新人", "更新时间"],
        "statements": ["对账单", "开始", "结束", "版本", "金额", "状态", "采购确认",
                       "供应商确认"],
    },
    "en": {
        "stock": ["SKU", "Name", "Unit", "On hand", "In transit", "Position", "Min", "Max",
                  "Days of cover", "Last count", "Counted by"],
        "ledger": ["Date", "SKU", "Kind", "Qty", "Who", "Proposal", "Note"],
        "proposals": ["Proposal", "SKU", "Qty", "State", "Urgent", "Shipped", "Received",
                      "ETA", "Date", "Step", "Who", "Step qty", "Note"],
        "plans": ["SKU", "Name", "Period", "Start", "End", "Qty", "By", "Updated"],
        "statements": ["Statement", "Start", "End", "Revision", "Total", "State",
                       "Buyer confirmed", "Supplier confirmed"],
    },
}  # fmt: skip
KINDS = {
    "zh": {"count": "盘点", "withdrawal": "领用", "receipt": "入库", "adjustment": "调整",
           "return": "退货", "reversal": "冲销"},
    "en": {"count": "count", "withdrawal": "withdrawal", "receipt": "receipt",
           "adjustment": "adjustment", "return": "return", "reversal": "reversal"},
}  # fmt: skip
NOTES = {
    "zh": {"inferred": "由盘点推算", "reverses": "冲销第 {} 行", "taken_back": "已冲销",
           "gain": "盘盈 {}"},
    "en": {"inferred": "inferred from a count", "reverses": "reverses row {}",
           "taken_back": "taken back", "gain": "gain {}"},
}  # fmt: skip
STATEMENT_STATES = {
    "zh": {"draft": "待确认", "disputed": "有异议", "locked": "已锁定", "confirmed": "已确认"},
    "en": {"draft": "draft", "disputed": "disputed", "locked": "locked", "confirmed": "confirmed"},
}


def _lang(locale: str) -> str:
    return locale if locale in SHEETS else "zh"


def sheet_name(agreement: AgreementConfig, month: str | None = None) -> str:
    """The workbook's file name: the agreement, and the month when limited to one."""
    return f"vmi-{agreement.id}{'-' + month if month else ''}.xlsx"


def workbook(
    session: Session,
    config: Config,
    agreement: AgreementConfig,
    now: datetime,
    locale: str,
    month: str | None = None,
) -> bytes:
    """The agreement's shared sheet as .xlsx bytes, as of `now`; `month` ("YYYY-MM") limits
    the ledger to the movements dated in that month (in the agreement's time zone)."""
    lang = _lang(locale)
    tz = agreement.tz
    document = status(session, config, now, [agreement.id])["agreements"][0]
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "remove_timezone": True})
    head = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    money = book.add_format({"num_format": "#,##0.00"})
    one = book.add_format({"num_format": "0.0"})
    low = book.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006"})
    high = book.add_format({"bg_color": "#FFEB9C", "font_color": "#9C5700"})

    def local(at: datetime | None) -> datetime | None:
        return at.astimezone(tz).replace(tzinfo=None) if at is not None else None

    def who(member_id: str | None) -> str:
        member = config.member(member_id) if member_id else None
        return member.name if member else (member_id or "")

    def sheet(key: str, widths: list[int]) -> Any:
        ws = book.add_worksheet(SHEETS[lang][key])
        for column, (title, width) in enumerate(zip(HEADERS[lang][key], widths, strict=True)):
            ws.write_string(0, column, title, head)
            ws.set_column(column, column, width)
        ws.freeze_panes(1, 0)
        return ws

    # 库存 / Stock
    rows = ledger_rows(session, agreement.id)
    back = taken_back_ids(session, agreement.id)
    last_counter = {
        r.sku: r.member_id for r in rows if r.kind == "count" and r.id not in back
    }  # the latest live count of each item, in ledger order
    ws = sheet("stock", [12, 22, 6, 9, 9, 10, 9, 9, 10, 17, 12])
    items = document["items"]
    today = now.astimezone(tz).date()
    for n, item in enumerate(items, start=1):
        name = item["name_en"] if lang == "en" and item.get("name_en") else item["name"]
        ws.write_string(n, 0, item["sku"])
        ws.write_string(n, 1, name)
        ws.write_string(n, 2, item["unit"])
        for column, key in enumerate(("on_hand", "in_transit", "position", "min", "max"), 3):
            ws.write_number(n, column, item[key])
        cover = _days_of_cover(item, today)
        if cover is not None:
            ws.write_number(n, 8, cover, one)
        last = item["last_count_at"]
        if last:
            ws.write_datetime(n, 9, datetime.fromisoformat(last).replace(tzinfo=None), stamp)
            ws.write_string(n, 10, who(last_counter.get(item["sku"])))
    if items:
        for n in range(1, len(items) + 1):  # each row against its own min and max
            ws.conditional_format(
                n, 3, n, 3, {"type": "cell", "criteria": "<", "value": f"$G${n + 1}", "format": low}
            )
            ws.conditional_format(
                n,
                3,
                n,
                3,
                {"type": "cell", "criteria": ">", "value": f"$H${n + 1}", "format": high},
            )

    # 流水 / Ledger
    ws = sheet("ledger", [17, 12, 10, 8, 12, 9, 22])
    shown = rows
    if month:
        period = parse_period(month)
        start = datetime.combine(period.start, datetime.min.time(), tzinfo=tz)
        end = datetime.combine(period.end, datetime.min.time(), tzinfo=tz)
        shown = [r for r in rows if start <= _aware(r.at) < end]
    for n, r in enumerate(shown, start=1):
        ws.write_datetime(n, 0, local(_aware(r.at)), stamp)
        ws.write_string(n, 1, r.sku)
        ws.write_string(n, 2, KINDS[lang].get(r.kind, r.kind))
        ws.write_number(n, 3, -r.qty if r.kind in ("withdrawal", "return") else r.qty)
        ws.write_string(n, 4, who(r.member_id))
        if r.proposal_id:
            ws.write_string(n, 5, stored_proposals.public_id(r.proposal_id))
        ws.write_string(n, 6, _note(r, back, lang))

    # 补货 / Proposals: one row per step of each
    ws = sheet("proposals", [9, 12, 8, 10, 6, 8, 8, 11, 17, 10, 12, 9, 22])
    states = state_labels(lang)
    n = 0
    for p in proposal_rows(session, agreement.id):
        assert p.id is not None
        for step in stored_proposals.steps(session, p.id):
            n += 1
            ws.write_string(n, 0, stored_proposals.public_id(p.id))
            ws.write_string(n, 1, p.sku)
            ws.write_number(n, 2, p.qty)
            ws.write_string(n, 3, states.get(p.state, p.state))
            ws.write_boolean(n, 4, p.urgent)
            ws.write_number(n, 5, p.shipped_qty)
            ws.write_number(n, 6, p.received_qty)
            if p.eta:
                ws.write_datetime(n, 7, datetime.combine(p.eta, datetime.min.time()), day)
            ws.write_datetime(n, 8, local(_aware(step.at)), stamp)
            ws.write_string(n, 9, states.get(step.to_state, step.to_state))
            ws.write_string(n, 10, step.by_name or who(step.member_id))
            ws.write_number(n, 11, step.qty)
            ws.write_string(n, 12, step.note)

    # 计划 / Plans
    ws = sheet("plans", [12, 22, 10, 11, 11, 9, 12, 17])
    for n, plan in enumerate(plan_rows(session, agreement.id), start=1):
        item_cfg = agreement.item(plan.sku)
        name = item_cfg.name_in(lang) if item_cfg else plan.sku
        ws.write_string(n, 0, plan.sku)
        ws.write_string(n, 1, name)
        ws.write_string(n, 2, plan.period)
        ws.write_datetime(n, 3, datetime.combine(plan.period_start, datetime.min.time()), day)
        last_day = plan.period_end - timedelta(days=1)
        ws.write_datetime(n, 4, datetime.combine(last_day, datetime.min.time()), day)
        ws.write_number(n, 5, plan.qty)
        ws.write_string(n, 6, who(plan.member_id))
        ws.write_datetime(n, 7, local(_aware(plan.updated_at)), stamp)

    # 对账 / Statements
    ws = sheet("statements", [9, 11, 11, 7, 12, 9, 18, 18])
    labels = STATEMENT_STATES[lang]
    for n, row in enumerate(statement_rows(session, agreement.id), start=1):
        shown_doc = statement_document(session, agreement, row)
        ws.write_string(n, 0, shown_doc["id"])
        for column, key in ((1, "start"), (2, "end")):
            when = date.fromisoformat(shown_doc["period"][key])
            ws.write_datetime(n, column, datetime.combine(when, datetime.min.time()), day)
        ws.write_number(n, 3, shown_doc["revision"])
        ws.write_number(n, 4, shown_doc["total"], money)
        ws.write_string(n, 5, labels.get(shown_doc["state"], shown_doc["state"]))
        for column, side in ((6, "buyer"), (7, "supplier")):
            signed = shown_doc["confirmed_by"].get(side)
            if signed:
                ws.write_string(n, column, f"{signed['by']} {signed['at']}")
    book.close()
    return out.getvalue()


def _aware(at: datetime) -> datetime:
    """A stored time as UTC-aware (SQLite hands some back naive)."""
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _note(row: Any, back: set[int], lang: str) -> str:
    """What a ledger row is beside its kind: inferred, a reversal, taken back, a gain."""
    words = NOTES[lang]
    # an inferred withdrawal's stored note is the bot's own English: the sheet says it locally
    notes = [words["inferred"]] if row.inferred else [row.note] if row.note else []
    if row.reverses_id:
        notes.append(words["reverses"].format(row.reverses_id))
    if row.id in back:
        notes.append(words["taken_back"])
    if row.anomaly_gain:
        notes.append(words["gain"].format(row.anomaly_gain))
    return "; ".join(notes)


def _days_of_cover(item: dict[str, Any], today: date) -> float | None:
    """On hand over the planned use per day (the plan running today, else the next one)."""
    for plan in item["demand_plans"]:
        period = parse_period(plan["period"])
        if period.end > today and plan["qty"] > 0:
            cover: float = item["on_hand"] * period.days / plan["qty"]
            return round(cover, 1)
    return None
