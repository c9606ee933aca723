"""The effective terms: the agreement file with the amendments both parties agreed to.

Every service and handler reads items through `effective` once per transaction, so the review,
status, to-do, reminders and the status JSON all see the same min, max, pack size and MOQ. An
agreed figure holds until the file itself changes that figure; then the file wins, and the
group hears it once (`announce_file_wins`, at start).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import replace
from datetime import datetime

from sqlmodel import Session

from bot.config import AgreementConfig, Config, Member
from bot.services.announce import group_messages
from bot.storage import amendments as stored
from bot.storage.amendments import Agreed, AgreedFigure
from bot.storage.outbox import Message, enqueue_all
from messages.render import render_card
from vmi_rules.amendments import (
    AppliedChange,
    Source,
    current_value,
    effective_item,
    effective_reminders,
    file_wins,
    shown,
)
from vmi_rules.terms import Item

log = logging.getLogger(__name__)


def _who(config: Config, member_id: str) -> str:
    member = config.member(member_id)
    return member.name if member else member_id


def as_applied(config: Config, row: Agreed, change: AgreedFigure) -> AppliedChange:
    """A stored agreed figure as the rules read it."""
    return AppliedChange(
        amendment_id=stored.public_id(row.id),
        sku=row.sku,
        change=stored.as_rule(change),
        proposed_by=_who(config, row.proposed_by),
        agreed_by=_who(config, row.decided_by),
        agreed_at=row.decided_at or row.proposed_at,
    )


# The last effective configurations made, by the file's Config and the agreed figures they
# were made from: a burst of messages reads the same terms, so they are built once, not per message.
_MADE: dict[int, tuple[Config, tuple[object, ...], Config]] = {}
_MADE_MOST = 4
_FEW = 100


def effective(
    config: Config, session: Session, agreement_ids: Collection[str] | None = None
) -> Config:
    """`config` with every agreement's items as amended (see `effective_agreement`); with
    `agreement_ids`, only those agreements, and nothing of the others read (a message, a
    slot's job: their cost must not grow with the agreements of other firms)."""
    if agreement_ids is not None:
        chosen = config.only(agreement_ids)
        return replace(chosen, agreements=_effective_all(config, session, chosen.agreements))
    made = _MADE.get(id(config))
    known_file = made is not None and made[0] is config  # made from before: not effective
    if not known_file and (
        any(result is config for _, _, result in _MADE.values())
        or any(a.term_sources for a in config.agreements)
    ):
        return config  # already effective: amendments apply once
    # A few agreements (one's status, a slot's job) read only their own rows; many read all of
    # them without a list of every id, leaving out those not configured.
    few = [a.id for a in config.agreements] if len(config.agreements) <= _FEW else None
    found = [(r, c) for r, c in stored.applied(session, few) if config.agreement(r.agreement_id)]
    made_from = tuple(
        (r.id, r.agreement_id, r.sku, r.proposed_by, r.decided_by, r.decided_at, r.proposed_at,
         c.id, c.field, c.old, c.new, c.file_value)
        for r, c in found
    )  # fmt: skip
    if made is not None and known_file and made[1] == made_from:
        return made[2]
    result = replace(config, agreements=_effective_from(config, config.agreements, found))
    if len(_MADE) >= _MADE_MOST:
        _MADE.clear()  # configurations are few (one per process, a few in tests)
    _MADE[id(config)] = (config, made_from, result)
    return result


def effective_agreement(
    config: Config, session: Session, agreement: AgreementConfig
) -> AgreementConfig:
    """The agreement with its items as agreed in chat, and where each figure comes from."""
    return _effective_all(config, session, (agreement,))[0]


# One agreement made effective, by the agreement file's object: the people and agreed figures
# it was made from, and the result. A burst of counts reads the same rows for an agreement again
# and again; building its terms from them anew cost more than reading them.
AgreedRows = list[tuple[Agreed, AgreedFigure]]
_ONE_MADE: dict[int, tuple[AgreementConfig, tuple[Member, ...], AgreedRows, AgreementConfig]] = {}
_ONE_MADE_MOST = 20_000  # past this, start again: more than 10,000 agreements' worth


def _effective_all(
    config: Config, session: Session, agreements: Collection[AgreementConfig]
) -> tuple[AgreementConfig, ...]:
    if any(a.term_sources for a in agreements):
        return tuple(agreements)  # already effective: amendments apply once
    found = stored.applied(session, [a.id for a in agreements])
    if len(agreements) != 1:
        return _effective_from(config, agreements, found)
    (agreement,) = agreements
    made = _ONE_MADE.get(id(agreement))
    if made and made[0] is agreement and made[1] is config.members and made[2] == found:
        return (made[3],)
    (result,) = _effective_from(config, agreements, found)
    if len(_ONE_MADE) >= _ONE_MADE_MOST:
        _ONE_MADE.clear()
    _ONE_MADE[id(agreement)] = (agreement, config.members, found, result)
    return (result,)


def _effective_from(
    config: Config,
    agreements: Collection[AgreementConfig],
    found: list[tuple[Agreed, AgreedFigure]],
) -> tuple[AgreementConfig, ...]:
    by_agreement: dict[str, list[AppliedChange]] = {}
    for r, c in found:
        by_agreement.setdefault(r.agreement_id, []).append(as_applied(config, r, c))
    out = []
    for agreement in agreements:
        changes = by_agreement.get(agreement.id, [])
        items: list[Item] = []
        sources: list[tuple[str, Source]] = []
        for item in agreement.items:
            now_item, of_item = effective_item(item, changes)
            items.append(now_item)
            sources.extend((item.sku, source) for source in of_item)
        reminders, of_reminders = effective_reminders(agreement.terms.reminders, changes)
        sources.extend(("", source) for source in of_reminders)  # no item: the agreement's
        terms = replace(agreement.terms, items=tuple(items), reminders=reminders)
        out.append(
            replace(agreement, terms=terms, term_sources=tuple(sources), file_terms=agreement.terms)
        )
    return tuple(out)


def announce_file_wins(
    session: Session, config: Config, now: datetime, platforms: frozenset[str] = frozenset()
) -> list[str]:
    """Agreed figures the file has changed since: the file's value holds from now on. Each is
    marked so once, logged, and told to the agreement's group once. Returns what was said."""
    said: list[str] = []
    messages: list[Message] = []
    for row, change in stored.applied(session, [a.id for a in config.agreements]):
        agreement = config.agreement(row.agreement_id)
        item = agreement.terms.item(row.sku) if agreement and row.sku else None
        if agreement is None or (row.sku and item is None):
            continue
        applied = as_applied(config, row, change)
        reminders = agreement.terms.reminders
        if not file_wins(item, reminders, applied) or not stored.supersede(session, change, now):
            continue
        field = applied.change.field
        file_value = shown(field, current_value(item, reminders, field))
        line = (
            f"{agreement.id}: {row.sku or 'reminders'} {field} is {file_value} from the agreement "
            f"file; amendment {applied.amendment_id} ({shown(field, change.old)} -> "
            f"{shown(field, change.new)}) no longer applies"
        )
        log.warning(line)
        said.append(line)
        card = render_card(
            "amendment",
            config.bot.locale,
            kind="file_wins",
            amendment_id=applied.amendment_id,
            agreement=agreement.id,
            sku=row.sku,
            item_name=item.name if item else "",
            changes=[{"field": field, "old": shown(field, change.new), "new": file_value}],
            proposed_by="",
            reason="",
        )
        key = f"amend-file:{change.id}"
        messages.extend(group_messages(config, agreement, card, now, platforms, key))
    enqueue_all(session, messages)
    return said
