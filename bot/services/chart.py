"""The monthly review's chart (PNG): each item's daily on hand over the month against its min
and max, receipts marked ▲ and stock-out days shaded.

matplotlib is heavy to import: this module is imported only where a chart is drawn, never at
start-up. It draws on its own Figure with the Agg canvas (no pyplot state), so threads and
processes can draw at once. Labels are Chinese when a CJK font is installed (Debian's
fonts-noto-cjk), English otherwise.
"""

from __future__ import annotations

import contextlib
import io
import math
from functools import cache
from pathlib import Path

from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bot.services.retro import ItemRetro, Retro

DPI = 100
WIDTH_INCHES = 8.0
PANEL_INCHES = 3.0  # each item's panel
# where the axes sit in their panel, as fractions of the panel (left, bottom, width, height)
AXES_BOX = (0.08, 0.16, 0.88, 0.70)
ON_HAND_COLOUR = "#333333"
MIN_COLOUR = "#d62728"
MAX_COLOUR = "#1f77b4"
RECEIPT_COLOUR = "#2ca02c"
STOCK_OUT_COLOUR = "#ffbb78"
# fonts that write Chinese, in the order they are preferred
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Noto Sans CJK TC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
)

_WORDS = {
    "zh": {"on_hand": "每日库存", "min": "补货线", "max": "安全线", "receipt": "入库",
           "stock_out": "缺货", "title": "{name} · {month} 复盘", "day": "日期", "qty": "数量"},
    "en": {"on_hand": "on hand", "min": "min", "max": "max", "receipt": "receipt",
           "stock_out": "stock-out", "title": "{name} · {month} review", "day": "day",
           "qty": "qty"},
}  # fmt: skip


# how those fonts' files are named, for a font installed after matplotlib cached its list
CJK_FILES = ("notosanscjk", "notoserifcjk", "sourcehansans", "wqy", "simhei", "msyh", "pingfang")


@cache
def cjk_font() -> str | None:
    """The name of an installed font that writes Chinese, or None."""
    found = _known_cjk_font()
    if found is None:
        # matplotlib's font list is cached on first use: a font installed since is not in it
        for path in font_manager.findSystemFonts():
            if any(mark in Path(path).name.lower() for mark in CJK_FILES):
                with contextlib.suppress(Exception):  # a font file it cannot read: skip it
                    font_manager.fontManager.addfont(path)
        found = _known_cjk_font()
    return found


def _known_cjk_font() -> str | None:
    installed = {font.name for font in font_manager.fontManager.ttflist}
    found = next((name for name in CJK_FONTS if name in installed), None)
    return found or next((name for name in sorted(installed) if "CJK" in name), None)


def y_limit(line: ItemRetro) -> int:
    """The top of an item's axes: half again the highest of max and the stock seen (room for
    the legend above the lines)."""
    peak = max([line.item.max, line.item.min, *(d.closing for d in line.review.days)], default=1)
    return max(10, math.ceil(peak * 1.5))


def review_chart(done: Retro, locale: str) -> bytes:
    """The chart of the review as PNG bytes: one panel per item."""
    font = cjk_font()
    words = _WORDS["zh" if locale == "zh" and font else "en"]
    panels = max(1, len(done.items))
    figure = Figure(figsize=(WIDTH_INCHES, PANEL_INCHES * panels), dpi=DPI)
    FigureCanvasAgg(figure)
    family = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
    for k, line in enumerate(done.items):
        left, bottom, width, height = AXES_BOX
        # panel k counted from the top; axes boxes are in figure fractions
        axes = figure.add_axes((left, (panels - 1 - k + bottom) / panels, width, height / panels))
        # without a CJK font, a Chinese name would be empty boxes: the sku stands in
        _draw(axes, line, line.item.name if font else line.item.sku, done.month, words, family)
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


def _draw(
    axes: Axes, line: ItemRetro, name: str, month: str, words: dict[str, str], family: list[str]
) -> None:
    days = line.review.days
    xs = list(range(len(days)))
    text = {"family": family}
    for x, day in enumerate(days):
        if day.stocked_out:
            axes.axvspan(x - 0.5, x + 0.5, color=STOCK_OUT_COLOUR, zorder=0, linewidth=0)
    axes.step(xs, [d.closing for d in days], where="mid", color=ON_HAND_COLOUR, linewidth=1.5,
              label=words["on_hand"], zorder=2)  # fmt: skip
    axes.axhline(line.item.min, color=MIN_COLOUR, linewidth=2, antialiased=False,
                 label=f"{words['min']} {line.item.min}", zorder=3)  # fmt: skip
    axes.axhline(line.item.max, color=MAX_COLOUR, linewidth=2, antialiased=False,
                 label=f"{words['max']} {line.item.max}", zorder=3)  # fmt: skip
    received = [(x, d.closing) for x, d in enumerate(days) if d.received]
    if received:
        axes.scatter([x for x, _ in received], [y for _, y in received], marker="^", s=60,
                     color=RECEIPT_COLOUR, label=words["receipt"], zorder=4)  # fmt: skip
    if any(d.stocked_out for d in days):
        axes.axvspan(0, 0, color=STOCK_OUT_COLOUR, label=words["stock_out"])
    axes.set_xlim(-0.5, max(len(days) - 0.5, 0.5))
    axes.set_ylim(0, y_limit(line))
    step = max(1, len(days) // 8)
    axes.set_xticks(xs[::step], [days[x].day.strftime("%m-%d") for x in xs[::step]])
    axes.set_title(words["title"].format(name=name, month=month), fontdict=text)
    unit = line.item.unit if family[0] != "DejaVu Sans" or line.item.unit.isascii() else ""
    axes.set_ylabel(f"{words['qty']} ({unit})" if unit else words["qty"], fontdict=text)
    axes.legend(loc="upper right", fontsize=8, ncol=5, prop={"family": family, "size": 8})
