"""Render neutral cards from the jinja2 templates in messages/templates/<locale>/.

A card template defines blocks `title` and `body` (one output line per card line; blank lines
dropped). Button labels and their typed equivalents are in `buttons.j2`, one block per action.
Undefined variables are errors.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template
from jinja2.runtime import Context

from messages.cards import Button, ButtonStyle, Card
from messages.words import unit_word
from vmi_rules.periods import parse_period

TEMPLATES = Path(__file__).parent / "templates"
LOCALES = ("zh", "en")


@cache
def environment() -> Environment:
    """One jinja2 environment for all locales; plain text, strict about missing values."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        undefined=StrictUndefined,
        autoescape=False,  # cards are plain text; adapters escape for their platform
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,  # installed with the code: no file check at every card
    )
    env.filters["period"] = period_shown
    return env


def period_shown(label: str) -> str:
    """A plan period as people read it: a month as it is ("2026-12"), an ISO week with its
    dates ("2026-W50 (12-07 – 12-13)"), since nobody counts weeks by number."""
    try:
        period = parse_period(label)
    except ValueError:
        return label
    if period.days != 7:
        return label
    last = period.end - timedelta(days=1)
    return f"{label} ({period.start:%m-%d} – {last:%m-%d})"


def _worded(context: dict[str, object], locale: str) -> dict[str, object]:
    """The context in the reply's language: units in its words and, where an English name is
    given beside a name (`name_en`, `item_name_en`), that name in English replies; nested
    lines (a status's items, a statement's lines) too."""
    if locale != "en":
        return context
    worded: dict[str, object] = {}
    for key, value in context.items():
        if key == "unit" and isinstance(value, str):
            value = unit_word(value, locale)
        elif isinstance(value, dict):
            value = _worded(value, locale)
        elif isinstance(value, list | tuple) and any(isinstance(v, dict) for v in value):
            value = [_worded(v, locale) if isinstance(v, dict) else v for v in value]
        worded[key] = value
    for key in ("name", "item_name"):
        english = context.get(f"{key}_en")
        if key in context and isinstance(english, str) and english:
            worded[key] = english
    return worded


def _template(name: str, locale: str) -> Template:
    if locale not in LOCALES:
        locale = LOCALES[0]
    return environment().get_template(f"{locale}/{name}.j2")


def _block(template: Template, block: str, context: Context) -> str:
    render = template.blocks[block]
    return "".join(render(context)).strip()


def proposal_buttons(
    proposal_id: str, qty: int | None = None
) -> tuple[tuple[str, str, ButtonStyle], ...]:
    """The buyer's three buttons on a proposal card; Confirm carries the quantity it shows
    ("P1@55"), so that pressing it on a card that was since resized confirms nothing."""
    shown = f"{proposal_id}@{qty}" if qty is not None else proposal_id
    return (
        ("confirm", shown, "primary"),
        ("adjust", proposal_id, "default"),
        ("reject", proposal_id, "danger"),
    )


def statement_buttons(statement_id: str, revision: int) -> tuple[tuple[str, str, ButtonStyle], ...]:
    """A statement card's buttons: one confirm for each side (one action: the presser's role
    decides the side; "~buyer" only picks the label) carrying the revision the card shows
    ("S1@2"), so that pressing it on a card re-issued since signs nothing; and the dispute."""
    shown = f"{statement_id}@{revision}"
    return (
        ("confirm_statement", f"{shown}~buyer", "primary"),
        ("confirm_statement", f"{shown}~supplier", "primary"),
        ("dispute_statement", statement_id, "danger"),
    )


def button_value(value: str) -> tuple[str, str]:
    """A button's value without the label's variant, and the variant: ("S1@2", "buyer")."""
    plain, _, variant = value.partition("~")
    return plain, variant


def render_card(
    name: str,
    locale: str,
    buttons: tuple[tuple[str, str, ButtonStyle], ...] = (),
    urgent: bool = False,
    **context: object,
) -> Card:
    """The card `name` in `locale`; `buttons` are (action, value, style), labelled by it."""
    template = _template(name, locale)
    labels = _template("buttons", locale)  # one wording of each button for every card
    context = {
        **_worded(context, locale),
        "urgent": urgent,
    }  # templates may word an urgent card differently
    # one rendering context for the card's blocks, one for its buttons' labels (making one
    # costs more than a block)
    card_context, label_context = template.new_context(context), labels.new_context(context)
    lines = tuple(
        line.strip() for line in _block(template, "body", card_context).splitlines() if line.strip()
    )
    return Card(
        title=_block(template, "title", card_context),
        lines=lines,
        buttons=tuple(
            Button(
                label=_block(
                    labels,
                    f"button_{action}" + (f"_{button_value(value)[1]}" if "~" in value else ""),
                    label_context,
                ),
                action=action,
                value=value,
                style=style,
                text_equivalent=_block(
                    labels,
                    f"type_{action}",
                    labels.new_context(
                        {**context, "value": button_value(value)[0].partition("@")[0]}
                    ),
                ),
            )
            for action, value, style in buttons
        ),
        urgent=urgent,
        refusal=name == "refusal",
    )
