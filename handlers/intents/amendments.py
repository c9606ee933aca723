"""Amendments (修改): one party changes an item's min, max, pack size or MOQ, or a reminder's
time, the other party agrees (同意 A1) or rejects it with a reason (不同意 A1 原因); and 谁没盘点,
the items not counted today."""

from __future__ import annotations

from typing import Any

from bot.services.announce import group_messages
from bot.services.terms import effective_agreement
from bot.storage import amendments as stored
from bot.storage.catalog import hold_agreement
from bot.storage.outbox import enqueue_all
from bot.storage.stock import hold_item, last_counts
from handlers.parsing import Amend, AmendAnswer, Uncounted
from handlers.turn import Turn
from messages.cards import ButtonStyle, Card
from messages.render import render_card
from messages.words import example, label
from vmi_rules.amendments import Change, Field, Side, current_value, may_agree, shown, why_not
from vmi_rules.reminders import uncounted
from vmi_rules.roles import may
from vmi_rules.terms import Item, ReminderTimes


def _side(turn: Turn) -> Side | None:
    """The member's party in this agreement: the customer's side or the supplier's."""
    if turn.member.party == turn.agreement.customer:
        return "customer"
    if turn.member.party == turn.agreement.supplier:
        return "supplier"
    return None  # an admin of no party


def _name(turn: Turn, member_id: str) -> str:
    member = turn.config.member(member_id)
    return member.name if member else member_id


def _tell_group(turn: Turn, card: Card, key: str) -> None:
    """The card for the agreement's group, but not in the chat it was said in: the reply is it."""
    asked_in = (turn.incoming.platform, turn.incoming.chat)
    messages = [
        m
        for m in group_messages(turn.config, turn.agreement, card, turn.now, turn.platforms, key)
        if (m.destination.platform, m.destination.chat) != asked_in
    ]
    enqueue_all(turn.session, messages)


def on_amend(turn: Turn, intent: Amend) -> Card:
    """Propose new terms for an item, or new reminder times (no item); they apply when the
    other party agrees."""
    item = turn.agreement.item(intent.sku) if intent.sku else None
    file_item = turn.agreement.file_item(intent.sku) if intent.sku else None
    if intent.sku and (item is None or file_item is None):
        return turn.refuse("unknown_item", detail=intent.sku)
    reminders = turn.agreement.terms.reminders
    file_reminders = (turn.agreement.file_terms or turn.agreement.terms).reminders
    wanted: dict[Field, int] = dict(intent.changes)
    why = why_not(item, reminders, wanted)
    if why:
        return _invalid(turn, why, item, reminders, wanted)
    changes = [
        Change(field, current_value(item, reminders, field), value,
               current_value(file_item, file_reminders, field))
        for field, value in wanted.items()
        if current_value(item, reminders, field) != value
    ]  # fmt: skip
    buttons: tuple[tuple[str, str, ButtonStyle], ...]
    if intent.sku:
        hold_item(turn.session, turn.agreement.id, intent.sku)  # two presses at once take turns
    same = stored.open_like(turn.session, turn.agreement.id, intent.sku, changes)
    if same is not None:  # pressed or typed again: the one waiting, not a second
        public = stored.public_id(same.id)
        context = _context(turn, public, intent.sku, changes)
        context["proposed_by"] = _name(turn, same.proposed_by)
        buttons = (("amend_agree", public, "primary"), ("amend_reject", public, "danger"))
        return turn.card("amendment", buttons=buttons, kind="proposed", **context)
    side = _side(turn)
    row = stored.propose(
        turn.session, turn.agreement.id, intent.sku, turn.member.id, side or "", changes,
        turn.now, turn.inbox_id,
    )  # fmt: skip
    public = stored.public_id(row.id)
    context = _context(turn, public, intent.sku, changes)
    buttons = (
        ("amend_agree", public, "primary"),
        ("amend_reject", public, "danger"),
    )
    group = render_card(
        "amendment", turn.config.bot.locale, buttons=buttons, kind="proposed", **context
    )
    _tell_group(turn, group, f"amendment:{row.id}:proposed")
    return turn.card("amendment", buttons=buttons, kind="proposed", **context)


def _invalid(
    turn: Turn, why: str, item: Item | None, reminders: ReminderTimes, wanted: dict[Field, int]
) -> Card:
    """Why the change cannot hold, with the figures as they are and as asked."""
    sku = item.sku if item else ""
    return turn.refuse(
        "amend_invalid", detail=why, sku=sku,
        now={f: shown(f, current_value(item, reminders, f)) for f in wanted},
        wanted={f: shown(f, v) for f, v in wanted.items()},
        example=example("amend", turn.locale).replace("6205", sku) if sku else "",
    )  # fmt: skip


