"""The intents, one row each: what the parser makes of the message (or which card button means
it), who may do it, the function that does it, and what to type for it.

The conversation looks a parsed message or a pressed button up here and checks the role from
the row; nothing else maps intents to roles or functions. The rows read two things they do not
hold: who may do what is the one role table in vmi_rules/roles.py, because the proposal rules
check the same roles on every step; and the words (a label, an example per locale) are in
messages/words.py, because the reminders, below the handlers, show the same examples. Adding an
intent is a row here, its roles there, and its words and card in messages/.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from handlers.incoming import ButtonPress
from handlers.intents.amendments import on_amend, on_amend_answer, on_uncounted
from handlers.intents.month import on_retro, on_suggest
from handlers.intents.overstock import on_overstock_choice
from handlers.intents.plans import on_emergency, on_plan
from handlers.intents.proposals import (
    on_correct_receipt,
    on_proposal_action,
    on_receipt,
    on_review,
)
from handlers.intents.queries import on_courtesy, on_help, on_history, on_status, on_todo
from handlers.intents.sheet import on_confirm_import, on_export, on_sheet_sent
from handlers.intents.sheet_link import on_sheet_link
from handlers.intents.simulate import on_simulate
from handlers.intents.statements import on_statement, on_statement_action
from handlers.intents.stock import on_confirm_count, on_count, on_undo, on_withdrawal
from handlers.parsing import (
    Action,
    Amend,
    AmendAnswer,
    ConfirmCount,
    ConfirmImport,
    Correction,
    CorrectReceipt,
    Count,
    Courtesy,
    Emergency,
    Export,
    Help,
    History,
    Intent,
    OverstockChoice,
    Plan,
    ProposalAction,
    Receipt,
    Refusal,
    Retro,
    ReviewNow,
    SheetLink,
    SheetSent,
    Simulate,
    StatementAction,
    StatementQuery,
    Status,
    Suggest,
    Todo,
    Uncounted,
    Undo,
    Withdrawal,
)
from handlers.parsing.parsed import OverstockChoiceKind
from handlers.turn import Turn
from messages.cards import Card
from messages.render import button_value
from messages.words import example
from vmi_rules.roles import may, roles_for

Handler = Callable[[Turn, Any], Card]
# What pressing a card's button means: the proposal it is on, and the quantity the card showed.
Press = Callable[[str, int | None], Intent | Refusal]


@dataclass(frozen=True)
class IntentRow:
    """One intent: how it is recognised, who may do it, what does it."""

    name: str  # as the labels and examples call it ("receipt": 入库)
    parsed: tuple[type, ...]  # the parser's results that mean it
    handler: Handler
    # a card button's action: a step of a proposal's life (ProposalAction.action), or
    # confirming a held count; the role table knows it by this name
    step: str = ""
    press: Press | None = None  # the intent a pressed button of this step stands for

    @property
    def action(self) -> str:
        """What the role table calls it: a proposal step by the step's name, as the rules do."""
        return self.step or self.name

    @property
    def roles(self) -> list[str]:
        """The roles that may do it, the admin last."""
        return roles_for(self.action)

    def allows(self, role: str) -> bool:
        """True when a member with `role` may do it."""
        return may(role, self.action)

    def example(self, locale: str) -> str:
        """What to type for it, in `locale` (zh or en)."""
        return example(self.name, locale)


def _answer(step: Action) -> Press:
    """A proposal card's button; only Confirm carries the quantity the card showed, so that
    pressing it on a card resized since confirms nothing."""
    return lambda proposal_id, shown: ProposalAction(
        step, proposal_id, qty=shown if step == "confirm" else None
    )


def _received(proposal_id: str, shown: int | None) -> Receipt:
    """The keeper's button: the whole proposal is in, as "入库 P1" says."""
    return Receipt(proposal_id)


def _overstock(choice: OverstockChoiceKind) -> Press:
    """An overstock alert's button: Return carries the units the card offered ("O1@30")."""
    return lambda alert_id, shown: OverstockChoice(
        choice, alert_id, qty=shown if choice == "return" else None
    )


def _amend_answer(step: str) -> Press:
    """An amendment card's button: "A1" agreed, or rejected (which then asks for a reason)."""
    return lambda amendment_id, shown: AmendAnswer(
        "amend_agree" if step == "amend_agree" else "amend_reject", amendment_id
    )


def _suggested(value: str, shown: int | None) -> Amend | Refusal:
    """A suggestion's button, "6205:40:90": propose min 40 and max 90 for 6205, as typing
    修改 6205 补货线 40 安全线 90 does."""
    parts = value.rsplit(":", 2)
    if len(parts) != 3 or not (parts[0] and parts[1].isdecimal() and parts[2].isdecimal()):
        return Refusal("not_understood")
    return Amend(parts[0], (("min", int(parts[1])), ("max", int(parts[2]))))


def _held(sku: str, shown: int | None) -> ConfirmCount:
    """A held count's button: "6205@9" confirms the count of 9."""
    return ConfirmCount(sku, shown)


def _import(import_id: str, shown: int | None) -> ConfirmImport:
    """A sheet's preview button: "I3" records that sheet, as "确认导入 I3" does."""
    return ConfirmImport(import_id)


