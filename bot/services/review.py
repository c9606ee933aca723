"""The review (补货检查): the rules run over stored state, in one transaction.

For the agreements asked for, it reads every item's stock, open proposals and plans with one
query each, lets `vmi_rules.review.review_item` decide, then creates or resizes proposals,
logs them, and queues their announcement cards in the outbox. Running it twice, in two
processes, or after a restart proposes nothing new: the open proposal counts in the position,
reviews take a lock on PostgreSQL (SQLite serialises writers), and a unique index guards last.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import text
from sqlmodel import Session

from bot.config import AgreementConfig, Config
from bot.services.announce import (
    proposal_messages,
)
from bot.services.terms import effective
from bot.storage.outbox import Message, enqueue_all
from bot.storage.plans import plans_by_item
from bot.storage.proposals import (
    apply,
    as_rule,
    create_all,
    last_rejections,
    open_proposals,
    public_id,
)
from bot.storage.stock import stock_levels
from bot.storage.tables import ProposalRow
from messages.render import proposal_buttons, render_card
from vmi_rules.proposal import SYSTEM, ProposalState
from vmi_rules.review import ReviewDecision, review_item
from vmi_rules.terms import Item

REVIEW_LOCK_KEY = 0x564D4902
REVIEWER = SYSTEM


@dataclass(frozen=True)
class ReviewResult:
    """What the review decided for one item, and the proposal it created or resized."""

    agreement_id: str
    item: Item
    decision: ReviewDecision
    proposal_id: str | None = None  # "P1" when proposed, updated or kept
    previous_qty: int | None = None  # for an update


def review(
    session: Session,
    config: Config,
    now: datetime,
    *,
    agreement_ids: Collection[str] | None = None,
    platforms: frozenset[str] = frozenset(),
) -> list[ReviewResult]:
    """Review every item of the agreements (all by default) at `now`, in the caller's session."""
    with _collection_paused():
        return _review(session, config, now, agreement_ids, platforms)


def take_reviews_turn(session: Session) -> None:
    """Wait for a review running in another process, and keep the next one waiting until this
    transaction ends: reviews, and what decides from the proposals a review makes (an urgent
    top-up), never act on the same state at once. SQLite's writers take turns anyway."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": REVIEW_LOCK_KEY})


@contextmanager
def _collection_paused() -> Iterator[None]:
    """The garbage collector waits while a review runs: a full review makes hundreds of
    thousands of short-lived objects, freed as they go, and the collector would run hundreds of
    times over them (a fifth of the review's time at 10,000 items) for cycles it mostly does
    not find. What is left over is collected later, as usual."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def _review(
    session: Session,
    config: Config,
    now: datetime,
    agreement_ids: Collection[str] | None,
    platforms: frozenset[str],
) -> list[ReviewResult]:
    config = effective(config, session, agreement_ids)  # items as agreed, amendments applied
    agreements = [
        a for a in config.agreements if agreement_ids is None or a.id in set(agreement_ids)
    ]
    if not agreements:
        return []
    take_reviews_turn(session)
    ids = [a.id for a in agreements]
    levels = stock_levels(session, ids)
    proposals = open_proposals(session, ids)
    rejections = last_rejections(session, ids)
    earliest_today = min(now.astimezone(a.tz).date() for a in agreements)
    plans = plans_by_item(session, ids, earliest_today)

    results: list[ReviewResult] = []
    outgoing: list[Message] = []  # queued together at the end, in one statement
    proposed: list[dict[str, object]] = []  # the new proposals' columns, stored together
    created: list[tuple[AgreementConfig, ReviewResult]] = []
    for agreement in agreements:
        local_now = now.astimezone(agreement.tz)
        for item in agreement.items:
            key = (agreement.id, item.sku)
            level = levels.get(key)
            if level is None:
                continue  # never counted: the bot does not guess stock it has not been told
            rows = proposals.get(key, [])
            decision = review_item(
                item,
                level.on_hand,
                [as_rule(r) for r in rows],
                plans.get(key, []),
                local_now,
                agreement.terms.review_every_days,
                rejections.get(key),
            )
            if decision.action == "propose":
                proposed.append(
                    {"agreement_id": agreement.id, "sku": item.sku, "qty": decision.qty,
                     "state": ProposalState.PROPOSED.value, "reason": decision.reason,
                     "created_at": now, "updated_at": now}
                )  # fmt: skip
                created.append((agreement, ReviewResult(agreement.id, item, decision)))
            elif decision.action in ("update", "withdraw"):
                row = next(r for r in rows if public_id(r.id) == decision.proposal_id)
                result = _change(
                    session, config, agreement, item, row, decision, now, outgoing, platforms
                )
                if result is not None:
                    results.append(result)
            else:
                results.append(ReviewResult(agreement.id, item, decision, decision.proposal_id))
    rows = create_all(session, proposed, REVIEWER, now)  # with their ids, for the cards
    for (agreement, result), row in zip(created, rows, strict=True):
        outgoing.extend(
            _announce(session, config, agreement, result.item, row, result.decision, now, platforms)
        )
        results.append(ReviewResult(agreement.id, result.item, result.decision, public_id(row.id)))
    enqueue_all(session, outgoing)
    return results