def _context(turn: Turn, public: str, sku: str, changes: list[Change]) -> dict[str, Any]:
    item = turn.agreement.item(sku) if sku else None
    return {
        "amendment_id": public,
        "agreement": turn.agreement.id,
        "sku": sku,
        "item_name": item.name_in(turn.locale) if item else sku,
        "changes": [
            {"field": c.field, "old": shown(c.field, c.old), "new": shown(c.field, c.new)}
            for c in changes
        ],
        "proposed_by": turn.member.name,
        "reason": "",
    }


def on_amend_answer(turn: Turn, intent: AmendAnswer) -> Card:
    """The other party agrees to an amendment (it applies now) or rejects it with a reason."""
    row = stored.get(turn.session, intent.amendment_id)
    if row is None or row.agreement_id != turn.agreement.id:
        return turn.refuse("unknown_amendment", detail=intent.amendment_id)
    if row.state != stored.PROPOSED:
        return _already(turn, intent.amendment_id, row.state, row.decided_by)
    why = may_agree(stored.proposer_side(row), row.proposed_by, turn.member.id, _side(turn))
    if why:
        return turn.refuse(
            why, detail=intent.amendment_id, intent_label=label(intent.action, turn.locale),
            proposed_by=_name(turn, row.proposed_by),
        )  # fmt: skip
    changes = stored.rule_changes(turn.session, row.id)
    item = turn.agreement.item(row.sku) if row.sku else None
    if row.sku and item is None:
        return turn.refuse("unknown_item", detail=row.sku)
    if intent.action == "amend_reject":
        if not intent.reason:
            return turn.refuse(
                "needs_reason", intent_label=label("amend_reject", turn.locale),
                proposal_id=intent.amendment_id,
                example=example("amend_reject", turn.locale, intent.amendment_id),
            )  # fmt: skip
        state = stored.REJECTED
    else:
        # the terms may have moved since it was proposed, or while this waited for the item
        # (another amendment of it agreed meanwhile): what it leaves must still hold
        if row.sku:
            hold_item(turn.session, turn.agreement.id, row.sku)
        else:  # the reminder times: the agreement's own
            hold_agreement(turn.session, turn.agreement.id)
        agreed = effective_agreement(
            turn.config, turn.session, turn.config.agreement(turn.agreement.id) or turn.agreement
        )
        item = agreed.item(row.sku) if row.sku else None
        reminders = agreed.terms.reminders
        wanted: dict[Field, int] = {c.field: c.new for c in changes}
        why = why_not(item, reminders, wanted)
        if why and why != "no_change":
            return _invalid(turn, why, item, reminders, wanted)
        state = stored.APPLIED
    if not stored.decide(turn.session, row, state, turn.member.id, turn.now, intent.reason):
        return _already(turn, intent.amendment_id, row.state, row.decided_by)
    context = _context(turn, intent.amendment_id, row.sku, changes)
    context.update(proposed_by=_name(turn, row.proposed_by), reason=intent.reason)
    kind = "applied" if state == stored.APPLIED else "rejected"
    context["decided_by"] = turn.member.name
    group = render_card("amendment", turn.config.bot.locale, kind=kind, **context)
    _tell_group(turn, group, f"amendment:{row.id}:{kind}")
    return turn.card("amendment", kind=kind, **context)


def waiting_amendments(turn: Turn) -> list[dict[str, Any]]:
    """The amendments waiting for this member's answer (the other side's), oldest first."""
    if not may(turn.member.role, "amend_agree"):
        return []
    side = _side(turn)
    out: list[dict[str, Any]] = []
    for row in stored.waiting(turn.session, turn.agreement.id):
        if may_agree(stored.proposer_side(row), row.proposed_by, turn.member.id, side):
            continue
        changes = stored.rule_changes(turn.session, row.id)
        out.append(_context(turn, stored.public_id(row.id), row.sku, changes))
        out[-1]["proposed_by"] = _name(turn, row.proposed_by)
    return out


def _already(turn: Turn, public: str, state: str, decided_by: str) -> Card:
    return turn.refuse(
        "amend_already", detail=public, state=state, decided_by=_name(turn, decided_by)
    )


def on_uncounted(turn: Turn, intent: Uncounted) -> Card:
    """谁没盘点: the items with no count today, on the agreement's clock."""
    skus = [item.sku for item in turn.agreement.items]
    counted = last_counts(turn.session, turn.agreement.id, skus)
    missing = uncounted(turn.now.astimezone(turn.agreement.tz), counted)
    names = {i.sku: i.name_in(turn.locale) for i in turn.agreement.items}
    return turn.card(
        "uncounted", agreement=turn.agreement.id,
        items=[{"sku": sku, "name": names[sku]} for sku in missing],
        example=example("count", turn.locale).replace("6205", missing[0] if missing else "6205"),
    )  # fmt: skip
