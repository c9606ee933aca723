"""The registry: one row per intent. Whatever the parser can make of a message and whatever
button a card can carry has a row; a row's example, typed, is that intent; its button means
what its example says; and someone may do it."""

from __future__ import annotations

from datetime import date
from typing import get_args

import pytest

from handlers.incoming import ButtonPress
from handlers.parsing import (
    Action,
    ConfirmCount,
    Intent,
    ProposalAction,
    Refusal,
    SheetSent,
    StatementAction,
    parse,
)
from handlers.registry import INTENTS, IntentRow, pressed, row_for
from messages.render import LOCALES, proposal_buttons, statement_buttons
from messages.words import INTENT_LABELS
from vmi_rules.terms import Item

ITEMS = (Item(sku="6205", name="6205 深沟球轴承", min=50, max=100),)
TODAY = date(2026, 11, 21)
MEMBER_ROLES = {"warehouse", "buyer", "supplier", "admin"}


def test_every_intent_the_parser_makes_has_one_row() -> None:
    for kind in get_args(Intent):
        if kind is ProposalAction:
            continue
        assert [row.name for row in INTENTS if kind in row.parsed] != [], kind
    for step in get_args(Action):
        assert [r.name for r in INTENTS if ProposalAction in r.parsed and r.step == step] == [step]
    assert len({row.name for row in INTENTS}) == len(INTENTS)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("row", INTENTS, ids=lambda row: row.name)
def test_a_rows_example_typed_is_that_intent(row: IntentRow, locale: str) -> None:
    typed = row.example(locale)
    assert typed, f"{row.name} has no example in {locale}"
    if row.parsed == (SheetSent,):
        return  # a sheet is a file sent, not words typed: its example says to send one
    intent = parse(typed, ITEMS, TODAY)
    assert not isinstance(intent, Refusal), (typed, intent)
    assert row_for(intent) is row, (typed, intent)


@pytest.mark.parametrize("row", INTENTS, ids=lambda row: row.name)
def test_someone_may_do_each_intent_and_it_has_a_name_in_each_language(row: IntentRow) -> None:
    assert row.roles and set(row.roles) <= MEMBER_ROLES
    assert row.roles[-1] == "admin"  # the refusal names the admin last
    assert all(row.name in INTENT_LABELS[locale] for locale in LOCALES)  # a label each


PROPOSAL_STEPS = [r for r in INTENTS if ProposalAction in r.parsed or r.name == "receipt"]


@pytest.mark.parametrize("locale", LOCALES)
# decline, cancel and a new ETA have no button: each needs words (a reason, a day) to mean much
@pytest.mark.parametrize("row", [r for r in PROPOSAL_STEPS if r.press], ids=lambda row: row.name)
def test_a_button_means_what_typing_its_example_means(row: IntentRow, locale: str) -> None:
    button = pressed(ButtonPress(row.step, "P7"))
    typed = parse(row.example(locale).replace("P1", "P7"), ITEMS, TODAY)
    assert not isinstance(button, Refusal) and not isinstance(typed, Refusal)
    assert row_for(button) is row is row_for(typed)
    assert getattr(button, "proposal_id", None) == "P7"


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("step", ["amend_agree", "amend_reject"])
def test_an_amendment_button_means_what_typing_its_example_means(step: str, locale: str) -> None:
    [row] = [r for r in INTENTS if r.step == step]
    button = pressed(ButtonPress(step, "A7"))
    typed = parse(row.example(locale).replace("A1", "A7"), ITEMS, TODAY)
    assert not isinstance(button, Refusal) and not isinstance(typed, Refusal)
    assert row_for(button) is row is row_for(typed)
    assert getattr(button, "amendment_id", None) == getattr(typed, "amendment_id", None) == "A7"


@pytest.mark.parametrize("locale", LOCALES)
def test_a_held_counts_button_means_what_its_example_says(locale: str) -> None:
    button = pressed(ButtonPress("confirm_count", "6205@9"))
    assert button == ConfirmCount("6205", 9)  # the count the card showed, and no other
    [row] = [r for r in INTENTS if r.name == "confirm_count"]
    assert row_for(button) is row is row_for(parse(row.example(locale), ITEMS, TODAY))


def test_every_button_on_a_proposal_card_has_a_row() -> None:
    for action, value, _ in proposal_buttons("P3", 55):
        intent = pressed(ButtonPress(action, value))
        assert isinstance(intent, ProposalAction) and intent.proposal_id == "P3"
        assert row_for(intent).step == action
    confirm = pressed(ButtonPress("confirm", "P3@55"))
    assert confirm == ProposalAction("confirm", "P3", qty=55)  # the quantity the card showed


@pytest.mark.parametrize("locale", LOCALES)
def test_every_button_on_a_statement_card_means_what_its_text_equivalent_says(locale: str) -> None:
    confirm_for_buyer, confirm_for_supplier, dispute = statement_buttons("S3", 2)
    for action, value, _ in (confirm_for_buyer, confirm_for_supplier):
        # either side's button is one action: the role of who presses it picks the side
        assert pressed(ButtonPress(action, value)) == StatementAction("confirm", "S3", revision=2)
    assert pressed(ButtonPress(dispute[0], dispute[1])) == StatementAction("dispute", "S3")
    for name in ("confirm_statement", "dispute_statement", "reissue_statement"):
        [row] = [r for r in INTENTS if r.name == name]
        typed = parse(row.example(locale).replace("S1", "S3"), ITEMS, TODAY)
        assert isinstance(typed, StatementAction) and typed.statement_id == "S3"
        assert row_for(typed) is row


OVERSTOCK_CHOICES = [r for r in INTENTS if r.name.startswith("overstock_")]


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("row", OVERSTOCK_CHOICES, ids=lambda row: row.name)
def test_an_overstock_button_means_what_typing_its_example_means(
    row: IntentRow, locale: str
) -> None:
    button = pressed(ButtonPress(row.step, "O7@20"))
    typed = parse(row.example(locale).replace("O1", "O7"), ITEMS, TODAY)
    assert not isinstance(button, Refusal) and not isinstance(typed, Refusal)
    assert row_for(button) is row is row_for(typed)
    assert getattr(button, "alert_id", None) == getattr(typed, "alert_id", None) == "O7"
    assert getattr(button, "qty", None) == getattr(typed, "qty", None)  # Return: 20 either way
