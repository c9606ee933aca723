"""Properties that must hold for any state, checked with hypothesis."""

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from vmi_rules.ledger import Movement, book_before_count, infer_from_count, on_hand
from vmi_rules.periods import month_of, week_of
from vmi_rules.proposal import Actor, Proposal, ProposalState
from vmi_rules.review import DemandPlan, ReviewDecision, review_item
from vmi_rules.terms import Item

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 21, 10, 0, tzinfo=SH)
BUYER = Actor("buyer", "王采购", "buyer")
SUPPLIER = Actor("supplier", "李供应", "supplier")
KEEPER = Actor("keeper", "王仓管", "warehouse")
FAST = settings(max_examples=150, deadline=None)


@st.composite
def items(draw: st.DrawFn, rounding: str | None = None) -> Item:
    low = draw(st.integers(0, 200))
    return Item(
        sku="6205",
        name="bearing",
        min=low,
        max=low + draw(st.integers(0, 300)),
        pack_size=draw(st.sampled_from([1, 1, 5, 10, 12, 24])),
        moq=draw(st.sampled_from([0, 0, 10, 25, 50])),
        rounding=rounding or draw(st.sampled_from(["up", "down"])),
        lead_time_days=draw(st.integers(0, 10)),
    )


@st.composite
def plan_lists(draw: st.DrawFn) -> list[DemandPlan]:
    plans = []
    for offset, weekly, qty in draw(
        st.lists(st.tuples(st.integers(-10, 40), st.booleans(), st.integers(0, 600)), max_size=3)
    ):
        day = (T0 + timedelta(days=offset)).date()
        plans.append(DemandPlan("6205", week_of(day) if weekly else month_of(day), qty))
    return plans


@st.composite
def open_proposals(draw: st.DrawFn) -> list[Proposal]:
    """Zero or one regular proposal, most often still proposed, plus maybe an urgent one."""
    found = []
    if draw(st.booleans()):
        state = draw(st.sampled_from([ProposalState.PROPOSED] * 3 + sorted(ProposalState)))
        found.append(Proposal("P1", "6205", draw(st.integers(1, 300)), state=state))
    if draw(st.booleans()):
        found.append(Proposal("P2", "6205", draw(st.integers(1, 100)), urgent=True))
    return found


def apply(decision: ReviewDecision, proposals: list[Proposal]) -> list[Proposal]:
    """What the bot stores after a decision: a new proposal, the open one resized or expired."""
    if decision.action == "propose":
        return [*proposals, Proposal("P9", decision.sku, decision.qty)]
    if decision.action == "update":
        return [
            replace(p, qty=decision.qty) if p.id == decision.proposal_id else p for p in proposals
        ]
    if decision.action == "withdraw":
        return [
            replace(p, state=ProposalState.EXPIRED) if p.id == decision.proposal_id else p
            for p in proposals
        ]
    return proposals


@FAST
@given(
    item=items(),
    below_max=st.integers(-60, 300),
    proposals=open_proposals(),
    plans=plan_lists(),
    review_days=st.integers(1, 7),
    hours=st.integers(0, 24 * 30),
)
def test_a_review_run_twice_proposes_nothing_new(
    item: Item,
    below_max: int,
    proposals: list[Proposal],
    plans: list[DemandPlan],
    review_days: int,
    hours: int,
) -> None:
    stock = max(item.max - below_max, 0)  # mostly around the min..max band
    now = T0 + timedelta(hours=hours)
    first = review_item(item, stock, proposals, plans, now, review_days)
    after = apply(first, proposals)
    second = review_item(item, stock, after, plans, now, review_days)
    assert second.action in ("keep", "none")
    assert sum(1 for p in after if p.is_open and not p.urgent) <= 1


@FAST
@given(book=st.none() | st.integers(-50, 10_000), counted=st.integers(0, 10_000))
def test_inferred_withdrawals_are_never_negative(book: int | None, counted: int) -> None:
    outcome = infer_from_count(book, counted)
    assert outcome.withdrawn >= 0
    assert outcome.gain >= 0
    assert outcome.withdrawn == 0 or outcome.gain == 0
    if book is not None:
        assert book - outcome.withdrawn + outcome.gain == counted


movements = st.lists(
    st.tuples(
        st.sampled_from(["count", "receipt", "withdrawal", "adjustment"]),
        st.integers(0, 500),
        st.integers(-50, 50),
    ),
    max_size=25,
)


def rows_from(drawn: list[tuple[str, int, int]]) -> list[Movement]:
    return [
        Movement(kind, delta if kind == "adjustment" else qty, T0 + timedelta(minutes=i))  # type: ignore[arg-type]
        for i, (kind, qty, delta) in enumerate(drawn)
    ]


@FAST
@given(drawn=movements)
def test_withdrawals_inferred_along_a_ledger_are_never_negative(
    drawn: list[tuple[str, int, int]],
) -> None:
    rows = rows_from(drawn)
    for i, row in enumerate(rows):
        if row.kind == "count":
            assert infer_from_count(book_before_count(rows[:i]), row.qty).withdrawn >= 0


@FAST
@given(item=items(rounding="up"), stock=st.integers(0, 500), partial=st.integers(0, 100))
def test_a_proposal_to_max_received_in_full_leaves_at_least_min(
    item: Item, stock: int, partial: int
) -> None:
    rows = [Movement("count", stock, T0)]
    decision = review_item(item, on_hand(rows), [], [], T0, 3)
    if decision.action == "propose":
        proposal = Proposal("P1", item.sku, decision.qty)
        proposal = proposal.confirm(BUYER, T0).after.ship(SUPPLIER, T0).after
        # received in one go or in two parts, with no withdrawal in between
        first_part = min(partial, proposal.qty - 1)
        for qty in ([first_part] if first_part > 0 else []) + [None]:
            step = proposal.receive(KEEPER, T0 + timedelta(days=1), qty)
            rows.append(Movement("receipt", step.qty, step.at))
            proposal = step.after
        assert proposal.state is ProposalState.RECEIVED
    assert on_hand(rows) >= item.min


@FAST
@given(before=movements, count=st.integers(0, 500), after=movements)
def test_on_hand_never_depends_on_movements_before_the_latest_count(
    before: list[tuple[str, int, int]], count: int, after: list[tuple[str, int, int]]
) -> None:
    tail = [row for row in rows_from(after) if row.kind != "count"]
    latest = Movement("count", count, T0 + timedelta(days=1))
    expected = count + sum(
        row.qty if row.kind in ("receipt", "adjustment") else -row.qty for row in tail
    )
    assert on_hand([*rows_from(before), latest, *tail]) == expected
    assert on_hand([latest, *tail]) == expected
