"""What `vmi-bot simulate` prints: the three policies side by side, VMI − traditional in %,
and the seed's claims beside them (met / not met under this demand), in zh or en."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

from bot.services.simulate import Run
from vmi_rules.simulation.figures import Figures, claims, differences

_WORDS = {
    "zh": {
        "head": "模拟 {agreement} · {days} 天 · 需求 {demand} · 种子 {seed}（{items} 个物料）",
        "columns": ("", "传统订货", "VMI（现约定）", "VMI（建议值）", "VMI−传统"),
        "avg_stock_units": "平均库存（件）",
        "avg_stock_value": "平均库存金额",
        "stockout_days": "缺货天数",
        "stockout_rate": "缺货率",
        "fill_rate": "满足率",
        "cycle_service_level": "周期服务水平",
        "orders": "补货次数",
        "emergency_shipments": "紧急调货次数",
        "emergency_freight": "紧急运费",
        "emergency_freight_customer": "　其中客户承担",
        "turns": "年周转次数",
        "bullwhip": "牛鞭效应（订货方差÷需求方差）",
        "claims": "种子的说法（在这种需求下）：",
        "stock_value": "库存资金占用减少 30%-50%：{change}",
        "stockout_rate_claim": "缺货率从 15% 降到 5% 以下：VMI {vmi}（传统 {traditional}）",
        "emergencies": "紧急调货更少：VMI {vmi} 次，传统 {traditional} 次",
        "met": "达到",
        "not_met": "未达到",
        "not_shown": "看不出（两种都没有紧急调货）",
        "note": "（模拟，什么都没有记录。）",
    },
    "en": {
        "head": "Simulation {agreement} · {days} days · {demand} demand · seed {seed} "
        "(items: {items})",
        "columns": ("", "traditional", "VMI (as agreed)", "VMI (suggested)", "VMI − trad."),
        "avg_stock_units": "average stock (units)",
        "avg_stock_value": "average stock value",
        "stockout_days": "stock-out days",
        "stockout_rate": "stock-out rate",
        "fill_rate": "fill rate",
        "cycle_service_level": "cycle service level",
        "orders": "orders",
        "emergency_shipments": "emergency shipments",
        "emergency_freight": "emergency freight",
        "emergency_freight_customer": "  paid by the customer",
        "turns": "turns a year",
        "bullwhip": "bullwhip (var orders ÷ var demand)",
        "claims": "The seed's claims (under this demand):",
        "stock_value": "stock value down 30%-50%: {change}",
        "stockout_rate_claim": "stock-out rate from 15% to under 5%: VMI {vmi} "
        "(traditional {traditional})",
        "emergencies": "fewer emergency shipments: VMI {vmi}, traditional {traditional}",
        "met": "met",
        "not_met": "not met",
        "not_shown": "not shown (no emergency either way)",
        "note": "(A simulation: nothing was recorded.)",
    },
}


def _width(text: str) -> int:
    """Columns a text takes in a terminal: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int, left: bool = False) -> str:
    room = " " * max(0, width - _width(text))
    return text + room if left else room + text


def _number(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _signed(value: float | None) -> str:
    return "—" if value is None else f"{value:+.1f}%"


_ROWS: tuple[tuple[str, Callable[[Figures], str]], ...] = (
    ("avg_stock_units", lambda f: _number(f.avg_stock_units)),
    ("avg_stock_value", lambda f: _number(f.avg_stock_value, 2)),
    ("stockout_days", lambda f: str(f.stockout_days)),
    ("stockout_rate", lambda f: _percent(f.stockout_rate)),
    ("fill_rate", lambda f: _percent(f.fill_rate)),
    ("cycle_service_level", lambda f: _percent(f.cycle_service_level)),
    ("orders", lambda f: str(f.orders)),
    ("emergency_shipments", lambda f: str(f.emergency_shipments)),
    ("emergency_freight", lambda f: _number(f.emergency_freight, 2)),
    ("emergency_freight_customer", lambda f: _number(f.emergency_freight_customer, 2)),
    ("turns", lambda f: _number(f.turns)),
    ("bullwhip", lambda f: _number(f.bullwhip, 2)),
)


def simulation_table(run: Run, locale: str) -> str:
    """The printed table and the claims, in `locale` (zh or en)."""
    words = _WORDS["en" if locale == "en" else "zh"]
    totals = run.simulation.totals
    blind, vmi, better = totals["traditional"], totals["vmi"], totals["vmi_suggested"]
    change = differences(vmi, blind)
    head = str(words["head"]).format(agreement=run.agreement.id, days=run.days,
                                     demand=run.demand, seed=run.seed,
                                     items=len(run.simulation.items))  # fmt: skip
    rows = [list(words["columns"])]
    for key, shown in _ROWS:
        rows.append([str(words[key]), shown(blind), shown(vmi), shown(better),
                     _signed(change.get(key))])  # fmt: skip
    widths = [max(_width(row[k]) for row in rows) for k in range(len(rows[0]))]
    lines = [head]
    for row in rows:
        cells = [_pad(row[0], widths[0], left=True)]
        cells += [_pad(cell, widths[k]) for k, cell in enumerate(row[1:], start=1)]
        lines.append("  ".join(cells).rstrip())
    lines.append(str(words["claims"]))
    for claim in claims(vmi, blind):
        verdict = words[{True: "met", False: "not_met", None: "not_shown"}[claim.met]]
        if claim.key == "stock_value":
            said = str(words["stock_value"]).format(change=_signed(change["avg_stock_value"]))
        elif claim.key == "stockout_rate":
            said = str(words["stockout_rate_claim"]).format(
                vmi=_percent(claim.vmi), traditional=_percent(claim.traditional)
            )
        else:
            said = str(words["emergencies"]).format(
                vmi=int(claim.vmi), traditional=int(claim.traditional)
            )
        lines.append(f"  {said} → {verdict}")
    lines.append(str(words["note"]))
    return "\n".join(lines)
