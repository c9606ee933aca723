"""Read the agreement file, validate it and build the Config; every problem at once.

Each problem is one line, `<file>: <key path>: <why>`, and all of them are raised together in
a ConfigError, so a user fixes the whole file in one go instead of one mistake per start. The
models in `schema` find the values that are wrong on their own, and pydantic's errors are
worded here for the person editing the file; a short pass then checks how the accepted values
relate: ids used once, parties that exist and fit, names unique in an agreement, min within max.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import rtoml
from annotated_types import Ge, Le
from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from bot.config.locate import CONFIG_ENV
from bot.config.model import PLATFORMS, AgreementConfig, BotSettings, Config, Member, Party, norm
from bot.config.schema import TABLES, AgreementFile, AgreementTable, got, show
from vmi_rules.terms import AgreementTerms, Item, ReminderTimes

Loc = tuple[str | int, ...]
Problem = tuple[Loc, str]

# Which party role each member role belongs to; admin may belong to either party or none.
MEMBER_PARTY_ROLE = {"warehouse": "customer", "buyer": "customer", "supplier": "supplier"}
# What a value of the wrong type should have been, by pydantic's error type.
_EXPECTED = {
    "string_type": "a string",
    "int_type": "a whole number",
    "bool_type": "true or false",
    "list_type": "an array of strings",  # arrays of tables are worded apart
}


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
    data = _parse_toml(text, path)
    file: AgreementFile | None = None
    problems: list[Problem] = []
    try:
        file = AgreementFile.model_validate(data)
    except ValidationError as exc:
        problems = [(tuple(e["loc"]), _why(e)) for e in exc.errors(include_url=False)]
    problems += _relations(_Accepted(data, {loc for loc, _ in problems}))
    if problems or file is None:
        problems.sort(key=lambda problem: _position(data, problem[0]))
        raise ConfigError(f"{path}: {key_path(loc)}: {why}" for loc, why in problems)
    return _build(file, Path(path))


def _parse_toml(text: str, path: Path | str) -> dict[str, Any]:
    """The TOML text as dicts and lists: read by rtoml (Rust, fast for 10,000 agreements); a
    text it refuses is read again by tomllib, whose error says the line and what to fix."""
    try:
        return dict(rtoml.loads(text))
    except rtoml.TomlParsingError:
        pass
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: TOML syntax error: {exc}"]) from None


def key_path(loc: Loc) -> str:
    """A location as the user finds it in the file: agreements[0].items[1].min."""
    return "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" if i else part
        for i, part in enumerate(loc)
    )


def _header(loc: Loc) -> tuple[str, ...]:
    """A location as a TOML table header: agreements[0].items -> ("agreements", "items")."""
    return tuple(part for part in loc if isinstance(part, str))


def _field(loc: Loc) -> FieldInfo | None:
    """The model field at `loc`, when `loc` names a key of a table."""
    model = TABLES.get(_header(loc[:-1]))
    if model is None or not loc or not isinstance(loc[-1], str):
        return None
    return model.model_fields.get(loc[-1])


def _suggest(word: str, known: list[str], listing: str) -> str:
    """A near miss as "did you mean 'x'?", else the list of what is known."""
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else f"{listing}: {', '.join(known)}"


def _why(error: ErrorDetails) -> str:
    """One pydantic error in the file editor's words."""
    loc, value, type_ = tuple(error["loc"]), error["input"], error["type"]
    field = _field(loc)
    note = field.description if field else None
    table = _header(loc)
    if type_ == "literal_error" and not isinstance(value, str):
        type_ = "string_type"  # role = 7: the type is wrong before the choice is
    if type_ == "missing":
        return f"missing (required); {note}" if note else "missing (required)"
    if type_ == "extra_forbidden":
        known = list(TABLES[_header(loc[:-1])].model_fields)
        return f"unknown key, {_suggest(str(loc[-1]), known, 'accepted keys')}"
    if type_ in ("greater_than_equal", "less_than_equal"):
        return _out_of_range(value, field)
    if type_ == "literal_error":
        choices = ", ".join(re.findall(r"'([^']*)'", str(error.get("ctx", {}).get("expected"))))
        what = "party role" if table == ("parties", "role") else loc[-1]
        return f"unknown {what} {show(value)}; use {choices}"
    if type_ == "model_type":
        where = "a table" if isinstance(loc[-1], int) else f"a [{'.'.join(table)}] table"
        return f"expected {where}, got {got(value)}"
    if type_ in ("list_type", "too_short") and table in TABLES:
        header = ".".join(table)
        if type_ == "too_short":
            return f"no {loc[-1]}; add at least one [[{header}]] table"
        if isinstance(value, dict):  # the usual slip: [parties] where [[parties]] was meant
            return f"write [[{header}]] (double brackets), not [{header}]"
        return f"expected [[{header}]] tables, got {got(value)}"
    if type_.endswith("_type"):
        expected = f"expected {_EXPECTED[type_]}" if type_ in _EXPECTED else error["msg"]
        return f"{expected}, got {got(value)}"
    return error["msg"]  # our own wording (schema's custom errors) or pydantic's


