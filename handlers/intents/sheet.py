"""The shared sheet in chat: 导出 / export sends the workbook; a sheet sent in (.xlsx, .csv)
is read and shown row by row, and recorded only when its sender says 确认导入 / confirm
import: in one go, through the same checks as typed counts and plans."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from typing import Any

from bot.services.workbook import XLSX, sheet_name, workbook
from bot.storage import sheet_imports
from bot.storage.tables import SheetImportRow
from handlers.intents.plans import on_plan
from handlers.intents.stock import hold_for_counting, on_count
from handlers.parsing import ConfirmImport, Count, Export, ItemQty, Plan, SheetSent
from handlers.parsing.sheet import SheetLine, read_sheet
from handlers.turn import Turn
from messages.cards import Card
from messages.words import example
from vmi_rules.periods import parse_period
from vmi_rules.roles import may

MAX_FILE = 5_000_000  # bytes: a sheet of parts is kilobytes; anything this big is not one


def on_export(turn: Turn, intent: Export) -> Card:
    """The agreement's shared sheet, as an .xlsx file on the reply."""
    data = workbook(turn.session, turn.config, turn.agreement, turn.now, turn.locale,
                    intent.month)  # fmt: skip
    name = sheet_name(turn.agreement, intent.month)
    card = turn.card("sheet", kind="export", file_name=name, month=intent.month or "",
                     lines=[], import_id="", recorded_at="")  # fmt: skip
    return Card.attach(card, data, name, XLSX)


def preview(turn: Turn, name: str, data: bytes) -> tuple[list[dict[str, Any]], str]:
    """Each line of the sheet as the reply shows it (what is refused says why), or why the
    sheet could not be read at all."""
    if len(data) > MAX_FILE:
        return [], "too_big"
    if not name.lower().endswith((".xlsx", ".csv")):
        return [], "not_a_sheet"
    today = turn.now.astimezone(turn.agreement.tz).date()
    read = read_sheet(name, data, turn.agreement.items, today)
    if read.problem:
        return [], read.problem
    return [_shown(turn, line) for line in read.lines], ""


def _shown(turn: Turn, line: SheetLine) -> dict[str, Any]:
    item = turn.agreement.item(line.sku)
    problem: str = line.problem
    if not problem and not may(turn.member.role, line.kind):
        problem = "wrong_role"  # counts are the keeper's, plans the buyer's
    return {
        "row": line.row, "kind": line.kind, "sku": line.sku, "qty": line.qty,
        "period": line.period, "problem": problem, "text": line.text,
        "name": item.name_in(turn.locale) if item else line.sku,
        "unit": item.unit if item else "",
    }  # fmt: skip


def on_sheet_sent(turn: Turn, intent: SheetSent) -> Card:
    """Read a sheet sent in and show what would be recorded; keep it waiting for 确认导入."""
    digest = sheet_imports.content_hash(intent.data)
    before = sheet_imports.find(turn.session, turn.agreement.id, digest)
    if before is not None and before.state == "recorded":
        at = before.decided_at or before.created_at
        return turn.refuse("already_imported", detail=sheet_imports.public_id(before.id),
                           at=at.astimezone(turn.agreement.tz).strftime("%m-%d %H:%M"))  # fmt: skip
    lines, problem = preview(turn, intent.name, intent.data)
    if problem:
        return turn.refuse(f"sheet_{problem}", detail=intent.name[:80],
                           example=example("count", turn.locale))  # fmt: skip
    row = before or sheet_imports.add(turn.session, SheetImportRow(
        agreement_id=turn.agreement.id, content_hash=digest, file_name=intent.name[:200],
        member_id=turn.member.id, lines=json.dumps(lines, ensure_ascii=False),
        inbox_id=turn.inbox_id, created_at=turn.now,
    ))  # fmt: skip
    return preview_card(turn, row.file_name, lines, sheet_imports.public_id(row.id))


def preview_card(turn: Turn, name: str, lines: list[dict[str, Any]], import_id: str) -> Card:
    """What a sheet would record, row by row, with the button to record it (none when nothing
    in it can be recorded, or when it is only looked at: no `import_id`)."""
    takes = any(not line["problem"] for line in lines)
    buttons = (("confirm_import", import_id, "primary"),) if takes and import_id else ()
    return turn.card("sheet", kind="preview", file_name=name, lines=lines, month="",
                     import_id=import_id, recorded_at="", buttons=buttons)  # fmt: skip


def on_confirm_import(turn: Turn, intent: ConfirmImport) -> Card:
    """Record the member's waiting sheet, once: a count per counted line (a mistyped one held
    as when typed), a plan per planned line, all in this one transaction."""
    row = sheet_imports.waiting(turn.session, turn.agreement.id, turn.member.id, intent.import_id)
    if row is None:
        return turn.refuse("nothing_to_import", example=example("count", turn.locale))
    if not sheet_imports.mark_recorded(turn.session, row, turn.member.id, turn.now):
        at = (row.decided_at or row.created_at).astimezone(turn.agreement.tz)
        return turn.refuse("already_imported", detail=sheet_imports.public_id(row.id),
                           at=at.strftime("%m-%d %H:%M"))  # fmt: skip
    # the roles are checked again: the member's role may have changed since the preview
    lines = [_again(turn, line) for line in json.loads(row.lines)]
    counts = tuple(ItemQty(ln["sku"], ln["qty"]) for ln in lines
                   if ln["kind"] == "count" and not ln["problem"])  # fmt: skip
    # every item of the sheet at once, in the one order: the count and the plans after it
    # would take them line by line
    hold_for_counting(turn, counts, also=[ln["sku"] for ln in lines if not ln["problem"]])
    replies: list[Card] = []
    if counts:
        replies.append(on_count(turn, Count(counts)))
    for line in lines:
        if line["kind"] == "plan" and not line["problem"]:
            replies.append(on_plan(turn, Plan(line["sku"], parse_period(line["period"]),
                                              line["qty"])))  # fmt: skip
    card = turn.card("sheet", kind="recorded", file_name=row.file_name, lines=lines, month="",
                     import_id=sheet_imports.public_id(row.id), recorded_at="")  # fmt: skip
    told = tuple(text for reply in replies for text in (reply.title, *reply.lines))
    buttons = tuple(b for reply in replies for b in reply.buttons)  # a held count's button
    return replace(card, lines=card.lines + told, buttons=buttons)


def _again(turn: Turn, line: dict[str, Any]) -> dict[str, Any]:
    if not line["problem"] and not may(turn.member.role, line["kind"]):
        return {**line, "problem": "wrong_role"}
    return line


def sent_file(name: str, data_base64: str) -> SheetSent:
    """The intent of a file an adapter put on a message."""
    return SheetSent(name, base64.b64decode(data_base64))
