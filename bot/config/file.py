"""Load and check the bot's TOML configuration: parties, members, agreements and their items.

The file is read with `tomllib` and checked by hand, section by section. Every problem found
becomes one line, `<file>: <key path>: <why>`, and all of them are raised together in a
`ConfigError`, so a user fixes the whole file in one go instead of one mistake per start.
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import time
from decimal import Decimal
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from vmi_rules.terms import ROLES, AgreementTerms, Item, Rounding

DEFAULT_CONFIG = Path("config/example.toml")
CONFIG_ENV = "VMI_CONFIG"

LOCALES = ("zh", "en")
PARTY_ROLES = ("customer", "supplier")
PLATFORMS = ("console", "slack", "wecom")
ROUNDINGS = ("up", "down")
# Which party role each member role belongs to; admin may belong to either party or none.
MEMBER_PARTY_ROLE = {"warehouse": "customer", "buyer": "customer", "supplier": "supplier"}

_BOT_KEYS = ("timezone", "locale")
_PARTY_KEYS = ("id", "name", "role")
_MEMBER_KEYS = ("id", "name", "party", "role", *PLATFORMS, "locale")
_AGREEMENT_KEYS = (
    "id",
    "customer",
    "supplier",
    "timezone",
    "review_time",
    "review_every_days",
    "plan_due_day",
    "settlement_day",
    "overstock_days",
    "emergency_notice_hours",
    "emergency_freight_customer_share",
    "slack_channel",
    "wecom_chat",
    "wecom_webhook_key",
    "items",
)
_ITEM_KEYS = (
    "sku",
    "name",
    "aliases",
    "unit",
    "min",
    "max",
    "pack_size",
    "moq",
    "rounding",
    "unit_price",
    "lead_time_days",
)
_TOP_KEYS = ("bot", "parties", "members", "agreements")

_CHAT_KEYS = ("slack_channel", "wecom_chat", "wecom_webhook_key")
DEFAULT_REVIEW_TIME = time(8, 0)
_REVIEW_TIME = re.compile(r"(\d{1,2}):(\d{2})")
_MISSING = object()


def resolve_config_path(arg: str | None, from_env: str | None = None) -> Path:
    """The configuration file to use: `--config PATH`, else `$VMI_CONFIG` (`from_env`, as the
    settings read it), else the example."""
    if arg:
        return Path(arg)
    if from_env:
        return Path(from_env)
    return DEFAULT_CONFIG


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
        key = _norm(sku)
        for item in self.terms.items:
            if key == _norm(item.sku) or any(key == _norm(a) for a in item.aliases):
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
        return next((p for p in self.parties if p.id == id), None)

    def member(self, id: str) -> Member | None:
        """The member with this id, or None."""
        return next((m for m in self.members if m.id == id), None)

    def agreement(self, id: str) -> AgreementConfig | None:
        """The agreement with this id, or None."""
        return next((a for a in self.agreements if a.id == id), None)

    def member_by_platform(self, platform: str, platform_id: str) -> Member | None:
        """The member whose id on `platform` ("console", "slack" or "wecom") is `platform_id`."""
        if platform not in PLATFORMS:
            # A wrong platform name is a bug in the caller, not an unknown user.
            raise ValueError(f"unknown platform {platform!r}; use one of {', '.join(PLATFORMS)}")
        return next((m for m in self.members if getattr(m, platform) == platform_id), None)

    def agreements_of(self, member: Member) -> tuple[AgreementConfig, ...]:
        """The agreements the member takes part in: all of them for an admin without a party."""
        if member.party is None:
            return self.agreements if member.role == "admin" else ()
        return tuple(a for a in self.agreements if member.party in (a.customer, a.supplier))


class ConfigError(Exception):
    """A configuration that cannot be used; `problems` holds one line per mistake."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems: list[str] = list(problems)
        super().__init__("\n".join(self.problems))

    def __str__(self) -> str:
        return "\n".join(self.problems)


def load_config(path: Path | str) -> Config:
    """Read and check the configuration file at `path`; raise ConfigError listing every problem."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            [f"{path}: file not found (choose a file with --config PATH or ${CONFIG_ENV})"]
        ) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read the file: {exc.strerror or exc}"]) from None
    try:
        # utf-8-sig: files saved by Windows editors often start with a byte-order mark.
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            [f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8"]
        ) from None
    return parse_config(text, path)


def parse_config(text: str, path: Path | str = "<string>") -> Config:
    """Check TOML `text` as if read from `path`; raise ConfigError listing every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: TOML syntax error: {exc}"]) from None
    return _Loader(str(path)).load(data, Path(path))


