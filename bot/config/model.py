"""The loaded configuration, as the rest of the bot reads it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import time
from pathlib import Path
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from vmi_rules.amendments import Source
from vmi_rules.terms import AgreementTerms, Item

PLATFORMS = ("console", "slack", "wecom", "feishu", "dingtalk")
T = TypeVar("T")  # what a configuration's index holds
DEFAULT_REVIEW_TIME = time(8, 0)
# platforms that know people by another platform's ids: the WeCom intelligent robot by `wecom`
ID_FROM = {"wecom_robot": "wecom"}


def norm(name: str) -> str:
    """Sku and alias form for comparing: no spaces, case folded."""
    return "".join(name.split()).casefold()


@dataclass(frozen=True)
class BotSettings:
    """Bot-wide settings from `[bot]`."""

    timezone: str = "Asia/Shanghai"
    locale: str = "zh"


@dataclass(frozen=True)
class Party:
    """A company in an agreement: the customer (客户) or a supplier (供应商)."""

    id: str
    name: str
    role: str


@dataclass(frozen=True)
class Member:
    """A person the bot talks to, with a role and an id per chat platform."""

    id: str
    name: str
    party: str | None
    role: str
    console: str | None = None
    slack: str | None = None
    wecom: str | None = None
    locale: str | None = None
    dingtalk: str | None = None  # the person's staffId (userid) in the DingTalk organisation
    feishu: str | None = None  # the person's open_id (ou_…) in the bot's Feishu app


@dataclass(frozen=True)
class AgreementConfig:
    """One VMI agreement (VMI 协议): its two parties, terms, schedule and the chats it lives in."""

    id: str
    customer: str
    supplier: str
    timezone: str
    review_time: time
    terms: AgreementTerms
    slack_channel: str | None = None
    wecom_chat: str | None = None
    wecom_webhook_key: str | None = None
    dingtalk_chat: str | None = None  # the group's openConversationId
    dingtalk_webhook: str | None = None  # a custom group robot's URL: push-only fallback
    dingtalk_webhook_secret: str | None = None  # its 加签 secret (SEC...)
    feishu_chat: str | None = None  # the Feishu group's chat_id (oc_…)
    wecom_robot_chat: str | None = None  # the group's chatid the WeCom intelligent robot is in
    wecom_smartsheet: bool = False  # the stock rows mirrored to a WeCom smart sheet (智能表格)
    # where each item's min, max, pack size and MOQ come from, once amendments are applied
    # (bot.services.terms.effective); empty: all from the file
    term_sources: tuple[tuple[str, Source], ...] = ()
    file_terms: AgreementTerms | None = None  # the file's own terms, once amendments apply

    def file_item(self, sku: str) -> Item | None:
        """The item as the agreement file has it, before any amendment."""
        return (self.file_terms or self.terms).item(sku)

    def sources_of(self, sku: str) -> tuple[Source, ...]:
        """Where this item's amendable figures come from (none listed: the file)."""
        return tuple(source for of, source in self.term_sources if of == sku)

    @property
    def items(self) -> tuple[Item, ...]:
        """The items kept under this agreement."""
        return self.terms.items

    def item(self, sku: str) -> Item | None:
        """The item with this sku; failing that, the one whose sku or alias matches loosely.

        The loose match ignores case and spaces, the same rule that keeps skus and aliases
        unique in the file, so at most one item can match.
        """
        exact = self.terms.item(sku)
        if exact is not None:
            return exact
        key = norm(sku)
        for item in self.terms.items:
            if key == norm(item.sku) or any(key == norm(a) for a in item.aliases):
                return item
        return None

    @property
    def tz(self) -> ZoneInfo:
        """The agreement's time zone, for its schedule and dates."""
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Config:
    """The whole loaded configuration."""

    path: Path
    bot: BotSettings
    parties: tuple[Party, ...]
    members: tuple[Member, ...]
    agreements: tuple[AgreementConfig, ...]

    def party(self, id: str) -> Party | None:
        """The party with this id, or None."""
        return self.index("parties", lambda c: {p.id: p for p in reversed(c.parties)}).get(id)

    def member(self, id: str) -> Member | None:
        """The member with this id, or None."""
        # reversed: where two share an id (the loader refuses that), the first in the file wins
        return self.index("members", lambda c: {m.id: m for m in reversed(c.members)}).get(id)

    def agreement(self, id: str) -> AgreementConfig | None:
        """The agreement with this id, or None."""
        return self.index("agreements", _by_id).get(id)

    def only(self, ids: Iterable[str]) -> Config:
        """This configuration with only the agreements of `ids` that it has (in file order)."""
        wanted = set(ids)
        return replace(self, agreements=tuple(a for a in self.agreements if a.id in wanted))

    def index(self, name: str, build: Callable[[Config], T]) -> T:
        """A look-up built from this configuration once, then kept with it (`name` tells them
        apart): 10,000 agreements are not searched one by one for every message."""
        kept: dict[str, Any] = self.__dict__.setdefault("_indexes", {})  # not a field: frozen
        if name not in kept:
            kept[name] = build(self)
        return cast(T, kept[name])

    def member_by_platform(self, platform: str, platform_id: str) -> Member | None:
        """The member whose id on `platform` (one of `PLATFORMS`, or of `ID_FROM`) is
        `platform_id`."""
        if platform not in PLATFORMS and platform not in ID_FROM:
            # A wrong platform name is a bug in the caller, not an unknown user.
            raise ValueError(f"unknown platform {platform!r}; use one of {', '.join(PLATFORMS)}")
        field = ID_FROM.get(platform, platform)
        return self.index(f"members by {field}", lambda c: _members_by(c, field)).get(platform_id)

    def agreements_of(self, member: Member) -> tuple[AgreementConfig, ...]:
        """The agreements the member takes part in: all of them for an admin without a party."""
        if member.party is None:
            return self.agreements if member.role == "admin" else ()
        return self.index("agreements by party", _by_party).get(member.party, ())


def _by_id(config: Config) -> dict[str, AgreementConfig]:
    return {a.id: a for a in config.agreements}


def _members_by(config: Config, field: str) -> dict[str, Member]:
    """Members by their id in `field`; the first in the file where two share one."""
    found: dict[str, Member] = {}
    for m in config.members:
        found.setdefault(getattr(m, field), m)
    return found


def _by_party(config: Config) -> dict[str, tuple[AgreementConfig, ...]]:
    """Each party's agreements, in file order (customer and supplier alike)."""
    found: dict[str, list[AgreementConfig]] = {}
    for a in config.agreements:
        for party in dict.fromkeys((a.customer, a.supplier)):
            found.setdefault(party, []).append(a)
    return {party: tuple(agreements) for party, agreements in found.items()}
