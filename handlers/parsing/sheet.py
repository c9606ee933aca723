"""A sheet a keeper or buyer keeps (.xlsx or .csv) → the counts and plans in it, row by row.

The header row is found by its words (物料编码 / 料号 / sku / 型号 beside 库存 / 数量 / 盘点 /
qty, or 计划 / 需求 with a period column or a period in the header); a title row above it,
序号 columns, merged cells, blank rows, total rows and unit suffixes (`45件`) are taken as
people make them. Reading records nothing: each line says what it is, or why it is refused.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from handlers.parsing.normalise import normalise
from handlers.parsing.parsed import MAX_QTY, ConfirmImport, Export
from vmi_rules.periods import month_of, parse_period
from vmi_rules.terms import Item

SKU_WORDS = ("物料编码", "物料号", "料号", "编码", "型号", "sku", "part", "item code")
COUNT_WORDS = ("库存", "数量", "盘点", "实盘", "qty", "quantity", "stock", "count", "on hand")
PLAN_WORDS = ("计划", "需求", "预计", "plan", "demand", "forecast")
PERIOD_WORDS = ("期间", "月份", "周次", "period", "month", "week")
TOTAL_WORDS = ("合计", "总计", "小计", "total")
HEADER_SEARCH = 15  # rows looked at for the header: a title, a date, a blank row or two
MAX_ROWS = 2_000  # a sheet of parts, not a database dump

Problem = Literal[
    "", "unknown_item", "bad_quantity", "fraction", "too_large", "bad_period", "past_period"
]
LineKind = Literal["count", "plan"]
_NUMBER = re.compile(r"^([+-]?\d+(?:\.\d+)?)\s*([^\d\s].{0,5})?$")
_MONTH_CN = re.compile(r"(?:(\d{4})\s*年\s*)?(\d{1,2})\s*月")
_PERIOD = re.compile(r"\d{4}-(?:W\d{2}|\d{2})")


@dataclass(frozen=True)
class SheetLine:
    """One count or plan read from a row: `row` as the sheet numbers it, `problem` empty when
    it can be recorded, else why not; `text` the cell as written (for the reply)."""

    row: int
    kind: LineKind
    sku: str
    qty: int
    period: str = ""
    problem: Problem = ""
    text: str = ""


@dataclass(frozen=True)
class SheetRead:
    """What a sheet holds: its lines, or why none could be read (`problem`)."""

    lines: tuple[SheetLine, ...] = ()
    problem: Literal["", "unreadable", "no_header", "empty"] = ""


EXPORT_WORDS = ("导出", "导出表格", "导出excel", "export", "export sheet", "export excel")
CONFIRM_WORDS = ("确认导入", "confirm import", "import confirm")
_COMMAND = re.compile(r"^(?P<word>[^\d]+?)\s*(?P<arg>\d{4}-\d{2}|[Ii]\d{1,12})?$")


def read_sheet_command(text: str) -> Export | ConfirmImport | None:
    """导出 [YYYY-MM] / export [YYYY-MM], 确认导入 [I3] / confirm import [I3]; else None."""
    match = _COMMAND.match(normalise(text).strip().lower())
    if match is None:
        return None
    word, arg = " ".join(match["word"].split()), match["arg"] or None
    if word in EXPORT_WORDS and (arg is None or "-" in arg):
        return Export(arg)
    if word in CONFIRM_WORDS and (arg is None or "-" not in arg):
        return ConfirmImport(arg.upper() if arg else None)
    return None


def read_sheet(name: str, data: bytes, items: Sequence[Item], today: date) -> SheetRead:
    """The counts and plans of an .xlsx or .csv file; `today` in the agreement's time zone
    (a plan for a period that is over is refused). Never raises."""
    try:
        rows = _xlsx_rows(data) if not name.lower().endswith(".csv") else _csv_rows(data)
    except Exception:  # a damaged or foreign file: say so rather than fail the message
        return SheetRead(problem="unreadable")
    found = _header(rows)
    if found is None:
        return SheetRead(problem="no_header")
    at, sku_col, columns = found
    lines: list[SheetLine] = []
    for number, row in enumerate(rows[at + 1 :], start=at + 2):
        raw_sku = _text(_cell(row, sku_col))
        if not raw_sku or any(w in raw_sku.lower() for w in TOTAL_WORDS):
            continue  # a blank row, a total row
        item = _item(raw_sku, items)
        row_period = ""
        for kind, col, period_col, header_period in columns:
            cell = _cell(row, col)
            if _text(cell) == "":
                continue
            if kind == "plan":
                named = header_period or _period_text(_cell(row, period_col), today)
                row_period = resolve_month(named, today)
            lines.append(_line(number, kind, item, raw_sku, cell, row_period, today))
    if not lines:
        return SheetRead(problem="empty")
    return SheetRead(tuple(lines))


def _line(
    number: int, kind: LineKind, item: Item | None, raw_sku: str, cell: Any, period: str,
    today: date,
) -> SheetLine:  # fmt: skip
    text = _text(cell)
    sku = item.sku if item else raw_sku
    if item is None:
        return SheetLine(number, kind, sku, 0, period, "unknown_item", text)
    qty, problem = _quantity(cell)
    if not problem and kind == "plan":
        try:
            shown = parse_period(period)
        except ValueError:
            return SheetLine(number, kind, sku, qty, period, "bad_period", text)
        if shown.end <= today:
            return SheetLine(number, kind, sku, qty, period, "past_period", text)
    return SheetLine(number, kind, sku, qty, period, problem, text)


def _quantity(cell: Any) -> tuple[int, Problem]:
    """A cell's quantity: a number, or a number with a unit (45件, 1,250 pcs)."""
    if isinstance(cell, bool):
        return 0, "bad_quantity"
    if isinstance(cell, int | float):
        value = float(cell)
    else:
        match = _NUMBER.match(_text(cell).replace(",", "").replace("，", ""))
        if match is None:
            return 0, "bad_quantity"
        value = float(match[1])
    if value < 0:
        return 0, "bad_quantity"
    if value != int(value):
        return 0, "fraction"
    if value > MAX_QTY:
        return 0, "too_large"
    return int(value), ""


