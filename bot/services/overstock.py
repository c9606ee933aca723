"""The daily overstock check (积压, rule 9): for each item, aged units while on hand is above
max raise one alert to both sides (the agreement's group), once per lot, and once more when
nobody answered within a week. Each choice made on an alert is announced to the group too."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from bot.config import AgreementConfig, Config
from bot.services.announce import group_messages
from bot.services.terms import effective
from bot.storage import overstock as stored
from bot.storage.outbox import Message, enqueue_all
from bot.storage.stock import ItemKey, hold_items, movements_by_item, stock_levels
from bot.storage.tables import OverstockAlertRow
from messages.cards import ButtonStyle, Card
from messages.render import render_card
from vmi_rules.ledger import Movement
from vmi_rules.overstock import AgedStock, Due, aged_stock, alert_due, suggested_return, value
from vmi_rules.terms import Item


@dataclass(frozen=True)
class Raised:
    """An alert raised by a check: its id (O1), the item, and whether it was raised again."""

    alert_id: str
    sku: str
    due: Due


def check_overstock(
    session: Session,
    config: Config,
    now: datetime,
    *,
    agreement_ids: Collection[str] | None = None,
    platforms: frozenset[str] = frozenset(),
) -> list[Raised]:
    """Raise the overstock alerts due now, each to the agreement's group once (safe to run
    again, and from two processes: the item is locked and each alert is guarded)."""
    config = effective(config, session, agreement_ids)  # max as agreed, amendments applied
    raised: list[Raised] = []
    messages: list[Message] = []
    chosen = [a for a in config.agreements if agreement_ids is None or a.id in agreement_ids]
    levels = stock_levels(session, [a.id for a in chosen])  # one query for every agreement
    for agreement in chosen:
        over = [
            (item, level.on_hand)
            for item in agreement.items
            if (level := levels.get((agreement.id, item.sku))) and level.on_hand > item.max
        ]
        if not over:
            continue  # most agreements on most days: no ledger to read
        # two checks at once take turns per item; all of them first, in the one order, then
        # what is on hand again: a return or withdrawal may have taken it to max meanwhile
        skus = [item.sku for item, _ in over]
        hold_items(session, agreement.id, skus)
        held = stock_levels(session, [agreement.id], skus)
        over = [
            (item, level.on_hand)
            for item, _ in over
            if (level := held.get((agreement.id, item.sku))) and level.on_hand > item.max
        ]
        history = movements_by_item(session, [agreement.id])
        for item, on_hand in over:
            found = _check_item(session, agreement, item, on_hand, history, now)
            if found is None:
                continue
            row, due, aged = found
            card = alert_card(
                config.bot.locale,
                agreement,
                item,
                row,
                aged,
                on_hand,
                now,
                again=due == "again",
            )
            key = f"overstock:{stored.public_id(row.id)}:{due}"
            messages.extend(group_messages(config, agreement, card, now, platforms, key))
            raised.append(Raised(stored.public_id(row.id), item.sku, due))
    enqueue_all(session, messages)
    return raised


def _check_item(
    session: Session,
    agreement: AgreementConfig,
    item: Item,
    on_hand: int,
    history: Mapping[ItemKey, list[Movement]],
    now: datetime,
) -> tuple[OverstockAlertRow, Due, AgedStock] | None:
    """The alert due for one item above max now, stored, with the aged units it shows; or
    None."""
    aged = aged_stock(
        history.get((agreement.id, item.sku), []), now, agreement.terms.overstock_days
    )
    if aged is None:
        return None
    last = stored.latest(session, agreement.id, item.sku)
    due = alert_due(aged, on_hand, item.max, stored.as_rule(last) if last else None, now)
    if due == "new":
        row = stored.raise_alert(
            session, agreement.id, item.sku, aged, on_hand, item.unit_price, now
        )
        return (row, due, aged) if row is not None else None
    if due == "again" and last is not None and stored.raise_again(session, last, now):
        return last, due, aged
    return None


def alert_card(
    locale: str,
    agreement: AgreementConfig,
    item: Item,
    row: OverstockAlertRow,
    aged: AgedStock,
    on_hand: int,
    now: datetime,
    *,
    again: bool = False,
) -> Card:
    """The joint-review card: the aged units now, the oldest lot's age, their value, and the
    three choices (a reminder shows the figures as they are by then)."""
    public = stored.public_id(row.id)
    offer = suggested_return(aged.qty, on_hand, item.max) or aged.qty
    buttons: tuple[tuple[str, str, ButtonStyle], ...] = (
        ("return", f"{public}@{offer}", "primary"),
        ("discount", public, "default"),
        ("keep", public, "default"),
    )
    return render_card(
        "overstock",
        locale,
        buttons=buttons,
        alert_id=public,
        agreement=agreement.id,
        sku=item.sku,
        item_name=item.name_in(locale),
        unit=item.unit,
        qty=aged.qty,
        on_hand=on_hand,
        max=item.max,
        days=aged.age_days(now),
        limit=agreement.terms.overstock_days,
        since=aged.oldest.astimezone(agreement.tz).strftime("%Y-%m-%d"),
        unit_price=f"{item.unit_price:.2f}",
        value=f"{value(aged.qty, item.unit_price):.2f}",
        offer=offer,
        again=again,
    )
