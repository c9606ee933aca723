"""The simulation's chart (PNG): each item's stock over the simulated days under each policy,
with the agreed min and max, in the monthly review's style (bot.services.chart: its sizes,
colours and fonts). Imported only where a chart is drawn: matplotlib is heavy."""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bot.services.chart import (
    AXES_BOX,
    DPI,
    MAX_COLOUR,
    MIN_COLOUR,
    ON_HAND_COLOUR,
    PANEL_INCHES,
    RECEIPT_COLOUR,
    STOCK_OUT_COLOUR,
    WIDTH_INCHES,
    cjk_font,
)
from bot.services.simulate import Run

MAX_PANELS = 12  # a chart of more items is unreadable: the first twelve are drawn
POLICY_COLOURS = {
    "traditional": STOCK_OUT_COLOUR,
    "vmi": ON_HAND_COLOUR,
    "vmi_suggested": RECEIPT_COLOUR,
}
_WORDS = {
    "zh": {"traditional": "传统订货", "vmi": "VMI", "vmi_suggested": "VMI（建议值）",
           "min": "补货线", "max": "安全线", "title": "{name} · 模拟 {days} 天",
           "day": "天", "qty": "库存"},
    "en": {"traditional": "traditional", "vmi": "VMI", "vmi_suggested": "VMI (suggested)",
           "min": "min", "max": "max", "title": "{name} · {days}-day simulation",
           "day": "day", "qty": "on hand"},
}  # fmt: skip


def simulation_chart(run: Run, locale: str) -> bytes:
    """The chart as PNG bytes: one panel per item (at most MAX_PANELS)."""
    font = cjk_font()
    words = _WORDS["zh" if locale == "zh" and font else "en"]
    family = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
    items = run.simulation.items[:MAX_PANELS]
    panels = max(1, len(items))
    figure = Figure(figsize=(WIDTH_INCHES, PANEL_INCHES * panels), dpi=DPI)
    FigureCanvasAgg(figure)
    for k, line in enumerate(items):
        left, bottom, width, height = AXES_BOX
        axes = figure.add_axes((left, (panels - 1 - k + bottom) / panels, width, height / panels))
        name = line.item.name if font else line.item.sku
        peak = 1
        for policy, outcome in line.outcomes.items():
            xs = list(range(len(outcome.closing)))
            axes.step(xs, outcome.closing, where="post", linewidth=1.0,
                      color=POLICY_COLOURS[policy], label=words[policy])  # fmt: skip
            peak = max(peak, *outcome.closing)
        axes.axhline(line.item.min, color=MIN_COLOUR, linewidth=1.5,
                     label=f"{words['min']} {line.item.min}")  # fmt: skip
        axes.axhline(line.item.max, color=MAX_COLOUR, linewidth=1.5,
                     label=f"{words['max']} {line.item.max}")  # fmt: skip
        axes.set_ylim(0, max(10, peak * 1.3))
        axes.set_xlim(0, max(1, run.days - 1))
        axes.set_title(words["title"].format(name=name, days=run.days), fontdict={"family": family})
        axes.set_xlabel(words["day"], fontdict={"family": family})
        axes.set_ylabel(words["qty"], fontdict={"family": family})
        axes.legend(loc="upper right", ncol=5, prop={"family": family, "size": 8})
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI)
    return out.getvalue()