def _item(text: str, items: Sequence[Item]) -> Item | None:
    """The item a sku cell names: its sku, an alias or its name (any case)."""
    wanted = text.strip().lower()
    for item in items:
        if wanted in (item.sku.lower(), item.name.lower(), *(a.lower() for a in item.aliases)):
            return item
    return None


Column = tuple[LineKind, int, int, str]  # kind, column, period column, period of the header


def _header(rows: list[list[Any]]) -> tuple[int, int, list[Column]] | None:
    """The header row's index, the sku column, and the count and plan columns."""
    for at, row in enumerate(rows[:HEADER_SEARCH]):
        words = [_text(c).lower().replace(" ", "") for c in row]
        sku_col = next((i for i, w in enumerate(words) if _has(w, SKU_WORDS)), None)
        if sku_col is None:
            continue
        period_col = next((i for i, w in enumerate(words) if _has(w, PERIOD_WORDS)), -1)
        columns: list[Column] = []
        for i, word in enumerate(words):
            if i in (sku_col, period_col) or not word:
                continue
            if _has(word, PLAN_WORDS):
                columns.append(("plan", i, period_col, _header_period(_text(row[i]))))
            elif _has(word, COUNT_WORDS):
                columns.append(("count", i, -1, ""))
        if columns:
            return at, sku_col, columns
    return None


def _has(word: str, among: Iterable[str]) -> bool:
    return any(w.replace(" ", "") in word for w in among)


def _header_period(text: str) -> str:
    """A period written in a plan column's header: "2026-12 需求", "12月计划" (the year of
    the next such month is left to the row's reader: it is "M" alone, resolved later)."""
    match = _PERIOD.search(text)
    if match:
        return match[0]
    cn = _MONTH_CN.search(text)
    if cn:
        return f"{cn[1]}-{int(cn[2]):02d}" if cn[1] else f"month:{int(cn[2])}"
    return ""


def _period_text(cell: Any, today: date) -> str:
    """A period cell: 2026-12, 2026-W50, 12月, or a date (its month)."""
    if isinstance(cell, datetime | date):
        day = cell.date() if isinstance(cell, datetime) else cell
        return month_of(day).label
    text = _text(cell)
    found = _header_period(text)
    return found or text


def resolve_month(period: str, today: date) -> str:
    """ "month:12" (a month named without its year) as the next such month from `today`."""
    if not period.startswith("month:"):
        return period
    month = int(period.removeprefix("month:"))
    year = today.year if month >= today.month else today.year + 1
    return f"{year}-{month:02d}"


def _cell(row: list[Any], column: int) -> Any:
    return row[column] if 0 <= column < len(row) else None


def _text(cell: Any) -> str:
    """A cell as text: 6205.0 (Excel's number) as 6205."""
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()


def _xlsx_rows(data: bytes) -> list[list[Any]]:
    """The first sheet's rows, a merged range's value in each of its cells."""
    from openpyxl import load_workbook  # loaded only when a workbook comes in

    book = load_workbook(io.BytesIO(data), data_only=True)
    sheet = book.worksheets[0]
    merged = [(r.min_row, r.min_col, r.max_row, r.max_col) for r in sheet.merged_cells.ranges]
    rows = [list(r) for r in sheet.iter_rows(max_row=MAX_ROWS, values_only=True)]
    for top, left, bottom, right in merged:
        value = rows[top - 1][left - 1] if top - 1 < len(rows) else None
        for r in range(top - 1, min(bottom, len(rows))):
            for c in range(left - 1, min(right, len(rows[r]))):
                rows[r][c] = value
    return rows


def _csv_rows(data: bytes) -> list[list[Any]]:
    """A .csv's rows, in UTF-8 (with or without its mark) or GB18030 as Excel in China saves."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("gb18030")
    return [list(r) for r in csv.reader(io.StringIO(text))][:MAX_ROWS]
