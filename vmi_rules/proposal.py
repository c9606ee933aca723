"""Replenishment proposals (补货建议) and their life, and the inventory position they make up.

proposed -> confirmed (buyer; or adjusted: new quantity, then confirmed) | rejected | expired;
proposed or confirmed, nothing shipped yet -> declined (supplier, with a reason);
confirmed, nothing shipped yet -> cancelled (buyer, with a reason);
confirmed -> shipped (supplier, optional ETA; whole or in parts) -> received (keeper, partial
receipts allowed). The ETA may change while the goods are on their way.
Each step is done once, by a member whose role allows it; a second click is refused as
"already", naming who did the last step.

A part shipment makes the proposal `shipped` at once, with `shipped_qty` below `qty`, rather
than leaving it `confirmed` until the last part leaves: from the first truck on, there is
something for the keeper to receive and to be reminded of, and the card, the status and the
to-do lists say both "shipped 40" and "40 still to ship". The position does not depend on it:
confirmed and shipped are both in transit, and the outstanding quantity is ordered minus
received whichever it is (DESIGN rule 2).
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
    DECLINED = "declined"  # the supplier cannot supply it
    CANCELLED = "cancelled"  # the buyer no longer wants it, after confirming


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
    "ship": IN_TRANSIT_STATES,  # shipped: the rest of a part shipment
    "receive": IN_TRANSIT_STATES,
    "expire": frozenset({ProposalState.PROPOSED}),
    "resize": frozenset({ProposalState.PROPOSED}),
    "eta": IN_TRANSIT_STATES,
    "decline": frozenset({ProposalState.PROPOSED, ProposalState.CONFIRMED}),
    "cancel": frozenset({ProposalState.CONFIRMED}),
    "correct_receipt": frozenset(
        {ProposalState.CONFIRMED, ProposalState.SHIPPED, ProposalState.RECEIVED}
    ),
}
_ALREADY_IN: dict[str, frozenset[ProposalState]] = {
    "confirm": frozenset({ProposalState.CONFIRMED, ProposalState.SHIPPED, ProposalState.RECEIVED}),
    "adjust": frozenset({ProposalState.CONFIRMED, ProposalState.SHIPPED, ProposalState.RECEIVED}),
    "reject": frozenset({ProposalState.REJECTED}),
    "ship": frozenset({ProposalState.RECEIVED}),  # shipped whole: see Proposal.ship
    "receive": frozenset({ProposalState.RECEIVED}),
    "expire": frozenset({ProposalState.EXPIRED}),
    "resize": frozenset(),
    "eta": frozenset(),
    "decline": frozenset({ProposalState.DECLINED}),
    "cancel": frozenset({ProposalState.CANCELLED}),
    "correct_receipt": frozenset(),
}

# Who may take each step: the one role table's answer for it.
ALLOWED_ROLES: dict[str, frozenset[str]] = {step: MAY[step] for step in _STARTS_FROM}

RefusalReason = Literal[
    "wrong_role",
    "already",
    "not_allowed",
    "bad_quantity",
    "over_ship",
    "needs_reason",
    "past_eta",
    "over_receipt",
]


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
    reject_reason: str = ""  # why it was rejected, declined or cancelled
    decided_by: str = ""
    shipped_qty: int = 0  # what the supplier has sent so far

    def __post_init__(self) -> None:
        if self.qty <= 0:
            raise ValueError(f"proposal {self.id} needs a positive quantity, got {self.qty}")
        if self.received_qty < 0:
            raise ValueError(f"proposal {self.id} cannot have received {self.received_qty}")
        if self.shipped_qty == 0 and self.state in (ProposalState.SHIPPED, ProposalState.RECEIVED):
            # shipped with no figure (before part shipments were recorded): shipped whole
            object.__setattr__(self, "shipped_qty", self.qty)

    @property
    def is_open(self) -> bool:
        """Not yet received, rejected, cancelled, declined or expired."""
        return self.state in OPEN_STATES

    @property
    def outstanding(self) -> int:
        """What is still to arrive: ordered minus received while open, never below 0."""
        if not self.is_open:
            return 0
        return max(self.qty - self.received_qty, 0)

    @property
    def to_ship(self) -> int:
        """What the supplier still has to send: ordered minus what left or arrived, once confirmed.

        What arrived counts as sent too, since suppliers forget to mark a shipment.
        """
        if self.state not in IN_TRANSIT_STATES:
            return 0
        return max(self.qty - max(self.shipped_qty, self.received_qty), 0)

    @property
    def on_the_way(self) -> int:
        """Sent and not yet arrived: what a receipt without a quantity takes in."""
        return max(self.shipped_qty - self.received_qty, 0) if self.is_open else 0

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

    def reject(self, actor: Actor, reason: str, at: datetime, position_left: int = 0) -> Transition:
        """The buyer turns the proposal down, with a reason (none: refused, nothing changes).

        `position_left` is the item's position once it is rejected; the step keeps it as its
        quantity, so that the review can tell whether anything changed since (see
        `vmi_rules.review.Rejection`).
        """
        self._check("reject", actor)
        self._check_reason("reject", actor, reason)
        after = replace(
            self, state=ProposalState.REJECTED, reject_reason=reason, decided_by=actor.name
        )
        return Transition(
            "reject", before=self, after=after, by=actor, at=at, qty=position_left, note=reason
        )

    def decline(
        self, actor: Actor, reason: str, at: datetime, position_left: int = 0
    ) -> Transition:
        """The supplier cannot supply it: proposed or confirmed, before anything was shipped.

        As for a rejection, the step keeps the position left once it is declined as its
        quantity, so that the review does not propose the same again at once.
        """
        self._check("decline", actor)
        self._check_nothing_sent("decline", actor)
        self._check_reason("decline", actor, reason)
        after = replace(
            self, state=ProposalState.DECLINED, reject_reason=reason, decided_by=actor.name
        )
        return Transition(
            "decline", before=self, after=after, by=actor, at=at, qty=position_left, note=reason
        )

    def cancel(self, actor: Actor, reason: str, at: datetime) -> Transition:
        """The buyer calls off a confirmed proposal before anything was shipped."""
        self._check("cancel", actor)
        self._check_nothing_sent("cancel", actor)
        self._check_reason("cancel", actor, reason)
        return self._step(
            "cancel", actor, at, state=ProposalState.CANCELLED, reject_reason=reason, note=reason
        )

    def ship(
        self, actor: Actor, at: datetime, eta: date | None = None, qty: int | None = None
    ) -> Transition:
        """The supplier sends the confirmed goods, all that is left to send or part of it,
        optionally saying when they arrive (a new ETA replaces the earlier one).

        More than is left to send is refused: an over-shipment is a new proposal's business.
        """
        self._check("ship", actor)
        if self.to_ship == 0:
            # shipped whole already (or all arrived): a second click, not a second shipment
            raise TransitionRefused("already", "ship", self.state, self.decided_by)
        sent = self.to_ship if qty is None else qty
        self._check("ship", actor, sent)
        if sent > self.to_ship:
            raise TransitionRefused("over_ship", "ship", self.state, self.decided_by)
        after = replace(
            self,
            state=ProposalState.SHIPPED,
            shipped_qty=max(self.shipped_qty, self.received_qty) + sent,
            eta=eta or self.eta,
            decided_by=actor.name,
        )
        return Transition("ship", before=self, after=after, by=actor, at=at, qty=sent)

    def change_eta(self, actor: Actor, eta: date, at: datetime, today: date) -> Transition:
        """The supplier says the goods now arrive on another day; `today` is the agreement's.

        A day already past is refused: it cannot be when they arrive. The step's note keeps
        the new ETA (ISO date), for the proposal's history.
        """
        self._check("eta", actor)
        if eta < today:
            raise TransitionRefused("past_eta", "eta", self.state, self.decided_by)
        return self._step("eta", actor, at, eta=eta, note=eta.isoformat())

    def receive(self, actor: Actor, at: datetime, qty: int | None = None) -> Transition:
        """The keeper takes goods in: all that is outstanding, or part of it.

        A partial receipt keeps the state (the rest stays in transit); reaching the ordered
        quantity makes it received. More than outstanding is accepted: over-delivery happens
        and the ledger records what arrived. Receiving a confirmed proposal that was never
        marked shipped is allowed, since suppliers forget to click.
        """
        # what was sent and has not arrived yet; all outstanding when nothing was marked sent
        arrived = (self.on_the_way or self.outstanding) if qty is None else qty
        self._check("receive", actor, arrived)
        received = self.received_qty + arrived
        state = ProposalState.RECEIVED if received >= self.qty else self.state
        after = replace(self, state=state, received_qty=received, decided_by=actor.name)
        return Transition("receive", before=self, after=after, by=actor, at=at, qty=arrived)

    def correct_receipt(self, actor: Actor, wrong: int, qty: int, at: datetime) -> Transition:
        """The keeper puts a receipt typed wrong right: `wrong` was taken in, `qty` arrived.

        Received follows (less the wrong figure, plus the right one) and so does the state:
        received when it reaches the order, else back on its way. More than the order allows
        is refused ("over_receipt"): a correction fixes a figure, it is not a second delivery.
        """
        self._check("correct_receipt", actor, qty)
        received = self.received_qty - wrong + qty
        if received > max(self.qty, self.received_qty):
            raise TransitionRefused("over_receipt", "correct_receipt", self.state, self.decided_by)
        if received >= self.qty:
            state = ProposalState.RECEIVED
        else:
            state = ProposalState.SHIPPED if self.shipped_qty else ProposalState.CONFIRMED
        after = replace(self, state=state, received_qty=received, decided_by=actor.name)
        return Transition(
            "correct_receipt", before=self, after=after, by=actor, at=at, qty=qty,
            note=f"{wrong} -> {qty}",
        )  # fmt: skip

    def take_back(
        self, actor: Actor, step: str, qty: int, before: ProposalState, at: datetime,
        previous_qty: int | None = None,
    ) -> Transition:  # fmt: skip
        """The one who took `step` takes it back while the proposal is still where the step
        left it: back to `before`, with what the step changed restored.

        `qty` is the step's quantity (shipped, received); `previous_qty` the order before an
        adjustment. The caller checks that nobody acted on the proposal since.
        """
        if step in ("confirm", "adjust", "reject"):
            after = replace(
                self, state=before, qty=previous_qty or self.qty, reject_reason="", decided_by=""
            )
        elif step == "ship":
            shipped = max(self.shipped_qty - qty, 0)
            eta = self.eta if shipped else None  # the first shipment's ETA goes with it
            after = replace(self, state=before, shipped_qty=shipped, eta=eta)
            if not shipped and before is ProposalState.SHIPPED:  # shipped whole before parts
                after = replace(after, state=ProposalState.CONFIRMED)
        elif step == "receive":
            after = replace(self, state=before, received_qty=max(self.received_qty - qty, 0))
            if before is ProposalState.CONFIRMED:  # received unshipped: nothing was marked sent
                after = replace(after, shipped_qty=0)
        else:
            raise TransitionRefused("not_allowed", "undo", self.state, self.decided_by)
        return Transition("undo", before=self, after=after, by=actor, at=at, qty=qty, note=step)

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

    def _check_nothing_sent(self, action: str, actor: Actor) -> None:
        """Declining or cancelling is for goods not on their way: some sent is too late."""
        if self.shipped_qty or self.received_qty:
            allowed = ALLOWED_ROLES[action]
            raise TransitionRefused("not_allowed", action, self.state, self.decided_by, allowed)

    def _check_reason(self, action: str, actor: Actor, reason: str) -> None:
        """The other side needs to know why: no reason, nothing changes."""
        if not reason.strip():
            allowed = ALLOWED_ROLES[action]
            raise TransitionRefused("needs_reason", action, self.state, self.decided_by, allowed)

    def _step(
        self, action: str, actor: Actor, at: datetime, *, note: str = "", **changes: Any
    ) -> Transition:
        after = replace(self, decided_by=actor.name, **changes)
        return Transition(action, before=self, after=after, by=actor, at=at, note=note)


@dataclass(frozen=True)
class Transition:
    """One step of a proposal's life: the proposal before and after, who did it and when."""

    # "confirm" | "adjust" | "reject" | "decline" | "cancel" | "ship" | "eta" | "receive" |
    # "expire" | "resize" | "correct_receipt" | "undo" (note: the step taken back)
    action: str
    before: Proposal
    after: Proposal
    by: Actor
    at: datetime
    # receive: received in this step; ship: shipped in this step; adjust, resize: the new
    # quantity; reject, decline: the item's position left once closed
    qty: int = 0
    note: str = ""


def position(on_hand: int, proposals: Iterable[Proposal]) -> int:
    """Inventory position: on hand plus the outstanding quantity of every open proposal (rule 2)."""
    return on_hand + sum(p.outstanding for p in proposals)


def in_transit(proposals: Iterable[Proposal]) -> int:
    """The confirmed and shipped part of the position, not yet received."""
    return sum(p.in_transit for p in proposals)