def _out_of_range(value: object, field: FieldInfo | None) -> str:
    """A number outside its field's bounds, with both bounds when it has two."""
    bounds = field.metadata if field else []
    low = next((b.ge for b in bounds if isinstance(b, Ge)), 0)
    high = next((b.le for b in bounds if isinstance(b, Le)), None)
    note = f" ({field.description})" if field and field.description else ""
    if high is not None:
        return f"{show(value)} is out of range; use {low} to {high}{note}"
    why = "is negative; use 0 or more" if low == 0 else f"is too small; use {low} or more"
    return f"{show(value)} {why}{note}"


def _value(data: dict[str, object], loc: Loc) -> object:
    """The parsed value at `loc`, right or wrong; None when the file has none (TOML has no null)."""
    node: object = data
    for part in loc:
        node = _step(node, part)
    return node


def _step(node: object, part: str | int) -> object:
    """The value under `part` of a table or array, or None."""
    if isinstance(node, dict) and isinstance(part, str):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and part < len(node):
        return node[part]
    return None


def _position(data: dict[str, object], loc: Loc) -> list[int]:
    """Where `loc` is in the file, to list problems from the top down."""
    place: list[int] = []
    for n, part in enumerate(loc):
        parent = _value(data, loc[:n])
        if isinstance(parent, dict) and part in parent:
            place.append(list(parent).index(part))
        elif isinstance(parent, list) and isinstance(part, int) and part < len(parent):
            place.append(part)
        else:
            break  # a missing key comes first in its table
    return place


class _Accepted:
    """The parsed file, read only where validation found nothing wrong.

    Strict models take every value as written, so a value read here is the value the models
    accepted; reading them this way lets the relations be checked in a file with mistakes
    elsewhere, and every problem is reported at once.
    """

    def __init__(self, data: dict[str, object], bad: set[Loc]) -> None:
        self.data = data
        self.bad = bad
        self._tables: dict[Loc, object] = {(): data}  # a table's value by its location

    def _table(self, loc: Loc) -> object:
        """The value at `loc`, remembered: 100,000 items read their keys without a walk each."""
        if loc in self._tables:
            return self._tables[loc]
        value = self._tables[loc] = _step(self._table(loc[:-1]), loc[-1])
        return value

    def given(self, loc: Loc) -> bool:
        """Whether the file has a value at `loc`, right or wrong."""
        return _value(self.data, loc) is not None

    def get(self, loc: Loc) -> object:
        """The value at `loc`, or None when it is missing or has a problem."""
        if self.bad and any(loc[:n] in self.bad for n in range(1, len(loc) + 1)):
            return None
        if not loc:
            return self.data
        return _step(self._table(loc[:-1]), loc[-1])

    def text(self, loc: Loc) -> str | None:
        value = self.get(loc)
        return value if isinstance(value, str) and value else None  # "": not set

    def whole(self, loc: Loc) -> int | None:
        value = self.get(loc)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def entries(self, loc: Loc) -> list[Loc]:
        value = self.get(loc)
        return [(*loc, i) for i in range(len(value))] if isinstance(value, list) else []


def _relations(view: _Accepted) -> list[Problem]:
    """How the accepted values relate: ids, parties and their roles, names, min and max."""
    problems: list[Problem] = []
    for table in ("parties", "members", "agreements"):
        problems += _duplicate_ids(view, table)
    roles: dict[str, str | None] = {}  # party id -> its role (None: the role itself is wrong)
    for party in view.entries(("parties",)):
        if (pid := view.text((*party, "id"))) is not None:
            roles.setdefault(pid, view.text((*party, "role")))
    problems += _members(view, roles)
    for agreement in view.entries(("agreements",)):
        for side in ("customer", "supplier"):
            pid = view.text((*agreement, side))
            if pid is not None and pid not in roles:
                problems.append(((*agreement, side), _unknown_party(pid, roles)))
            elif pid is not None and roles[pid] not in (None, side):
                why = f"party {show(pid)} is a {roles[pid]}; the {side} must be a party with role"
                problems.append(((*agreement, side), f"{why} {side}"))
        problems += _items(view, agreement)
    return problems


def _duplicate_ids(view: _Accepted, table: str) -> Iterator[Problem]:
    """An id used by an earlier entry of the same table."""
    first: dict[str, Loc] = {}
    for entry in view.entries((table,)):
        ident = view.text((*entry, "id"))
        if ident is not None and first.setdefault(ident, entry) != entry:
            why = f"duplicate id {show(ident)}, already used by {key_path(first[ident])}"
            yield (*entry, "id"), why


def _unknown_party(pid: str, roles: dict[str, str | None]) -> str:
    """A party reference that names no party, with the nearest one or the list."""
    hint = _suggest(pid, list(roles), "known parties") if roles else "no [[parties]] are defined"
    return f"unknown party {show(pid)}; {hint}"


