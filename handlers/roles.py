"""Who may do what (CONTRACT §2 roles): a refusal names the role that may."""

from __future__ import annotations

EVERYONE = frozenset({"warehouse", "buyer", "supplier", "admin"})

MAY = {
    "count": frozenset({"warehouse", "admin"}),
    "withdrawal": frozenset({"warehouse", "admin"}),
    "receipt": frozenset({"warehouse", "admin"}),
    "plan": frozenset({"buyer", "admin"}),
    "emergency": frozenset({"buyer", "admin"}),
    "confirm": frozenset({"buyer", "admin"}),
    "adjust": frozenset({"buyer", "admin"}),
    "reject": frozenset({"buyer", "admin"}),
    "ship": frozenset({"supplier", "admin"}),
    "review": frozenset({"supplier", "admin"}),
    "status": EVERYONE,
    "help": EVERYONE,
}


def may(role: str, intent: str) -> bool:
    """True when a member with `role` may do `intent`."""
    return role in MAY.get(intent, frozenset())


def roles_for(intent: str) -> list[str]:
    """The roles that may do `intent`, the admin last."""
    return sorted(MAY.get(intent, frozenset()), key=lambda r: (r == "admin", r))
