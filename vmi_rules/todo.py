"""What is waiting for whom (待办): each open proposal waits for one step, and that step for
the roles the role table lets take it. Late is judged as the reminders judge it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from vmi_rules.proposal import ProposalState
from vmi_rules.reminders import NUDGE_AFTER, OpenProposal
from vmi_rules.roles import may

# The step an open proposal waits for: the buyer confirms, the supplier ships, the keeper
# receives.
NEXT_STEP: Mapping[ProposalState, str] = {
    ProposalState.PROPOSED: "confirm",
    ProposalState.CONFIRMED: "ship",
    ProposalState.SHIPPED: "receive",
}


@dataclass(frozen=True)
class Waiting:
    """An open proposal waiting for `step` for `age`; `late` when past its time."""

    item: OpenProposal
    step: str
    late: bool
    age: timedelta


def waiting_for(role: str, proposals: Iterable[OpenProposal], now: datetime) -> list[Waiting]:
    """The open proposals whose next step `role` may take, the longest waiting first (`now`
    in the agreement's time zone: an ETA is a date there).

    Late: unconfirmed for `NUDGE_AFTER` (the buyer's reminder), confirmed but not shipped by
    the lead time, shipped but not in by the ETA (or the lead time and a day, without one).
    """
    found = []
    for item in proposals:
        steps = [NEXT_STEP.get(item.proposal.state)]
        if item.proposal.state is ProposalState.SHIPPED and item.proposal.to_ship:
            steps.append("ship")  # the rest of a part shipment is still the supplier's to send
        for step in steps:
            if step is None or not may(role, step):
                continue
            found.append(Waiting(item, step, _late(item, step, now), now - item.since))
    return sorted(found, key=lambda w: w.item.since)


def _late(item: OpenProposal, step: str, now: datetime) -> bool:
    if step == "confirm":
        return now - item.since >= NUDGE_AFTER
    if step == "ship":
        return now >= item.since + timedelta(days=item.lead_time_days)
    eta = item.proposal.eta
    if eta is not None:
        return now.date() > eta
    return now >= item.since + timedelta(days=item.lead_time_days + 1)
