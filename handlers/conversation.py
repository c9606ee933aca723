"""One conversation for every platform: inbox → parse (or the button pressed) → the intent's
row in the registry → role → rules and storage in one transaction → reply cards into the
outbox. Nothing here sends anything or knows a platform."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col

from bot.config import AgreementConfig, Config, Member
from bot.services.retro import last_closed_month
from bot.services.sheet_links import SheetLinks
from bot.services.terms import effective_agreement
from bot.storage import overstock as stored_overstock
from bot.storage import proposals as stored_proposals
from bot.storage import statements as stored_statements
from bot.storage.db import StoreUnavailable, one_statement, transaction
from bot.storage.inbox import claim, heads, mark_failed, mark_handled, receive
from bot.storage.outbox import Destination, enqueue
from bot.storage.tables import InboxRow
from handlers.incoming import Incoming
from handlers.intents.proposals import declining_is_the_suppliers
from handlers.intents.queries import help_card
from handlers.intents.sheet import sent_file
from handlers.parsing import MAX_TEXT, Courtesy, Intent, ProposalAction, Refusal, parse
from handlers.placement import Placement, place
from handlers.registry import pressed, row_for
from handlers.turn import Turn
from messages.cards import Card
from messages.render import render_card
from messages.words import example, label, role_label
from vmi_rules.periods import parse_period
from vmi_rules.roles import may

log = logging.getLogger(__name__)


class _Arriving:
    """How many platform requests of this process are storing a message right now: a batch
    being handled ends early for them, as they hold up the platform's quick answer."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    @contextmanager
    def one(self) -> Iterator[None]:
        """Around one request's write."""
        with self._lock:
            self.count += 1
        try:
            yield
        finally:
            with self._lock:
                self.count -= 1


ARRIVING = _Arriving()


def accept(engine: Engine, incoming: Incoming) -> int | None:
    """Store a message in the inbox: its id, or None when the platform sent it before.

    This is all a platform's request waits for; the message is handled right after.
    """
    # the hot path of every platform request
    with ARRIVING.one(), one_statement(engine) as connection:
        return receive(
            connection,
            incoming.platform,
            incoming.message_id,
            incoming.at,
            chat=incoming.chat,
            sender=incoming.sender,
            text=incoming.text,  # kept once: the JSON of the rest goes without it
            action=f"{incoming.button.action}:{incoming.button.value}" if incoming.button else "",
            incoming=incoming.to_json(with_text=False),
        )


def process(
    engine: Engine,
    config: Config,
    inbox_id: int,
    platforms: frozenset[str] = frozenset({"console"}),
    links: SheetLinks | None = None,
) -> bool:
    """Handle one stored message in one transaction: state changes and replies, or nothing.

    True when it was dealt with here, False when another worker took it first. A database that
    failed us (a lock, a lost connection) raises, and the message waits for the next try; a
    message whose handling itself raises is set aside with the error and its sender is told,
    so the ones after it go on.
    """
    try:
        with transaction(engine) as session:
            stored = claim(session, inbox_id, datetime.now(UTC))
            if stored is None:
                return False
            incoming = Incoming.from_fields(stored)
            _answer(session, config, incoming, platforms, inbox_id, links)
            return True
    except DBAPIError:
        raise
    except Exception as err:
        log.exception("inbox %s could not be handled", inbox_id)
        _set_aside(engine, config, inbox_id, f"{err.__class__.__name__}: {err}")
        return True


