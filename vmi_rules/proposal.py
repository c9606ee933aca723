"""Replenishment proposals (补货建议) and their life, and the inventory position they make up.

proposed -> confirmed (buyer; or adjusted: new quantity, then confirmed) | rejected | expired;
confirmed -> shipped (supplier, optional ETA) -> received (keeper, partial receipts allowed).
Each step is done once, by a member whose role allows it; a second click is refused as
"already", naming who did the last step.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal

from vmi_rules.roles import MAY


class ProposalState(StrEnum):
    """Where a proposal is in its life."""

    PROPOSED = "proposed"
    CONFIRMED = "confirmed"
    SHIPPED = "shipped"
    RECEIVED = "received"
    REJECTED = "rejected"
    EXPIRED = "expired"


OPEN_STATES: frozenset[ProposalState] = frozenset(
    {ProposalState.PROPOSED, ProposalState.CONFIRMED, ProposalState.SHIPPED}
)
IN_TRANSIT_STATES: frozenset[ProposalState] = frozenset(
    {ProposalState.CONFIRMED, ProposalState.SHIPPED}
)

# For each action: the states it starts from, and the states where it was already done.
_STARTS_FROM: dict[str, frozenset[ProposalState]] = {
    "confirm": frozenset({ProposalState.PROPOSED}),
    "adjust": frozenset({ProposalState.PROPOSED}),
    "reject": frozenset({ProposalState.PROPOSED}),
    "ship": frozenset({ProposalState.CONFIRMED}),
    "receive": IN_TRANSIT_STATES,
    "expire": frozenset({ProposalState.PROPOSED}),
    "resize": frozenset({ProposalState.PROPOSED}),
}
_ALREADY_IN: dict[str, frozenset[ProposalState]] = {
    "confirm": frozenset({ProposalState.CONFIRMED, ProposalState.SHIPPED, ProposalState.RECEIVED}),
    "adjust": frozenset({ProposalState.CONFIRMED, ProposalState.SHIPPED, ProposalState.RECEIVED}),
    "reject": frozenset({ProposalState.REJECTED}),
    "ship": frozenset({ProposalState.SHIPPED, ProposalState.RECEIVED}),
    "receive": frozenset({ProposalState.RECEIVED}),
    "expire": frozenset({ProposalState.EXPIRED}),
    "resize": frozenset(),
}

# Who may take each step: the one role table's answer for it.
ALLOWED_ROLES: dict[str, frozenset[str]] = {step: MAY[step] for step in _STARTS_FROM}

RefusalReason = Literal["wrong_role", "already", "not_allowed", "bad_quantity"]


@dataclass(frozen=True)
class Actor:
    """Who does a step: a member with a role, or the bot itself."""

    member_id: str
    name: str
    role: str  # "warehouse" | "buyer" | "supplier" | "admin" | "system"


SYSTEM = Actor(member_id="system", name="system", role="system")


class TransitionRefused(Exception):
    """A step that cannot be done: wrong role, already done, not possible now, or a bad quantity."""

    def __init__(
        self,
        reason: RefusalReason,
        action: str,
        state: ProposalState,
        decided_by: str = "",
        allowed_roles: frozenset[str] = frozenset(),
    ) -> None:
        self.reason: RefusalReason = reason
        self.action = action
        self.state = state
        self.decided_by = decided_by
        self.allowed_roles = allowed_roles
        detail = f" by {decided_by}" if decided_by else ""
        super().__init__(f"{action} refused ({reason}): proposal is {state.value}{detail}")


@dataclass(frozen=True)
class Proposal:
    """A replenishment proposal for one item."""

    id: str
    sku: str
    qty: int
    state: ProposalState = ProposalState.PROPOSED
    urgent: bool = False
    received_qty: int = 0
    eta: date | None = None
    reject_reason: str = ""
    decided_by: str = ""

    def __post_init__(self) -> None:
        if self.qty <= 0:
            raise ValueError(f"proposal {self.id} needs a positive quantity, got {self.qty}")
        if self.received_qty < 0:
            raise ValueError(f"proposal {self.id} cannot have received {self.received_qty}")

    @property
    def is_open(self) -> bool:
        """Not yet received, rejected or expired."""
        return self.state in OPEN_STATES

    @property
    def outstanding(self) -> int:
        """What is still to arrive: ordered minus received while open, never below 0."""
        if not self.is_open:
            return 0
        return max(self.qty - self.received_qty, 0)

    @property
    def shipped_qty(self) -> int:
        """What the supplier has sent: the whole quantity once shipped (one shipment each)."""
        return self.qty if self.state in (ProposalState.SHIPPED, ProposalState.RECEIVED) else 0

    @property
    def in_transit(self) -> int:
        """The outstanding quantity once the buyer confirmed it (confirmed or shipped)."""
        return self.outstanding if self.state in IN_TRANSIT_STATES else 0

    def confirm(self, actor: Actor, at: datetime) -> Transition:
        """The buyer accepts the proposal as it is."""
        self._check("confirm", actor)
        return self._step("confirm", actor, at, state=ProposalState.CONFIRMED)

    def adjust(self, actor: Actor, qty: int, at: datetime) -> Transition:
        """The buyer changes the quantity, which confirms it."""
        self._check("adjust", actor, qty)
        after = replace(self, qty=qty, state=ProposalState.CONFIRMED, decided_by=actor.name)
        return Transition("adjust", before=self, after=after, by=actor, at=at, qty=qty)

    def reject(self, actor: Actor, reason: str, at: datetime) -> Transition:
        """The buyer turns the proposal down, with a reason."""
        self._check("reject", actor)
        return self._step(
            "reject", actor, at, state=ProposalState.REJECTED, reject_reason=reason, note=reason
        )

    def ship(self, actor: Actor, at: datetime, eta: date | None = None) -> Transition:
        """The supplier sends the confirmed goods, optionally saying when they arrive."""
        self._check("ship", actor)
        return self._step("ship", actor, at, state=ProposalState.SHIPPED, eta=eta)

    def receive(self, actor: Actor, at: datetime, qty: int | None = None) -> Transition:
        """The keeper takes goods in: all that is outstanding, or part of it.

        A partial receipt keeps the state (the rest stays in transit); reaching the ordered
        quantity makes it received. More than outstanding is accepted: over-delivery happens
        and the ledger records what arrived. Receiving a confirmed proposal that was never
        marked shipped is allowed, since suppliers forget to click.
        """
        arrived = self.outstanding if qty is None else qty
        self._check("receive", actor, arrived)
        received = self.received_qty + arrived
        state = ProposalState.RECEIVED if received >= self.qty else self.state
        after = replace(self, state=state, received_qty=received, decided_by=actor.name)
        return Transition("receive", before=self, after=after, by=actor, at=at, qty=arrived)

    def expire(self, at: datetime) -> Transition:
        """The bot closes a proposal nobody confirmed in time."""
        self._check("expire", SYSTEM)
        return self._step("expire", SYSTEM, at, state=ProposalState.EXPIRED)

    def resize(self, qty: int, at: datetime, why: str = "") -> Transition:
        """The review changes the quantity of a proposal nobody has confirmed yet."""
        self._check("resize", SYSTEM, qty)
        after = replace(self, qty=qty, decided_by=SYSTEM.name)
        note = f"{self.qty} -> {qty}" + (f" ({why})" if why else "")
        return Transition("resize", before=self, after=after, by=SYSTEM, at=at, qty=qty, note=note)

    def _check(self, action: str, actor: Actor, qty: int | None = None) -> None:
        """Refuse a step: role first, then state (already done / not possible), then quantity."""
        allowed = ALLOWED_ROLES[action]
        if actor.role not in allowed:
            raise TransitionRefused("wrong_role", action, self.state, self.decided_by, allowed)
        if self.state in _ALREADY_IN[action]:
            raise TransitionRefused("already", action, self.state, self.decided_by, allowed)
        if self.state not in _STARTS_FROM[action]:
            raise TransitionRefused("not_allowed", action, self.state, self.decided_by, allowed)
        if qty is not None and qty <= 0:
            raise TransitionRefused("bad_quantity", action, self.state, self.decided_by, allowed)

    def _step(
        self, action: str, actor: Actor, at: datetime, *, note: str = "", **changes: Any
    ) -> Transition:
        after = replace(self, decided_by=actor.name, **changes)
        return Transition(action, before=self, after=after, by=actor, at=at, note=note)


@dataclass(frozen=True)
class Transition:
    """One step of a proposal's life: the proposal before and after, who did it and when."""

    action: str  # "confirm" | "adjust" | "reject" | "ship" | "receive" | "expire"
    before: Proposal
    after: Proposal
    by: Actor
    at: datetime
    qty: int = 0  # receive: the quantity received in this step; adjust: the new quantity
    note: str = ""


def position(on_hand: int, proposals: Iterable[Proposal]) -> int:
    """Inventory position: on hand plus the outstanding quantity of every open proposal (rule 2)."""
    return on_hand + sum(p.outstanding for p in proposals)


def in_transit(proposals: Iterable[Proposal]) -> int:
    """The confirmed and shipped part of the position, not yet received."""
    return sum(p.in_transit for p in proposals)
