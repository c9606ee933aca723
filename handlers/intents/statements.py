"""The settlement statement in the chat (对账): see it, confirm it for one's side, dispute it
with a reason, re-issue it after a correction. Each step once, by a side allowed to; the other
side hears of it in the agreement's group."""

from __future__ import annotations

from typing import Any

from bot.services import settlement
from bot.services.statement_card import statement_card
from bot.storage import statements as stored
from bot.storage.tables import StatementRow
from handlers.parsing import StatementAction, StatementQuery
from handlers.turn import Turn
from messages.cards import Card
from messages.render import render_card, statement_buttons
from messages.words import example, role_label
from vmi_rules.settlement import StatementRefused, StatementState


def on_statement(turn: Turn, intent: StatementQuery) -> Card:
    """The statement named, or the agreement's open one (else its latest): lines, total, who
    has confirmed, with the buttons while it waits. Records nothing."""
    if intent.statement_id:
        row = stored.get(turn.session, intent.statement_id)
        if row is None or row.agreement_id != turn.agreement.id:
            return turn.refuse("unknown_statement", detail=intent.statement_id)
    else:
        row = stored.latest(turn.session, turn.agreement.id)
        if row is None:
            return turn.refuse("no_statement", detail=str(turn.agreement.terms.settlement_day))
    return statement_card(turn.session, turn.agreement, row, turn.locale)


def on_statement_action(turn: Turn, intent: StatementAction) -> Card:
    """Confirm (for the member's side), dispute (a reason is required) or re-issue."""
    sid = intent.statement_id
    row = stored.get(turn.session, sid)
    if row is None or row.agreement_id != turn.agreement.id:
        return turn.refuse("unknown_statement", detail=sid)
    if intent.action == "dispute" and not intent.reason.strip():
        return turn.refuse(
            "statement_needs_reason",
            example=example("dispute_statement", turn.locale).replace("S1", sid),
        )
    total_before = f"{row.total:,.2f}"
    try:
        if intent.action == "confirm":
            row, side, after = settlement.confirm(
                turn.session, turn.config, turn.agreement, sid, turn.actor, turn.now,
                intent.revision,
            )  # fmt: skip
            context: dict[str, Any] = {
                "side": side, "locked": after.state is StatementState.LOCKED,
            }  # fmt: skip
        elif intent.action == "dispute":
            row = settlement.dispute(
                turn.session, turn.agreement, sid, turn.actor, intent.reason, turn.now
            )
            context = {"reason": intent.reason.strip()}
        else:
            row = settlement.reissue(
                turn.session, turn.config, turn.agreement, row, turn.actor, turn.now,
                turn.platforms,
            )  # fmt: skip
            context = {}
    except StatementRefused as refused:
        return _refused(turn, row, refused)
    card = _step_card(turn, intent.action, row, turn.locale, total_before, context)
    if intent.action != "reissue":  # a re-issue posts the statement itself to the group
        group_card = _step_card(
            turn, intent.action, row, turn.config.bot.locale, total_before, context
        )
        settlement.tell_the_group(
            turn.session, turn.config, turn.agreement, group_card, turn.now, turn.platforms,
            key=f"statement-step:{row.id}:v{row.version}",
            said_in=(turn.incoming.platform, turn.incoming.chat),
        )  # fmt: skip
    return card


def _step_card(
    turn: Turn,
    action: str,
    row: StatementRow,
    locale: str,
    total_before: str,
    context: dict[str, Any],
) -> Card:
    side = context.get("side", "")
    waiting = [s for s in ("buyer", "supplier") if getattr(row, f"{s}_at") is None]
    # the pressed card is replaced by this one: the other side's button stays on it
    waits = action == "confirm" and row.state == StatementState.DRAFT.value
    buttons = statement_buttons(stored.public_id(row.id), row.revision) if waits else ()
    return render_card(
        "statement_action", locale, buttons=buttons, action=action, id=stored.public_id(row.id),
        revision=row.revision, by=turn.member.name, total=f"{row.total:,.2f}",
        total_before=total_before, side=side, side_label=_side_label(side, locale) if side else "",
        waiting=[_side_label(s, locale) for s in waiting], locked=context.get("locked", False),
        reason=context.get("reason", ""),
    )  # fmt: skip


def _side_label(side: str, locale: str) -> str:
    if locale == "en":
        return side
    return "采购方" if side == "buyer" else role_label(side, locale)


def _refused(turn: Turn, row: StatementRow, refused: StatementRefused) -> Card:
    sid = refused.statement.id
    if refused.reason == "already" and refused.side is not None:
        signed = refused.statement.confirmed[refused.side]
        return turn.refuse(
            "statement_already", statement_id=sid,
            side_label=_side_label(refused.side, turn.locale),
            by=signed.by, at=signed.at.astimezone(turn.agreement.tz).strftime("%Y-%m-%d %H:%M"),
        )  # fmt: skip
    if refused.reason == "disputed":
        last = stored.events(turn.session, row.id or 0, "dispute")
        return turn.refuse(
            "statement_disputed", statement_id=sid,
            detail=f"{last[-1].by_name}：{last[-1].reason}" if last else "",
        )  # fmt: skip
    if refused.reason == "old_revision":
        return turn.refuse(
            "statement_old_revision", statement_id=sid, revision=refused.statement.revision
        )
    if refused.reason == "needs_reason":
        return turn.refuse("statement_needs_reason")
    return turn.refuse(f"statement_{refused.reason}", statement_id=sid)