def _signed(statement_id: str, shown: int | None) -> StatementAction:
    """A statement card's confirm button: "S1@2" confirms revision 2, and nothing once it was
    re-issued; the presser's role says for which side."""
    return StatementAction("confirm", statement_id, revision=shown)


def _disputed(statement_id: str, shown: int | None) -> StatementAction:
    """A statement card's dispute button: the reason is asked for, as typing it without does."""
    return StatementAction("dispute", statement_id)


# fmt: off
INTENTS: tuple[IntentRow, ...] = (
    #         name          parsed as            handler             step       a button means
    IntentRow("count",      (Count, Correction), on_count),
    IntentRow("withdrawal", (Withdrawal,),       on_withdrawal),
    IntentRow("undo",       (Undo,),             on_undo),
    IntentRow("confirm_count", (ConfirmCount,),  on_confirm_count, "confirm_count", _held),
    IntentRow("receipt",    (Receipt,),          on_receipt,         "receive", _received),
    IntentRow("correct_receipt", (CorrectReceipt,), on_correct_receipt),
    IntentRow("plan",       (Plan,),             on_plan),
    IntentRow("emergency",  (Emergency,),        on_emergency),
    IntentRow("confirm",    (ProposalAction,),   on_proposal_action, "confirm", _answer("confirm")),
    IntentRow("adjust",     (ProposalAction,),   on_proposal_action, "adjust",  _answer("adjust")),
    IntentRow("reject",     (ProposalAction,),   on_proposal_action, "reject",  _answer("reject")),
    IntentRow("ship",       (ProposalAction,),   on_proposal_action, "ship",    _answer("ship")),
    IntentRow("eta",        (ProposalAction,),   on_proposal_action, "eta"),
    IntentRow("decline",    (ProposalAction,),   on_proposal_action, "decline"),
    IntentRow("cancel",     (ProposalAction,),   on_proposal_action, "cancel"),
    IntentRow("review",     (ReviewNow,),        on_review),
    IntentRow("overstock_return",   (OverstockChoice,), on_overstock_choice, "return",
              _overstock("return")),
    IntentRow("overstock_discount", (OverstockChoice,), on_overstock_choice, "discount",
              _overstock("discount")),
    IntentRow("overstock_keep",     (OverstockChoice,), on_overstock_choice, "keep",
              _overstock("keep")),
    IntentRow("status",     (Status,),           on_status),
    IntentRow("todo",       (Todo,),             on_todo),
    IntentRow("history",    (History,),          on_history),
    IntentRow("retro",      (Retro,),            on_retro),
    IntentRow("suggest",    (Suggest,),          on_suggest),
    IntentRow("help",       (Help,),             on_help),
    IntentRow("courtesy",   (Courtesy,),         on_courtesy),
    IntentRow("statement",  (StatementQuery,),   on_statement),
    IntentRow("confirm_statement", (StatementAction,), on_statement_action, "confirm_statement",
              _signed),
    IntentRow("dispute_statement", (StatementAction,), on_statement_action, "dispute_statement",
              _disputed),
    IntentRow("reissue_statement", (StatementAction,), on_statement_action, "reissue_statement"),
    IntentRow("uncounted",  (Uncounted,),        on_uncounted),
    IntentRow("sheet",      (SheetLink,),        on_sheet_link,      "sheet"),
    IntentRow("overview",   (SheetLink,),        on_sheet_link,      "overview"),
    IntentRow("amend",      (Amend,),            on_amend,           "amend", _suggested),
    IntentRow("amend_agree", (AmendAnswer,),     on_amend_answer, "amend_agree",
              _amend_answer("amend_agree")),
    IntentRow("amend_reject", (AmendAnswer,),    on_amend_answer, "amend_reject",
              _amend_answer("amend_reject")),
    IntentRow("export",     (Export,),           on_export),
    IntentRow("import",     (SheetSent,),        on_sheet_sent),
    IntentRow("confirm_import", (ConfirmImport,), on_confirm_import, "confirm_import", _import),
    IntentRow("simulate",   (Simulate,),         on_simulate),
)
# fmt: on


def row_for(intent: Intent) -> IntentRow:
    """The row of a parsed intent; a proposal action, an amendment's answer, a statement step
    or an overstock choice by its step."""
    step: str = intent.action if isinstance(intent, ProposalAction | AmendAnswer) else ""
    if isinstance(intent, StatementAction):
        step = f"{intent.action}_statement"
    if isinstance(intent, OverstockChoice):
        step = intent.choice
    if isinstance(intent, SheetLink):
        step = intent.page
    for row in INTENTS:
        if isinstance(intent, row.parsed) and step in ("", row.step):
            return row
    raise LookupError(f"no intent in the registry for {intent!r}")


def pressed(button: ButtonPress) -> Intent | Refusal:
    """A card's button as the intent its text equivalent states ("P1@55": Confirm on a card
    that showed 55); a button of no intent is not understood."""
    for row in INTENTS:
        if row.press is not None and row.step == button.action:
            proposal_id, _, shown = button_value(button.value)[0].partition("@")
            return row.press(proposal_id, int(shown) if shown.isdecimal() else None)
    return Refusal("not_understood")
