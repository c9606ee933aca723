"""Questions: where the stock and proposals stand (状态), what waits for the one asking (待办),
where one proposal is (P1), and what a member can type (帮助). Questions record nothing."""

from __future__ import annotations

from datetime import timedelta

from bot.services.statement_card import statement_context
from bot.services.status import status
from bot.storage import held as held_counts
from bot.storage import proposals as stored_proposals
from bot.storage import statements as stored_statements
from handlers.intents.amendments import waiting_amendments
from handlers.parsing import ConfirmCount, Courtesy, Help, History, Status, Todo
from handlers.turn import Turn, item_labels
from messages.cards import Card
from messages.words import label, role_label, state_labels
from vmi_rules.reminders import OpenProposal
from vmi_rules.roles import MAY, may
from vmi_rules.todo import waiting_for


def on_status(turn: Turn, intent: Status) -> Card:
    """Where the agreement's items (or one of them) stand."""
    document = status(turn.session, turn.config, turn.now, [turn.agreement.id])
    [agreement] = document["agreements"]
    items = [i for i in agreement["items"] if intent.sku in (None, i["sku"])]
    waiting = stored_statements.latest(turn.session, turn.agreement.id)
    signing = (
        statement_context(turn.session, turn.agreement, waiting)
        if waiting is not None and waiting.state != "locked" and intent.sku is None
        else None
    )  # the statement still waiting for a signature, when the whole agreement is asked
    return turn.card(
        "status", agreement=agreement["id"], items=items, states=state_labels(turn.locale),
        entry_asked=intent.entry_asked, statement=signing, reminders=agreement["reminders"],
    )  # fmt: skip


def on_todo(turn: Turn, intent: Todo) -> Card:
    """The agreement's open proposals whose next step this member may take, oldest first."""
    rows = stored_proposals.open_proposals(turn.session, [turn.agreement.id])
    lead_times = {item.sku: item.lead_time_days for item in turn.agreement.items}
    open_items = [
        OpenProposal(stored_proposals.as_rule(row), row.updated_at, lead_times.get(row.sku, 0))
        for rows_of_item in rows.values()
        for row in rows_of_item
    ]
    local_now = turn.now.astimezone(turn.agreement.tz)
    waiting = waiting_for(turn.member.role, open_items, local_now)
    lines = []
    for wait in waiting:
        proposal = wait.item.proposal
        item = turn.agreement.item(proposal.sku)
        lines.append(
            {
                "id": proposal.id,
                "step": label(wait.step, turn.locale),
                "item_name": item.name_in(turn.locale) if item else proposal.sku,
                "unit": item.unit if item else "",
                "qty": proposal.qty,
                "received_qty": proposal.received_qty,
                "shipped_qty": proposal.shipped_qty,
                "to_ship": proposal.to_ship,
                "eta": proposal.eta.strftime("%m-%d") if proposal.eta else "",
                "waited": _duration(wait.age, turn.locale),
                "late": wait.late,
            }
        )
    amendments = waiting_amendments(turn)  # terms the other side proposed, to agree or not
    return turn.card("todo", member_name=turn.member.name, lines=lines, amendments=amendments)


def on_history(turn: Turn, intent: History) -> Card:
    """One proposal of this agreement, step by step: what, who, when, how many, the ETA."""
    row = stored_proposals.get(turn.session, intent.proposal_id)
    if row is None or row.id is None or row.agreement_id != turn.agreement.id:
        return turn.refuse("unknown_proposal", detail=intent.proposal_id)
    item = turn.agreement.item(row.sku)
    shown = [
        {
            "action": step.action,
            "by": step.by_name,
            "at": step.at.astimezone(turn.agreement.tz).strftime("%m-%d %H:%M"),
            "qty": step.qty,
            "note": step.note,
        }
        for step in stored_proposals.steps(turn.session, row.id)
    ]
    return turn.card(
        "history",
        proposal_id=stored_proposals.public_id(row.id),
        item_name=item.name_in(turn.locale) if item else row.sku,
        unit=item.unit if item else "",
        qty=row.qty,
        state=state_labels(turn.locale)[row.state],
        received_qty=row.received_qty,
        eta=row.eta.isoformat() if row.eta else "",
        steps=shown,
        shipped_qty=row.shipped_qty,
        to_ship=stored_proposals.as_rule(row).to_ship,
    )


def _duration(age: timedelta, locale: str) -> str:
    """How long something has waited, as people say it: 3 天, 5 小时 (or days, hours)."""
    hours = int(age.total_seconds() // 3600)
    if hours < 1:
        return "<1 小时" if locale == "zh" else "under an hour"
    if hours >= 48:
        return f"{hours // 24} 天" if locale == "zh" else f"{hours // 24} days"
    return f"{hours} 小时" if locale == "zh" else f"{hours} h"


def on_courtesy(turn: Turn, intent: Courtesy) -> Card:
    """A short friendly word back to thanks and okays, not the whole help menu; a yes from a
    keeper whose count is held as mistyped confirms it."""
    if intent.agrees and may(turn.member.role, "confirm_count"):
        mine = held_counts.waiting(turn.session, turn.agreement.id, member_id=turn.member.id)
        if mine:
            from handlers.intents.stock import on_confirm_count  # the count's own handler

            return on_confirm_count(turn, ConfirmCount())
    return turn.card("courtesy", member_name=turn.member.name)


def on_help(turn: Turn, intent: Help) -> Card:
    """What this member can type."""
    return help_card(turn)


def help_card(turn: Turn, puzzled: str = "") -> Card:
    """What this member can type, as far as the role table lets them (after `puzzled`, a text
    not understood)."""
    skus = [item.sku for item in turn.agreement.items] or ["6205"]
    return turn.card(
        "help",
        member_name=turn.member.name,
        may_do=[action for action in MAY if may(turn.member.role, action)],
        role_label=role_label(turn.member.role, turn.locale),
        sku=skus[0],
        others=skus[1:2],
        items=item_labels(turn.agreement, turn.locale),
        puzzled=puzzled,
    )