def _norm(name: str) -> str:
    """Sku and alias form for comparing: no spaces, case folded."""
    return "".join(name.split()).casefold()


def _show(value: Any) -> str:
    """A value as the user would write it in TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return str(value)


def _kind(value: Any) -> str:
    """The TOML type name of a parsed value."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "table"
    return "date/time"


def _one_of(choices: Iterable[str]) -> str:
    """Choices as a readable list."""
    return ", ".join(choices)


def _is_count(value: Any) -> bool:
    """Whether a raw TOML value is a usable whole number (not a bool, not negative)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _header(key: str) -> str:
    """A key path as a TOML table header: agreements[0].items -> agreements.items."""
    return re.sub(r"\[\d+\]", "", key)


class _Loader:
    """Walks the parsed TOML, collecting problems and building the config objects.

    Every getter returns a usable placeholder after recording a problem, so checking goes on
    to the end of the file; `load` raises once at the end if anything was recorded.
    """

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[str] = []

    def problem(self, key: str, why: str) -> None:
        """Record one problem at the key path `key`."""
        self.problems.append(f"{self.file}: {key}: {why}")

    def load(self, data: dict[str, Any], path: Path) -> Config:
        """Check the whole document and build the Config, or raise ConfigError."""
        self.unknown_keys(data, _TOP_KEYS, "")
        bot = self.bot(data.get("bot", {}))
        parties = self.parties(self.tables(data, "parties", ""))
        members = self.members(self.tables(data, "members", ""), parties)
        agreements = self.agreements(self.tables(data, "agreements", ""), parties, bot)
        if data.get("agreements", []) == []:
            self.problem("agreements", "no agreement; add at least one [[agreements]] table")
        if self.problems:
            raise ConfigError(self.problems)
        return Config(path, bot, parties, members, agreements)

    # ---- generic checks ----

    def unknown_keys(self, table: dict[str, Any], known: tuple[str, ...], prefix: str) -> None:
        """Report keys that are not in `known`, suggesting the closest one."""
        for key in table:
            if key in known:
                continue
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"accepted keys: {_one_of(known)}"
            self.problem(f"{prefix}{key}", f"unknown key, {hint}")

    def tables(self, data: dict[str, Any], name: str, prefix: str) -> list[tuple[str, dict]]:
        """The array of tables `name` as (key path, table) pairs; other shapes are problems."""
        key = f"{prefix}{name}"
        value = data.get(name, [])
        if isinstance(value, dict):
            # The usual slip: [parties] where [[parties]] was meant.
            self.problem(key, f"write [[{_header(key)}]] (double brackets), not [{_header(key)}]")
            return []
        if not isinstance(value, list):
            self.problem(key, f"expected [[{_header(key)}]] tables, got {_kind(value)}")
            return []
        out = []
        for i, entry in enumerate(value):
            if isinstance(entry, dict):
                out.append((f"{key}[{i}]", entry))
            else:
                self.problem(f"{key}[{i}]", f"expected a table, got {_kind(entry)} {_show(entry)}")
        return out

    def string(
        self, table: dict[str, Any], key: str, where: str, *, required: bool = False
    ) -> str | None:
        """A non-empty string, or None when missing or wrong (a problem when required)."""
        value = table.get(key, _MISSING)
        if value is _MISSING:
            if required:
                self.problem(f"{where}.{key}", "missing (required)")
            return None
        if not isinstance(value, str):
            self.problem(f"{where}.{key}", f"expected a string, got {_kind(value)} {_show(value)}")
            return None
        if not value.strip():
            self.problem(f"{where}.{key}", "must not be empty")
            return None
        return value

    def optional_id(self, table: dict[str, Any], key: str, where: str) -> str | None:
        """A platform id or chat: "" in the file means not set."""
        if table.get(key) == "":
            return None
        return self.string(table, key, where)

    def ident(self, table: dict[str, Any], where: str) -> str | None:
        """A required `id`, without spaces since people type it (`/as keeper`)."""
        value = self.string(table, "id", where, required=True)
        if value is not None and any(ch.isspace() for ch in value):
            self.problem(f"{where}.id", f"{_show(value)} must not contain spaces")
        return value

    def choice(
        self,
        table: dict[str, Any],
        key: str,
        where: str,
        choices: tuple[str, ...],
        what: str,
        *,
        required: bool = False,
    ) -> str | None:
        """A string that must be one of `choices`; None when missing or wrong."""
        value = self.string(table, key, where, required=required)
        if value is not None and value not in choices:
            self.problem(f"{where}.{key}", f"unknown {what} {_show(value)}; use {_one_of(choices)}")
            return None
        return value

    def whole(
        self,
        table: dict[str, Any],
        key: str,
        where: str,
        default: int | None,
        low: int = 0,
        high: int | None = None,
        note: str = "",
    ) -> int:
        """A whole number in low..high; `default=None` makes the key required.

        Floats, strings and booleans are problems (TOML's `true` is not 1 here). A missing
        or wrong value gives the default, or 0 for a required key, so checking can go on.
        """
        fallback = 0 if default is None else default
        value = table.get(key, _MISSING)
        if value is _MISSING:
            if default is None:
                self.problem(f"{where}.{key}", "missing (required)")
            return fallback
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(
                f"{where}.{key}", f"expected a whole number, got {_kind(value)} {_show(value)}"
            )
            return fallback
        if not self.in_range(f"{where}.{key}", value, low, high, note):
            return fallback
        return value

    def number(
        self,
        table: dict[str, Any],
        key: str,
        where: str,
        default: Decimal,
        high: Decimal | None = None,
    ) -> Decimal:
        """A non-negative decimal (an integer or float in the file), up to `high`."""
        value = table.get(key, _MISSING)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(f"{where}.{key}", f"expected a number, got {_kind(value)} {_show(value)}")
            return default
        # Through str so 12.5 stays 12.5 and 0.1 does not become 0.1000000000000000055...
        number = Decimal(str(value))
        if not number.is_finite():
            self.problem(f"{where}.{key}", f"expected a finite number, got {_show(value)}")
            return default
        if not self.in_range(f"{where}.{key}", number, Decimal(0), high, ""):
            return default
        return number

    def in_range(self, key: str, value: Any, low: Any, high: Any, note: str) -> bool:
        """Whether low <= value <= high (no upper bound when high is None); else a problem."""
        if high is not None and not low <= value <= high:
            self.problem(key, f"{value} is out of range; use {low} to {high}{note}")
            return False
        if value < low:
            why = "is negative; use 0 or more" if low == 0 else f"is too small; use {low} or more"
            self.problem(key, f"{value} {why}{note}")
            return False
        return True

    def timezone(self, table: dict[str, Any], where: str, default: str) -> str:
        """An IANA time zone name such as Asia/Shanghai, or `default` when not given."""
        value = self.string(table, "timezone", where)
        if value is None:
            return default
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # "Asia" is a folder: OSError
            self.problem(
                f"{where}.timezone",
                f'unknown time zone {_show(value)}; use an IANA name like "Asia/Shanghai" or "UTC"',
            )
            return default
        return value

    # ---- sections ----

    def bot(self, table: Any) -> BotSettings:
        """The [bot] table."""
        defaults = BotSettings()
        if not isinstance(table, dict):
            self.problem("bot", f"expected a [bot] table, got {_kind(table)} {_show(table)}")
            return defaults
        self.unknown_keys(table, _BOT_KEYS, "bot.")
        return BotSettings(
            timezone=self.timezone(table, "bot", defaults.timezone),
            locale=self.choice(table, "locale", "bot", LOCALES, "locale") or defaults.locale,
        )

    def parties(self, entries: list[tuple[str, dict]]) -> tuple[Party, ...]:
        """The [[parties]] tables; a duplicate id keeps the first."""
        parties: list[Party] = []
        seen: dict[str, str] = {}
        for where, table in entries:
            self.unknown_keys(table, _PARTY_KEYS, f"{where}.")
            pid = self.ident(table, where)
            name = self.string(table, "name", where, required=True)
            role = self.choice(table, "role", where, PARTY_ROLES, "party role", required=True)
            if self.duplicate(pid, where, seen):
                continue
            parties.append(Party(pid or "", name or "", role or ""))
        return tuple(parties)

    def duplicate(self, id: str | None, where: str, seen: dict[str, str]) -> bool:
        """Whether `id` was already used at another key path (then a problem); records it."""
        if id is None:
            return False
        if id in seen:
            self.problem(f"{where}.id", f"duplicate id {_show(id)}, already used by {seen[id]}")
            return True
        seen[id] = where
        return False

    def party_ref(self, pid: str, key: str, parties: tuple[Party, ...]) -> Party | None:
        """The party named at `key`, or None after a problem naming the known parties."""
        party = next((p for p in parties if p.id == pid), None)
        if party is None:
            ids = [p.id for p in parties]
            close = difflib.get_close_matches(pid, ids, n=1, cutoff=0.6)
            if close:
                hint = f"did you mean {close[0]!r}?"
            else:
                hint = f"known parties: {_one_of(ids)}" if ids else "no [[parties]] are defined"
            self.problem(key, f"unknown party {_show(pid)}; {hint}")
        return party

    def members(
        self, entries: list[tuple[str, dict]], parties: tuple[Party, ...]
    ) -> tuple[Member, ...]:
        """The [[members]] tables: roles, parties and platform ids, each id used once."""
        members: list[Member] = []
        seen: dict[str, str] = {}
        # platform -> platform id -> who has it, so a message can't map to two people
        taken: dict[str, dict[str, str]] = {p: {} for p in PLATFORMS}
        for where, table in entries:
            self.unknown_keys(table, _MEMBER_KEYS, f"{where}.")
            mid = self.ident(table, where)
            name = self.string(table, "name", where, required=True)
            role = self.choice(table, "role", where, ROLES, "role", required=True)
            if role in MEMBER_PARTY_ROLE and "party" not in table:
                self.problem(
                    f"{where}.party", "missing (required); only an admin may have no party"
                )
            party_id = self.string(table, "party", where)
            if party_id is not None:
                party = self.party_ref(party_id, f"{where}.party", parties)
                wanted = MEMBER_PARTY_ROLE.get(role or "")
                # A party whose own role is wrong was reported already; don't repeat it per member.
                if party and party.role in PARTY_ROLES and wanted and party.role != wanted:
                    self.problem(
                        f"{where}.role",
                        f"a {role} must belong to a {wanted} party, "
                        f"but party {_show(party.id)} is a {party.role}",
                    )
            ids: dict[str, str | None] = {}
            for platform in PLATFORMS:
                ids[platform] = value = self.optional_id(table, platform, where)
                if value is None:
                    continue
                if value in taken[platform]:
                    self.problem(
                        f"{where}.{platform}",
                        f"{platform} id {_show(value)} is already used by {taken[platform][value]}",
                    )
                else:
                    taken[platform][value] = f"{where} ({mid})" if mid else where
            locale = self.choice(table, "locale", where, LOCALES, "locale")
            if self.duplicate(mid, where, seen):
                continue
            members.append(
                Member(mid or "", name or "", party_id, role or "", locale=locale, **ids)
            )
        return tuple(members)

    def agreements(
        self, entries: list[tuple[str, dict]], parties: tuple[Party, ...], bot: BotSettings
    ) -> tuple[AgreementConfig, ...]:
        """The [[agreements]] tables with their terms and items."""
        agreements: list[AgreementConfig] = []
        seen: dict[str, str] = {}
        for where, table in entries:
            self.unknown_keys(table, _AGREEMENT_KEYS, f"{where}.")
            aid = self.ident(table, where)
            customer = self.side(table, "customer", where, parties)
            supplier = self.side(table, "supplier", where, parties)
            zone = self.timezone(table, where, bot.timezone)
            review_time = self.review_time(table, where)
            terms = self.terms(table, where)
            chats = {key: self.optional_id(table, key, where) for key in _CHAT_KEYS}
            if self.duplicate(aid, where, seen):
                continue
            agreements.append(
                AgreementConfig(
                    aid or "", customer or "", supplier or "", zone, review_time, terms, **chats
                )
            )
        return tuple(agreements)

    def terms(self, table: dict[str, Any], where: str) -> AgreementTerms:
        """An agreement's numbers and its items."""
        d = AgreementTerms()
        # Days 29-31 are missing from some months, so a monthly date stops at 28.
        day_note = " (a day of the month; 29-31 are not in every month)"
        return AgreementTerms(
            review_every_days=self.whole(
                table, "review_every_days", where, d.review_every_days, low=1
            ),
            plan_due_day=self.whole(table, "plan_due_day", where, d.plan_due_day, 1, 28, day_note),
            settlement_day=self.whole(
                table, "settlement_day", where, d.settlement_day, 1, 28, day_note
            ),
            overstock_days=self.whole(table, "overstock_days", where, d.overstock_days),
            emergency_notice_hours=self.whole(
                table, "emergency_notice_hours", where, d.emergency_notice_hours
            ),
            emergency_freight_customer_share=self.number(
                table,
                "emergency_freight_customer_share",
                where,
                d.emergency_freight_customer_share,
                high=Decimal(1),
            ),
            items=self.items(table, where),
        )

    def side(
        self, table: dict[str, Any], key: str, where: str, parties: tuple[Party, ...]
    ) -> str | None:
        """The agreement's `customer` or `supplier`: a known party with that role."""
        pid = self.string(table, key, where, required=True)
        if pid is None:
            return None
        party = self.party_ref(pid, f"{where}.{key}", parties)
        if party is not None and party.role in PARTY_ROLES and party.role != key:
            self.problem(
                f"{where}.{key}",
                f"party {_show(pid)} is a {party.role}; the {key} must be a party with role {key}",
            )
        return pid

    def review_time(self, table: dict[str, Any], where: str) -> time:
        """When in the day scheduled reviews run: "HH:MM" (a TOML local time works too)."""
        value = table.get("review_time", _MISSING)
        if value is _MISSING:
            return DEFAULT_REVIEW_TIME
        if isinstance(value, time):
            return value
        match = _REVIEW_TIME.fullmatch(value.strip()) if isinstance(value, str) else None
        if match and int(match[1]) < 24 and int(match[2]) < 60:
            return time(int(match[1]), int(match[2]))
        self.problem(
            f"{where}.review_time",
            f'expected a time of day "HH:MM" such as "08:00", got {_kind(value)} {_show(value)}',
        )
        return DEFAULT_REVIEW_TIME

    def items(self, agreement: dict[str, Any], where: str) -> tuple[Item, ...]:
        """An agreement's [[agreements.items]]: at least one, no sku or alias twice."""
        if agreement.get("items", []) == []:
            self.problem(f"{where}.items", "no items; add at least one [[agreements.items]] table")
        entries = self.tables(agreement, "items", f"{where}.")
        items = [self.item(table, item_where) for item_where, table in entries]
        self.unique_names(entries, items)
        return tuple(items)

    def item(self, table: dict[str, Any], where: str) -> Item:
        """One [[agreements.items]] table."""
        self.unknown_keys(table, _ITEM_KEYS, f"{where}.")
        low = self.whole(table, "min", where, None)
        high = self.whole(table, "max", where, None)
        # Compare only two usable numbers, so one typo is not reported twice.
        if _is_count(table.get("min")) and _is_count(table.get("max")) and low > high:
            self.problem(f"{where}.min", f"{low} is above max {high}")
        moq = table.get("moq")
        # rounding down never goes over max, so an moq above max could never be ordered
        usable = _is_count(moq) and _is_count(table.get("max"))
        if table.get("rounding") == "down" and usable and moq > high:
            self.problem(
                f"{where}.moq",
                f'{moq} is above max {high} with rounding = "down": no order could ever be '
                'proposed; lower moq or use rounding = "up"',
            )
        return Item(
            sku=self.string(table, "sku", where, required=True) or "",
            name=self.string(table, "name", where, required=True) or "",
            min=low,
            max=high,
            unit=self.string(table, "unit", where) or "件",
            aliases=self.aliases(table, where),
            pack_size=self.whole(table, "pack_size", where, 1, low=1),
            moq=self.whole(table, "moq", where, 0),
            rounding=cast(
                Rounding, self.choice(table, "rounding", where, ROUNDINGS, "rounding") or "up"
            ),
            unit_price=self.number(table, "unit_price", where, Decimal(0)),
            lead_time_days=self.whole(table, "lead_time_days", where, 0),
        )

    def aliases(self, table: dict[str, Any], where: str) -> tuple[str, ...]:
        """Other names people use for the item, as a tuple of non-empty strings."""
        value = table.get("aliases", [])
        if not isinstance(value, list):
            self.problem(
                f"{where}.aliases",
                f"expected an array of strings, got {_kind(value)} {_show(value)}",
            )
            return ()
        for i, alias in enumerate(value):
            if not isinstance(alias, str):
                self.problem(
                    f"{where}.aliases[{i}]", f"expected a string, got {_kind(alias)} {_show(alias)}"
                )
            elif not alias.strip():
                self.problem(f"{where}.aliases[{i}]", "must not be empty")
        return tuple(a for a in value if isinstance(a, str) and a.strip())

    def unique_names(self, entries: list[tuple[str, dict]], items: list[Item]) -> None:
        """No sku or alias may name two items of one agreement (ignoring case and spaces)."""
        owner: dict[str, tuple[int, str]] = {}  # normalized name -> (item index, key path)
        for index, ((where, table), item) in enumerate(zip(entries, items, strict=True)):
            names = [(f"{where}.sku", item.sku)] if item.sku else []
            raw = table.get("aliases", [])
            if isinstance(raw, list):
                names += [
                    (f"{where}.aliases[{k}]", a)
                    for k, a in enumerate(raw)
                    if isinstance(a, str) and a.strip()
                ]
            for key, name in names:
                first = owner.setdefault(_norm(name), (index, key))
                # The same name twice inside one item is harmless; across items it is ambiguous.
                if first[0] != index:
                    self.problem(
                        key, f"{_show(name)} is already used by {first[1]} in this agreement"
                    )
