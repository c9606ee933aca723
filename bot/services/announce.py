"""Who hears about what (DESIGN §5): the one place that decides each announcement's audience.

- a proposal, new, resized or withdrawn: the agreement's group, and each buyer and admin of the
  customer privately where the platform wants that;
- an urgent proposal: the same, but not in the chat it was asked in (the reply says it there);
- a settlement statement: the agreement's group, and each buyer and supplier of its two
  parties privately where the platform wants that (both sides sign it);
- a reminder: the agreement's group.

The audience is decided here in those neutral terms; how a platform reaches it is its adapter's
say, through the `PlatformAudience` the app registers for it at start: the agreement's group
chat there, a person's own chat when everyone who decides gets a card of their own (WeCom,
whose group posts carry no buttons), and whether a changed card replaces the one posted (Slack's
chat.update). Nothing here names a platform.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from enum import Enum
from typing import Any, Protocol

from sqlmodel import Session

from bot.config import AgreementConfig, Config, Member
from bot.storage.outbox import (
    Destination,
    Message,
    enqueue_all,
    sent_posts,
)
from bot.storage.proposals import public_id
from bot.storage.tables import ProposalRow
from messages.cards import Card
from messages.render import proposal_buttons, render_card


class Audience(Enum):
    """Who hears an announcement, whatever the platform."""

    GROUP = "the agreement's group"
    DECIDERS = "each buyer and admin of the customer, privately"
    SIGNERS = "each buyer and supplier of the agreement's parties (and admin), privately"


PROPOSAL = (Audience.GROUP, Audience.DECIDERS)
GROUP_ONLY = (Audience.GROUP,)  # reminders, and the steps of a statement
STATEMENT = (Audience.GROUP, Audience.SIGNERS)
SIGNING_ROLES = ("buyer", "supplier", "admin")  # who confirms or disputes a statement
DECIDING_ROLES = ("buyer", "admin")  # who confirms, adjusts or rejects a proposal


class PlatformAudience(Protocol):
    """How one platform reaches an audience: each adapter has one (`<adapter>/audience.py`)."""

    @property
    def platform(self) -> str:
        """The platform's name, as in the outbox and in `Settings.platforms_on`."""
        ...

    @property
    def updates_in_place(self) -> bool:
        """A resized or withdrawn proposal's card replaces the one posted, found by the
        platform's reference of it, instead of being posted anew."""
        ...

    def group_chat(self, agreement: AgreementConfig) -> str | None:
        """The agreement's group chat on this platform, as its sender reads it; None: none."""
        ...

    def private_chat(self, member: Member) -> str | None:
        """Where `member` gets a card of their own, when this platform wants one for each
        person who decides; None: the group's card is theirs."""
        ...


_registered: dict[str, PlatformAudience] = {}


def register(*audiences: PlatformAudience) -> None:
    """Let announcements reach each audience's platform its way (the app does this at start;
    registering a platform again replaces its audience)."""
    for audience in audiences:
        _registered[audience.platform] = audience


def audience_of(platform: str) -> PlatformAudience | None:
    """The audience registered for `platform`, or None."""
    return _registered.get(platform)


def group_chat(platform: str, agreement: AgreementConfig) -> str | None:
    """The agreement's group chat on `platform`, as its messages name it; None: it has none."""
    audience = _registered.get(platform)
    return audience.group_chat(agreement) if audience else None


def _reaching(platforms: Collection[str]) -> list[PlatformAudience]:
    """The audiences of the platforms that are on, in the order they were registered."""
    missing = sorted(set(platforms) - set(_registered))
    if missing:
        raise LookupError(
            f"no audience registered for {', '.join(missing)}: bot.app.bootstrap.start "
            "registers each adapter's"
        )
    return [audience for name, audience in _registered.items() if name in platforms]


def destinations(
    who: Sequence[Audience],
    config: Config,
    agreement: AgreementConfig,
    platforms: Collection[str],
) -> list[Destination]:
    """Where an announcement for `who` goes on the platforms that are on: the group chats
    first, then the private ones."""
    reaching = _reaching(platforms)
    found = []
    if Audience.GROUP in who:
        for audience in reaching:
            chat = audience.group_chat(agreement)
            if chat:
                found.append(Destination(audience.platform, chat))
    if Audience.DECIDERS in who:
        deciders = [m for m in config.members if _decides(m, agreement)]
        for audience in reaching:
            for member in deciders:
                chat = audience.private_chat(member)
                if chat:
                    found.append(Destination(audience.platform, chat))
    if Audience.SIGNERS in who:
        signers = [m for m in config.members if _signs(m, agreement)]
        for audience in reaching:
            for member in signers:
                chat = audience.private_chat(member)
                if chat:
                    found.append(Destination(audience.platform, chat))
    return found


def _signs(member: Member, agreement: AgreementConfig) -> bool:
    parties = (agreement.customer, agreement.supplier, None)
    return member.role in SIGNING_ROLES and member.party in parties