def _members(view: _Accepted, roles: dict[str, str | None]) -> Iterator[Problem]:
    """Each member's party fits its role, and each platform id names one person."""
    taken: dict[tuple[str, str], str] = {}  # (platform, id) -> who has it
    for member in view.entries(("members",)):
        role = view.text((*member, "role"))
        wanted = MEMBER_PARTY_ROLE.get(role or "")
        party = view.text((*member, "party"))
        if party is None and wanted and not view.given((*member, "party")):
            yield (*member, "party"), "missing (required); only an admin may have no party"
        elif party is not None and party not in roles:
            yield (*member, "party"), _unknown_party(party, roles)
        elif party is not None and wanted and roles[party] not in (None, wanted):
            why = f"but party {show(party)} is a {roles[party]}"
            yield (*member, "role"), f"a {role} must belong to a {wanted} party, {why}"
        mid = view.text((*member, "id"))
        who = f"{key_path(member)} ({mid})" if mid else key_path(member)
        for platform in PLATFORMS:
            pid = view.text((*member, platform))
            # One id for two people would hand one person's messages to the other.
            if pid is not None and taken.setdefault((platform, pid), who) != who:
                why = f"{platform} id {show(pid)} is already used by {taken[(platform, pid)]}"
                yield (*member, platform), why


def _items(view: _Accepted, agreement: Loc) -> Iterator[Problem]:
    """An agreement's skus and aliases each name one item; min, max and moq fit together."""
    first: dict[str, tuple[Loc, Loc]] = {}  # normalized name -> (its item, its key)
    for item in view.entries((*agreement, "items")):
        for loc in [(*item, "sku"), *view.entries((*item, "aliases"))]:
            name = view.text(loc)
            if name is None:
                continue
            owner, where = first.setdefault(norm(name), (item, loc))
            # The same name twice inside one item is harmless; across items it is ambiguous.
            if owner != item:
                yield loc, f"{show(name)} is already used by {key_path(where)} in this agreement"
        low, high, moq = (view.whole((*item, key)) for key in ("min", "max", "moq"))
        if low is not None and high is not None and low > high:
            yield (*item, "min"), f"{low} is above max {high}"
        # Rounding down never goes over max, so an moq above max could never be ordered.
        down = view.text((*item, "rounding")) == "down"
        if down and moq is not None and high is not None and moq > high:
            why = f'{moq} is above max {high} with rounding = "down": no order could ever be'
            yield (*item, "moq"), f'{why} proposed; lower moq or use rounding = "up"'


def _build(file: AgreementFile, path: Path) -> Config:
    """The Config the bot reads, from a file that passed every check."""
    bot = BotSettings(file.bot.timezone, file.bot.locale)
    parties = tuple(Party(p.id, p.name, p.role) for p in file.parties)
    members = tuple(
        Member(
            m.id,
            m.name,
            m.party,
            m.role,
            m.console,
            m.slack,
            m.wecom,
            m.locale,
            dingtalk=m.dingtalk,
            feishu=m.feishu,
        )
        for m in file.members
    )
    return Config(path, bot, parties, members, tuple(_agreement(a, bot) for a in file.agreements))


def _agreement(a: AgreementTable, bot: BotSettings) -> AgreementConfig:
    """One agreement, its items mapped onto vmi_rules terms."""
    items = tuple(
        Item(
            sku=i.sku,
            name=i.name,
            name_en=i.name_en or "",
            min=i.min,
            max=i.max,
            unit=i.unit,
            aliases=tuple(i.aliases),
            pack_size=i.pack_size,
            moq=i.moq,
            rounding=i.rounding,
            unit_price=i.unit_price,
            lead_time_days=i.lead_time_days,
        )
        for i in a.items
    )
    terms = AgreementTerms(
        review_every_days=a.review_every_days,
        plan_due_day=a.plan_due_day,
        settlement_day=a.settlement_day,
        overstock_days=a.overstock_days,
        emergency_notice_hours=a.emergency_notice_hours,
        emergency_freight_customer_share=a.emergency_freight_customer_share,
        reminders=ReminderTimes(**a.reminders.model_dump()),
        service_level=a.service_level,
        items=items,
    )
    return AgreementConfig(
        id=a.id,
        customer=a.customer,
        supplier=a.supplier,
        timezone=a.timezone or bot.timezone,
        review_time=a.review_time,
        terms=terms,
        slack_channel=a.slack_channel,
        wecom_chat=a.wecom_chat,
        wecom_webhook_key=a.wecom_webhook_key,
        dingtalk_chat=a.dingtalk_chat,
        dingtalk_webhook=a.dingtalk_webhook,
        dingtalk_webhook_secret=a.dingtalk_webhook_secret,
        feishu_chat=a.feishu_chat,
        wecom_robot_chat=a.wecom_robot_chat,
        wecom_smartsheet=a.wecom_smartsheet,
    )