def _change(
    session: Session,
    config: Config,
    agreement: AgreementConfig,
    item: Item,
    row: ProposalRow,
    decision: ReviewDecision,
    now: datetime,
    outgoing: list[Message],
    platforms: frozenset[str],
) -> ReviewResult | None:
    """Resize or withdraw a proposal nobody has confirmed yet, as a guarded transition."""
    before = as_rule(row)
    if decision.action == "update":
        transition = before.resize(decision.qty, now, decision.reason)
    else:
        transition = replace(before.expire(now), note=decision.reason)
    if not apply(session, row, transition):
        return None  # the buyer acted on it meanwhile; their decision stands
    row.qty, row.state, row.version = transition.after.qty, transition.after.state, row.version + 1
    outgoing.extend(
        _announce(
            session, config, agreement, item, row, decision, now, platforms,
            previous_qty=before.qty,
        )
    )  # fmt: skip
    return ReviewResult(agreement.id, item, decision, public_id(row.id), before.qty)


def proposal_card_context(
    item: Item, decision: ReviewDecision, proposal_id: str, qty: int
) -> dict[str, object]:
    """The figures a proposal card shows: item, quantity, and why."""
    days, cover = decision.days_to_min, decision.days_of_cover
    return {
        "proposal_id": proposal_id,
        "item_name": item.name,
        "item_name_en": item.name_en,  # English cards show it (messages.render)
        "sku": item.sku,
        "unit": item.unit,
        "qty": qty,
        "min": item.min,
        "max": item.max,
        "on_hand": decision.on_hand,
        "position": decision.position,
        "reason": decision.reason,
        "days_to_min": None if days is None else max(0, math.floor(days * 10) / 10),
        "daily_demand": None if cover is None else round(decision.daily_demand or 0, 1),
        "days_of_cover": None if cover is None else math.floor(cover * 10) / 10,
        "rejected_id": decision.rejected.proposal_id if decision.rejected else "",
        "rejected_reason": decision.rejected.reason if decision.rejected else "",
        "rejected_declined": bool(decision.rejected and decision.rejected.declined),
    }


def _announce(
    session: Session,
    config: Config,
    agreement: AgreementConfig,
    item: Item,
    row: ProposalRow,
    decision: ReviewDecision,
    now: datetime,
    platforms: frozenset[str],
    previous_qty: int | None = None,
) -> list[Message]:
    """The proposal's card for everyone who hears of it (bot.services.announce decides who,
    and where a changed card replaces the one posted)."""
    pid = public_id(row.id)
    context = proposal_card_context(item, decision, pid, row.qty)
    outcome = {"propose": "new", "update": "updated", "withdraw": "withdrawn"}[decision.action]
    if outcome == "updated" and previous_qty is not None:
        context["position"] = decision.position - previous_qty  # the why is without it
    card = render_card(
        "proposal",
        config.bot.locale,
        buttons=() if outcome == "withdrawn" else proposal_buttons(pid, row.qty),
        urgent=False,  # the review's own proposals; an urgent one is asked for in a chat
        outcome=outcome,
        previous_qty=previous_qty,
        **context,
    )
    changed = outcome != "new"
    return proposal_messages(session, config, agreement, row, card, now, platforms, changed=changed)