def process_batch(
    engine: Engine,
    config: Config,
    platforms: frozenset[str] = frozenset({"console"}),
    links: SheetLinks | None = None,
    limit: int = 50,
    seconds: float = 0.05,
) -> int:
    """Handle the oldest waiting message of up to `limit` chats in one transaction, stopping
    after `seconds`; how many were handled.

    A message whose handling raises, or a database that fails us, rolls the whole batch back;
    its messages are then handled one by one (`process`), so the one that raises is set aside
    alone, its sender told, and none is lost or handled twice. Messages rarely raise: a
    savepoint for each would cost two statements a message.
    """
    ids: list[int] = []
    try:
        with transaction(engine) as session:
            waiting = heads(session, limit)
            ids = [message.id for message in waiting]
            started = time.monotonic()
            taken: list[int] = []
            for message in waiting:
                if taken and (ARRIVING.count or time.monotonic() - started > seconds):
                    break  # not holding the write lock long: the platforms' requests wait on it
                taken.append(message.id)
                stored = message.stored()
                if stored is not None:
                    incoming = Incoming.from_fields(stored)
                    _answer(session, config, incoming, platforms, message.id, links)
            mark_handled(session, taken, datetime.now(UTC))
    except StoreUnavailable:
        raise  # the database cannot keep anything now: the loop waits for it
    except Exception as err:
        if not ids:
            raise  # not even the batch could be read
        why = "failed in the database" if isinstance(err, DBAPIError) else "had a message raise"
        log.warning("a batch of %s messages %s; one by one now", len(ids), why)
        return sum(process(engine, config, inbox_id, platforms, links) for inbox_id in ids)
    return len(taken)


def _set_aside(engine: Engine, config: Config, inbox_id: int, error: str) -> None:
    with transaction(engine) as session:
        _set_aside_in(session, config, inbox_id, error)


def _set_aside_in(session: Session, config: Config, inbox_id: int, error: str) -> None:
    """Mark the message failed with the reason and tell its sender, in `session`."""
    stored = session.scalar(select(col(InboxRow.incoming)).where(col(InboxRow.id) == inbox_id))
    mark_failed(session, inbox_id, datetime.now(UTC), error)
    if not stored:
        return
    try:
        incoming = Incoming.from_json(stored)
    except (ValueError, TypeError, KeyError):
        return  # not a message we can read back: there is nobody to tell
    member = config.member_by_platform(incoming.platform, incoming.sender)
    locale = (member.locale if member else None) or config.bot.locale
    sorry = render_card("refusal", locale, reason="error", detail="", example="", items=[])
    enqueue(session, reply_destination(incoming, sorry), sorry, incoming.at,
            key=f"reply:{inbox_id}")  # fmt: skip


def handle(
    engine: Engine,
    config: Config,
    incoming: Incoming,
    platforms: frozenset[str] = frozenset({"console"}),
    links: SheetLinks | None = None,
) -> bool:
    """Store and handle one message now; False when the same platform message came before."""
    inbox_id = accept(engine, incoming)
    if inbox_id is None:
        return False
    process(engine, config, inbox_id, platforms, links)
    return True


def _answer(
    session: Session,
    config: Config,
    incoming: Incoming,
    platforms: frozenset[str],
    inbox_id: int,
    links: SheetLinks | None = None,
) -> None:
    reply = _reply(session, config, incoming, platforms, inbox_id, links)
    if reply is None:
        return
    enqueue(
        session, reply_destination(incoming, reply), reply, incoming.at, key=f"reply:{inbox_id}"
    )
    if needs_attention(incoming, reply):
        # in a busy group the thread reply is easy to miss: mark the message itself
        mark = Destination(incoming.platform, incoming.chat, mode="react", ref=incoming.origin_ref)
        enqueue(session, mark, Card(ATTENTION), incoming.at, key=f"react:{inbox_id}")


# A neutral mark on a message whose answer needs a look; each adapter shows it its own way.
ATTENTION = "attention"


def needs_attention(incoming: Incoming, reply: Card) -> bool:
    """A group message whose answer warns or refuses: below min, an anomaly, not understood."""
    in_group = incoming.via == "message" and not incoming.direct and bool(incoming.origin_ref)
    warns = reply.refusal or reply.urgent or any(line.startswith("⚠") for line in reply.lines)
    return in_group and warns


