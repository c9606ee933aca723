"""Which agreement a message belongs to: the agreement of the chat it was said in, or, one to
one, the one agreement its sender takes part in. Never another: a supplier serves many
customers, and one customer's stock must not be read or written from another's chat.

A member of several agreements says which in a one-to-one chat by naming it first
(`plant-6205: 6205 库存 45`), or by the proposal the message or button is about; otherwise they
are asked.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from bot.config import AgreementConfig, Config, Member
from bot.services import announce
from handlers.incoming import Incoming

# A proposal, a statement or an overstock alert named in a message ("确认 P3", "ship p12 明天",
# "确认对账 S2", "退货 O2 20"): its agreement is the message's.
PROPOSAL_ID = re.compile(r"(?<![A-Za-z0-9])([PpSsOo])(\d{1,9})(?!\d)")
# The agreement named first, as "plant-6205:" or with a full-width colon.
NAMED_FIRST = re.compile(r"^\s*([^\s:：]{1,64})\s*[:：]\s*")


@dataclass(frozen=True)
class Placement:
    """Where a message belongs: an agreement and the text to read (without the agreement's
    name, when it was named first), or why not (`refusal`, with the chat's agreement when the
    chat has one that is not the sender's)."""

    agreement: AgreementConfig | None
    text: str
    refusal: str = ""  # "not_this_agreement" | "which_agreement" | "unknown_member"
    chat_agreement: AgreementConfig | None = None


def place(
    config: Config,
    member: Member,
    incoming: Incoming,
    agreement_of_proposal: Callable[[str], str | None],
) -> Placement:
    """The agreement `incoming` belongs to for `member`; `agreement_of_proposal` names the
    agreement of a stored proposal (`P3`), statement (`S2`) or overstock alert (`O2`), or None
    when there is none."""
    mine = config.agreements_of(member)
    text = incoming.text
    platform = incoming.platform
    # the platform's chats, indexed once per configuration (and per registered audience)
    chats = config.index(
        f"group chats {platform} {id(announce.audience_of(platform))}",
        lambda config: _group_chats(config, platform),
    )
    chat_agreement = chats.get(incoming.chat)
    if chat_agreement is not None:
        if any(a.id == chat_agreement.id for a in mine):
            return _read(chat_agreement, text)
        return Placement(None, text, "not_this_agreement", chat_agreement)
    if not mine:
        return Placement(None, text, "unknown_member")
    if len(mine) == 1:
        return _read(mine[0], text)
    named = NAMED_FIRST.match(text)
    if named:
        chosen = next((a for a in mine if a.id.casefold() == named.group(1).casefold()), None)
        if chosen is not None:
            return _read(chosen, text)
    proposal = incoming.button.value.partition("@")[0].partition("~")[0] if incoming.button else ""
    if not proposal:
        found = PROPOSAL_ID.search(text)
        proposal = f"{found.group(1).upper()}{found.group(2)}" if found else ""
    if proposal:
        owner = agreement_of_proposal(proposal)
        chosen = next((a for a in mine if a.id == owner), None)
        if chosen is not None:
            return Placement(chosen, text)
    return Placement(None, text, "which_agreement")


def _group_chats(config: Config, platform: str) -> dict[str, AgreementConfig]:
    """The platform's group chats and the agreement each belongs to (the first, as before)."""
    chats: dict[str, AgreementConfig] = {}
    for agreement in config.agreements:
        chat = announce.group_chat(platform, agreement)
        if chat is not None:
            chats.setdefault(chat, agreement)
    return chats


def _read(agreement: AgreementConfig, text: str) -> Placement:
    """`agreement`, and the text without its name when the message named it first."""
    named = NAMED_FIRST.match(text)
    if named and named.group(1).casefold() == agreement.id.casefold():
        text = text[named.end() :]
    return Placement(agreement, text)
