"""One turn of the conversation: everything an incoming message is handled with, in one
transaction. Its own module, so that the intents and the conversation both import it and
neither imports the other."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot.config import AgreementConfig, Config, Member
from bot.services.sheet_links import SheetLinks
from handlers.incoming import Incoming
from messages.cards import Card
from messages.render import render_card
from vmi_rules.proposal import Actor


@dataclass
class Turn:
    """Everything one incoming message is handled with, in one transaction."""

    session: Session
    config: Config
    incoming: Incoming
    member: Member
    agreement: AgreementConfig
    locale: str
    platforms: frozenset[str]
    inbox_id: int
    links: SheetLinks | None = None  # the sheet's signed links, when the page is set up

    @property
    def now(self) -> datetime:
        """When it was said."""
        return self.incoming.at

    @property
    def actor(self) -> Actor:
        """The member as the rules see them."""
        return Actor(self.member.id, self.member.name, self.member.role)

    def card(self, name: str, **context: Any) -> Card:
        """A card from the templates in this member's language."""
        return render_card(name, self.locale, **context)

    def refuse(self, reason: str, **context: Any) -> Card:
        """A refusal card: why, and what to type instead."""
        defaults = {"detail": "", "example": "", "items": item_labels(self.agreement, self.locale),
                    "missing": "", "open_ids": []}  # fmt: skip
        return self.card("refusal", reason=reason, **{**defaults, **context})


def item_labels(agreement: AgreementConfig, locale: str = "zh") -> list[str]:
    """How the items are listed to people: sku and name (in `locale`)."""
    names = [(i.sku, i.name_in(locale)) for i in agreement.items]
    return [sku if name.startswith(sku) else f"{sku} {name}" for sku, name in names]