def reply_destination(incoming: Incoming, reply: Card) -> Destination:
    """Where the answer goes: a pressed card is updated in place, refusals and slash commands
    are answered to the asker alone, and in a group a message is answered in its thread."""
    here = (incoming.platform, incoming.chat)
    if incoming.via == "command":
        return Destination(
            *here, mode="ephemeral", recipient=incoming.sender, ref=incoming.origin_ref
        )
    if reply.private:  # even in a group: only the asker may open what it leads to
        return Destination(*here, mode="ephemeral", recipient=incoming.sender)
    if reply.refusal and incoming.via in ("button", "form"):
        return Destination(*here, mode="ephemeral", recipient=incoming.sender)
    if incoming.via in ("button", "form") and incoming.origin_ref:
        # the presser too: WeCom updates a card per person (`userids`)
        return Destination(*here, mode="update", ref=incoming.origin_ref, recipient=incoming.sender)
    if not incoming.direct and incoming.origin_ref:
        return Destination(*here, mode="thread", ref=incoming.thread_ref or incoming.origin_ref)
    return Destination(*here)


def _reply(
    session: Session,
    config: Config,
    incoming: Incoming,
    platforms: frozenset[str],
    inbox_id: int,
    links: SheetLinks | None = None,
) -> Card | None:
    member = config.member_by_platform(incoming.platform, incoming.sender)
    speaks = incoming.direct or incoming.addressed
    if member is None:
        if not speaks:
            return None
        return render_card("refusal", config.bot.locale, reason="unknown_member", example="")
    locale = member.locale or written_in(incoming.text) or config.bot.locale
    if (
        len(incoming.text) > MAX_TEXT and not incoming.file_data
    ):  # read by nothing, whichever agreement it was meant for
        return render_card("refusal", locale, reason="too_long", detail=f"{len(incoming.text):,}",
                           limit=f"{MAX_TEXT:,}", example="", items=[])  # fmt: skip
    placed = place(config, member, incoming, lambda public: _agreement_of_proposal(session, public))
    if placed.agreement is None:
        return _misplaced(config, member, incoming, placed, locale, speaks)
    # the items as agreed, amendments applied: of this agreement only, whatever the others
    agreement = effective_agreement(config, session, placed.agreement)
    turn = Turn(session, config, incoming, member, agreement, locale, platforms, inbox_id, links)

    intent: Intent | Refusal
    if incoming.file_data:  # a sheet sent as a file: read, shown, recorded on confirmation
        intent = sent_file(incoming.file_name, incoming.file_data)
    elif incoming.button is not None:
        intent = pressed(incoming.button)
    else:
        intent = parse(placed.text, agreement.items, incoming.at.astimezone(agreement.tz).date())
    if isinstance(intent, Refusal):
        if intent.reason == "not_understood" and not speaks:
            return None  # people chat about lunch in the group too
        if intent.reason == "not_understood" and incoming.direct:
            return help_card(turn, puzzled=incoming.text.strip()[:40])
        return refusal_card(turn, intent)

    row = row_for(intent)
    if isinstance(intent, Courtesy) and not speaks:
        return None  # "谢谢" between people in the group is not for the bot
    if not row.allows(member.role):
        if (
            isinstance(intent, ProposalAction)
            and intent.action == "decline"
            and may(member.role, "reject")
        ):  # a buyer who types "无法供货" means turning it down: say how they do that
            return declining_is_the_suppliers(turn, intent)
        return turn.refuse(
            "wrong_role",
            intent_label=label(row.name, locale),
            allowed=[role_label(r, locale) for r in row.roles],
            role=role_label(member.role, locale),
        )
    return row.handler(turn, intent)


def refusal_card(turn: Turn, refusal: Refusal) -> Card:
    """Why the text was not taken, and what to type instead."""
    reason: str = refusal.reason  # the card has more reasons than the parser
    if reason == "bad_period" and _has_passed(refusal.detail, turn):
        reason = "past_period"  # a real period, only over: say that, not "unreadable"
    open_ids = _open_ids(turn)
    return turn.refuse(
        reason,
        detail=refusal.detail,
        example=_example_of(turn, refusal, open_ids),
        limit=f"{MAX_TEXT:,}",  # for too_long: the most a message may have
        last_month=last_closed_month(turn.agreement, turn.now),  # for bad_month's example
        missing=refusal.missing,
        open_ids=open_ids,
    )


