"""The monthly review's chart: a PNG whose pixels show the min and max lines where they belong,
receipts and stock-outs marked."""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal

from PIL import Image

from bot.services import chart
from bot.services.retro import ItemRetro, Retro
from tests.support import SHANGHAI
from vmi_rules.ledger import Movement
from vmi_rules.monthly_review import review_item
from vmi_rules.terms import Item

ITEM = Item("6205", "深沟球轴承", min=50, max=100, unit_price=Decimal("10"))


def at(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=SHANGHAI)


def november() -> Retro:
    movements = [
        Movement("count", 100, at(10, 31)),
        Movement("withdrawal", 60, at(11, 2)),
        Movement("withdrawal", 40, at(11, 9)),  # out of stock on the 9th
        Movement("receipt", 80, at(11, 12)),
    ]
    start, end = at(11, 1, 0), at(12, 1, 0)
    review = review_item(movements, start, end, ITEM, month_plan=None, week_plans={},
                         overstock_days=30)  # fmt: skip
    return Retro("plant-6205", "2026-11", start, end, False, (ItemRetro(ITEM, review, None),))


def rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[k : k + 2], 16) for k in (1, 3, 5))  # type: ignore[return-value]


def row_of(value: float, top: int, picture: Image.Image) -> int:
    """The pixel row of `value` on the one panel's axes."""
    _, bottom, _, height = chart.AXES_BOX
    axes_top = picture.height * (1 - bottom - height)
    axes_height = picture.height * height
    return round(axes_top + (1 - value / top) * axes_height)


def colour_share(picture: Image.Image, row: int, colour: tuple[int, int, int]) -> float:
    """How much of the axes' width, near `row`, shows `colour`."""
    left, _, width, _ = chart.AXES_BOX
    xs = range(round(picture.width * left) + 5, round(picture.width * (left + width)) - 5, 7)
    hits = sum(
        1
        for x in xs
        if any(picture.getpixel((x, y))[:3] == colour for y in range(row - 2, row + 3))
    )
    return hits / len(xs)


def test_the_png_shows_min_and_max_as_lines_at_their_heights() -> None:
    done = november()
    png = chart.review_chart(done, "en")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    picture = Image.open(io.BytesIO(png)).convert("RGB")
    assert picture.size == (chart.WIDTH_INCHES * chart.DPI, chart.PANEL_INCHES * chart.DPI)
    top = chart.y_limit(done.items[0])
    assert top == 150
    red, blue = rgb(chart.MIN_COLOUR), rgb(chart.MAX_COLOUR)
    # the legend's samples aside, each line runs across the whole month at its own height
    assert colour_share(picture, row_of(50, top, picture), red) > 0.8
    assert colour_share(picture, row_of(100, top, picture), blue) > 0.8
    assert colour_share(picture, row_of(75, top, picture), red) == 0
    assert colour_share(picture, row_of(75, top, picture), blue) == 0


def test_receipts_and_stock_outs_are_marked() -> None:
    picture = Image.open(io.BytesIO(chart.review_chart(november(), "en"))).convert("RGB")
    colours = {colour for _, colour in picture.getcolors(maxcolors=1 << 20) or []}
    assert rgb(chart.RECEIPT_COLOUR) in colours
    assert rgb(chart.STOCK_OUT_COLOUR) in colours


def test_chinese_labels_only_with_a_cjk_font() -> None:
    # either way a chart comes out; with no CJK font installed the labels are English
    png = chart.review_chart(november(), "zh")
    assert png[:4] == b"\x89PNG"
    english = chart.review_chart(november(), "en")
    assert (png == english) == (chart.cjk_font() is None)
