"""The what-if (模拟 6205 补货线 40 安全线 90): the item's last 90 days of real withdrawals
replayed under the bot's review with its min/max as they are and as proposed, answered in two
lines. A question: it records nothing."""

from __future__ import annotations

from bot.services.simulate import NoHistory, WhatIfSide, what_if
from handlers.parsing import Simulate
from handlers.turn import Turn
from messages.cards import Card
from messages.words import example


def on_simulate(turn: Turn, intent: Simulate) -> Card:
    """The two lines, or a refusal saying why not and what to type."""
    item = turn.agreement.terms.item(intent.sku)
    typed = example("simulate", turn.locale).replace("6205", intent.sku)
    if item is None:
        return turn.refuse("unknown_item", detail=intent.sku, example=typed)
    low = item.min if intent.min is None else intent.min
    high = item.max if intent.max is None else intent.max
    wanted = {"min": low, "max": high}
    if low <= 0 or high <= 0:
        return turn.refuse("simulate_invalid", detail="not_positive", sku=item.sku,
                           wanted=wanted, example=typed)  # fmt: skip
    if low >= high:
        return turn.refuse("simulate_invalid", detail="min_not_below_max", sku=item.sku,
                           wanted=wanted, example=typed)  # fmt: skip
    try:
        found = what_if(turn.session, turn.agreement, item, low, high, turn.now)
    except NoHistory:
        post = example("withdrawal", turn.locale).replace("6205", item.sku)
        return turn.refuse("simulate_no_history", detail=item.sku, example=post)
    return turn.card(
        "simulate",
        sku=item.sku,
        item_name=item.name,
        item_name_en=item.name_en,
        unit=item.unit,
        days=found.days,
        now=_side(found.now),
        new=_side(found.proposed),
    )


def _side(side: WhatIfSide) -> dict[str, object]:
    figures = side.figures
    return {
        "min": side.min,
        "max": side.max,
        "avg_stock": f"{figures.avg_stock_units:.1f}",
        "stockout_days": figures.stockout_days,
        "orders": figures.orders,
        "emergencies": figures.emergency_shipments,
    }