def _decides(member: Member, agreement: AgreementConfig) -> bool:
    # an admin of no party decides for every agreement
    return member.role in DECIDING_ROLES and member.party in (agreement.customer, None)


def proposal_destinations(
    config: Config, agreement: AgreementConfig, platforms: frozenset[str]
) -> list[Destination]:
    """Where a proposal is announced: the group chats, and each decider's own chat where the
    platform wants that."""
    return destinations(PROPOSAL, config, agreement, platforms)


def proposal_card_key(row: ProposalRow, destination: Destination) -> str:
    """One card per proposal version and chat, however often it is announced."""
    return f"proposal:{row.id}:v{row.version}:{destination.platform}:{destination.chat}"


def proposal_messages(
    session: Session,
    config: Config,
    agreement: AgreementConfig,
    row: ProposalRow,
    card: Card,
    at: datetime,
    platforms: frozenset[str],
    *,
    changed: bool = False,
) -> list[Message]:
    """A proposal's card for everyone who hears of it. A `changed` (resized or withdrawn)
    proposal's card replaces the one posted where the platform updates cards in place."""
    posted = _posted(session, row, platforms) if changed else {}
    return [
        Message(
            place,
            card,
            at,
            key=proposal_card_key(row, place),
            agreement_id=agreement.id,
            proposal_id=row.id,
        )
        for place in (
            replace(d, mode="update", ref=posted[(d.platform, d.chat)])
            if (d.platform, d.chat) in posted
            else d
            for d in proposal_destinations(config, agreement, platforms)
        )
    ]


def _posted(
    session: Session, row: ProposalRow, platforms: frozenset[str]
) -> dict[tuple[str, str], str]:
    """Where the proposal's card went out as a message its platform can change later."""
    in_place = [a.platform for a in _reaching(platforms) if a.updates_in_place]
    return sent_posts(session, row.id, in_place) if in_place else {}  # type: ignore[arg-type]


def statement_messages(
    config: Config,
    agreement: AgreementConfig,
    card: Card,
    at: datetime,
    platforms: frozenset[str],
    key: str,
) -> list[Message]:
    """A settlement statement's card for the group, and for each side's signer privately where
    the platform's group posts carry no buttons; queued once per `key` (its revision) and chat."""
    return [
        Message(d, card, at, key=f"{key}:{d.platform}:{d.chat}", agreement_id=agreement.id)
        for d in destinations(STATEMENT, config, agreement, platforms)
    ]


def group_messages(
    config: Config,
    agreement: AgreementConfig,
    card: Card,
    at: datetime,
    platforms: frozenset[str],
    key: str,
) -> list[Message]:
    """A reminder or a statement's step for the agreement's group, queued once per `key` (the
    reminder's occasion, the step) and chat."""
    return [
        Message(d, card, at, key=f"{key}:{d.platform}:{d.chat}", agreement_id=agreement.id)
        for d in destinations(GROUP_ONLY, config, agreement, platforms)
    ]


class Said(Protocol):
    """Where a message was said: its platform and chat (handlers' `Incoming`)."""

    @property
    def platform(self) -> str: ...

    @property
    def chat(self) -> str: ...


class Asking(Protocol):
    """The conversation turn an urgent change came in (handlers' `Turn`), as far as announcing
    it goes."""

    @property
    def session(self) -> Session: ...

    @property
    def config(self) -> Config: ...

    @property
    def agreement(self) -> AgreementConfig: ...

    @property
    def platforms(self) -> frozenset[str]: ...

    @property
    def incoming(self) -> Said: ...

    @property
    def now(self) -> datetime: ...


def urgent_proposal(turn: Asking, row: ProposalRow, context: Mapping[str, Any]) -> None:
    """Queue an urgent proposal, as the plan card of `context` with its buttons, for everyone
    a proposal goes to, but not in the chat it was asked in: the reply says it there."""
    pid = public_id(row.id)
    card = render_card(
        "plan",
        turn.config.bot.locale,
        buttons=proposal_buttons(pid, context["extra"]),
        urgent=True,
        **{k: v for k, v in context.items() if k != "urgent"},
    )
    asked_in = (turn.incoming.platform, turn.incoming.chat)
    messages = [
        Message(d, card, turn.now, proposal_card_key(row, d), turn.agreement.id, row.id)
        for d in proposal_destinations(turn.config, turn.agreement, turn.platforms)
        if (d.platform, d.chat) != asked_in
    ]
    enqueue_all(turn.session, messages)


def alert(turn: Asking, card: Card, key: str) -> None:
    """An alert (a stock-out) for everyone a proposal goes to, but not in the chat it came
    from: the reply says it there. Queued once per `key` and chat."""
    asked_in = (turn.incoming.platform, turn.incoming.chat)
    messages = [
        Message(d, card, turn.now, f"{key}:{d.platform}:{d.chat}", turn.agreement.id)
        for d in proposal_destinations(turn.config, turn.agreement, turn.platforms)
        if (d.platform, d.chat) != asked_in
    ]
    enqueue_all(turn.session, messages)
