"""Who may do what (CONTRACT §2 roles): the one role table, for what members say in the chat
and for the steps of a proposal's life alike, so the two can never disagree."""

from __future__ import annotations

from collections.abc import Mapping

KEEPERS = frozenset({"warehouse", "admin"})
BUYERS = frozenset({"buyer", "admin"})
SUPPLIERS = frozenset({"supplier", "admin"})
EVERYONE = frozenset({"warehouse", "buyer", "supplier", "admin"})
BOTH_SIDES = BUYERS | SUPPLIERS  # a joint review: the buyer and the supplier both may decide
PARTIES = frozenset({"buyer", "supplier", "admin"})  # who speaks for the customer or supplier
THE_BOT = frozenset({"system"})  # steps no member takes: the bot expires and resizes proposals

MAY: Mapping[str, frozenset[str]] = {
    "count": KEEPERS,
    "withdrawal": KEEPERS,
    "undo": EVERYONE,  # one's own last entry: a count, withdrawal, receipt, plan or step
    "confirm_count": KEEPERS,  # a count held as mistyped, said to be right
    "plan": BUYERS,
    "emergency": BUYERS,
    "review": SUPPLIERS,
    "status": EVERYONE,
    "todo": EVERYONE,
    "history": EVERYONE,
    "help": EVERYONE,
    "courtesy": EVERYONE,
    # the settlement statement both sides sign (DESIGN §7): each side for itself
    "statement": EVERYONE,
    "confirm_statement": BUYERS | SUPPLIERS,
    "dispute_statement": BUYERS | SUPPLIERS,
    "reissue_statement": BUYERS | SUPPLIERS,
    "uncounted": EVERYONE,  # 谁没盘点
    # amendments (DESIGN §7): one party proposes, the other agrees or rejects
    "amend": PARTIES,
    "amend_agree": PARTIES,
    "amend_reject": PARTIES,
    "retro": EVERYONE,  # the month in figures: both sides discuss it
    "suggest": EVERYONE,  # a suggestion records nothing; changing min/max is an amendment
    "simulate": EVERYONE,  # a what-if on the agreement's own history: records nothing
    # the shared sheet (DESIGN §7): anyone of the agreement sees it; a sheet sent in holds
    # counts (the keeper's) and plans (the buyer's), each line checked for its own role
    "export": EVERYONE,
    "import": KEEPERS | BUYERS,
    "confirm_import": KEEPERS | BUYERS,
    # the shared sheet's page and the overview: each sees its own party's agreements only
    "sheet": EVERYONE,
    "overview": EVERYONE,
    # the steps of a proposal (DESIGN §3.5)
    "confirm": BUYERS,
    "adjust": BUYERS,
    "reject": BUYERS,
    "cancel": BUYERS,  # a confirmed proposal, before anything is shipped
    "ship": SUPPLIERS,
    "eta": SUPPLIERS,
    "decline": SUPPLIERS,
    "receive": KEEPERS,
    "correct_receipt": KEEPERS,
    # the choices on an overstock alert (rule 9): either side may make one, once
    "return": BOTH_SIDES,
    "discount": BOTH_SIDES,
    "keep": BOTH_SIDES,
    "expire": THE_BOT,
    "resize": THE_BOT,
}


def may(role: str, action: str) -> bool:
    """True when a member with `role` may do `action` (an intent or a proposal step)."""
    return role in MAY.get(action, frozenset())


def roles_for(action: str) -> list[str]:
    """The roles that may do `action`, the admin last."""
    return sorted(MAY.get(action, frozenset()), key=lambda r: (r == "admin", r))