def _open_ids(turn: Turn) -> list[str]:
    """The agreement's open proposals, oldest first, as people type them (P6)."""
    found = stored_proposals.open_ids(turn.session, turn.agreement.id)
    return [stored_proposals.public_id(i) for i in sorted(i for ids in found.values() for i in ids)]


def _example_of(turn: Turn, refusal: Refusal, open_ids: list[str]) -> str:
    """What to type, built from what is there: the item named (or the agreement's first), the
    open proposal (an example naming P1 when only P6 is open sends people the wrong way)."""
    text = example(refusal.hint, turn.locale)
    if "P1" in text and not open_ids:
        return ""  # no proposal is open: an id-shaped example would name one that is not
    text = text.replace("P1", open_ids[0]) if open_ids else text
    items = turn.agreement.items
    sku = refusal.sku or (items[0].sku if items else "6205")
    return text.replace("6205", sku)


def _has_passed(text: str, turn: Turn) -> bool:
    if text.strip() in ("上月", "上周", "last month", "last week"):
        return True
    try:
        period = parse_period(text)
    except ValueError:
        return False
    return period.end <= turn.now.astimezone(turn.agreement.tz).date()


# A word of Latin letters alone: "ok", "stock"; not "P1" or "M8", which are ids in any language.
ENGLISH_WORD = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2,}(?![A-Za-z0-9])")


def written_in(text: str) -> str | None:
    """The language a message is written in, for a member with none configured: "zh" when it
    has Chinese characters, "en" when it has an English word and none, else None ("6205 45",
    "P1", a button)."""
    head = text[:200]  # enough to tell; a pasted sheet need not be read whole
    if any("\u4e00" <= c <= "\u9fff" for c in head):
        return "zh"
    if ENGLISH_WORD.search(head):
        return "en"
    return None


def _agreement_of_proposal(session: Session, public: str) -> str | None:
    """The agreement of a stored proposal (P3), statement (S2) or overstock alert (O2)."""
    if public[:1] in "Oo":
        alert = stored_overstock.get(session, public)
        return alert.agreement_id if alert else None
    row = stored_statements.get(session, public) if public[:1] in "Ss" else None
    if row is not None:
        return row.agreement_id
    proposal = stored_proposals.get(session, public)
    return proposal.agreement_id if proposal else None


def _misplaced(
    config: Config,
    member: Member,
    incoming: Incoming,
    placed: Placement,
    locale: str,
    speaks: bool,
) -> Card | None:
    """The answer to a message that belongs to none of the sender's agreements here: nothing
    recorded, and nothing of any agreement's stock shown."""
    if placed.refusal == "not_this_agreement" and placed.chat_agreement is not None:
        chat = placed.chat_agreement
        words = parse(incoming.text, chat.items, incoming.at.astimezone(chat.tz).date())
        if not speaks and isinstance(words, Refusal) and words.reason == "not_understood":
            return None  # talk among people in someone else's group: not ours to answer
        return render_card("refusal", locale, reason="not_this_agreement",
                           detail=placed.chat_agreement.id, example="", items=[])  # fmt: skip
    if placed.refusal == "which_agreement":
        mine = config.agreements_of(member)
        choices = [_agreement_label(config, a) for a in mine]
        typed = incoming.text.strip()[:200] or example("count", locale)
        return render_card("refusal", locale, reason="which_agreement", choices=choices,
                           detail="", example=f"{mine[0].id}: {typed}", items=[])  # fmt: skip
    return render_card("refusal", locale, reason="unknown_member", example="")


def _agreement_label(config: Config, agreement: AgreementConfig) -> str:
    customer, supplier = config.party(agreement.customer), config.party(agreement.supplier)
    names = [p.name for p in (customer, supplier) if p is not None]
    return f"{agreement.id}（{' ↔ '.join(names)}）" if names else agreement.id
