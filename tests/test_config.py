"""Loading and checking the TOML configuration (bot/config)."""

from __future__ import annotations

from datetime import time
from decimal import Decimal
from pathlib import Path

import pytest

from bot.config import (
    DEFAULT_CONFIG,
    AgreementConfig,
    Config,
    ConfigError,
    load_config,
    parse_config,
    resolve_config_path,
)
from bot.settings import Settings
from vmi_rules.terms import AgreementTerms, Item

EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "example.toml"

# A small valid file; each test breaks one thing in it with `edit`.
BASE = """\
[bot]
timezone = "Asia/Shanghai"
locale = "zh"

[[parties]]
id = "plant"
name = "Plant"
role = "customer"

[[parties]]
id = "bearing-co"
name = "Bearings"
role = "supplier"

[[members]]
id = "keeper"
name = "Keeper"
party = "plant"
role = "warehouse"
console = "keeper"
slack = "U1"
wecom = "w1"

[[members]]
id = "buyer"
name = "Buyer"
party = "plant"
role = "buyer"
console = "buyer"
slack = "U2"
wecom = "w2"

[[members]]
id = "supplier"
name = "Supplier"
party = "bearing-co"
role = "supplier"
console = "supplier"

[[members]]
id = "root"
name = "Root"
role = "admin"
console = "root"

[[agreements]]
id = "plant-6205"
customer = "plant"
supplier = "bearing-co"

[[agreements.items]]
sku = "6205"
name = "6205 bearing"
aliases = ["6205轴承"]
min = 50
max = 100
unit_price = 12.5

[[agreements.items]]
sku = "6206"
name = "6206 bearing"
min = 20
max = 40
unit_price = 8
"""


def edit(old: str, new: str, text: str = BASE) -> str:
    """`text` with `old` replaced once; fails loudly if `old` is not there."""
    assert text.count(old) == 1, f"{old!r} must occur once in the base config"
    return text.replace(old, new)


def problems_in(tmp_path: Path, text: str) -> list[str]:
    """The problems load_config reports for `text` written to a real file."""
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == "\n".join(caught.value.problems)
    return caught.value.problems


def find(problems: list[str], tmp_path: Path, key: str, *why: str) -> str:
    """The one problem line for `key` that mentions every fragment of `why`."""
    prefix = f"{tmp_path / 'bad.toml'}: {key}: "
    lines = [p for p in problems if p.startswith(prefix) and all(w in p for w in why)]
    assert len(lines) == 1, f"no single line {prefix}... with {why} in:\n" + "\n".join(problems)
    return lines[0]


def only(tmp_path: Path, text: str, key: str, *why: str) -> None:
    """`text` has exactly one problem, at `key`, mentioning `why`."""
    problems = problems_in(tmp_path, text)
    find(problems, tmp_path, key, *why)
    assert len(problems) == 1, "\n".join(problems)


# ---- the example file and the loaded objects ----


def test_example_has_the_seed_agreement() -> None:
    config = load_config(EXAMPLE)
    assert config.bot.timezone == "Asia/Shanghai"
    assert config.bot.locale == "zh"
    assert [(p.id, p.name, p.role) for p in config.parties] == [
        ("plant", "某汽车零部件厂", "customer"),
        ("bearing-co", "轴承供应商", "supplier"),
    ]
    (agreement,) = config.agreements
    assert (agreement.id, agreement.customer, agreement.supplier) == (
        "plant-6205",
        "plant",
        "bearing-co",
    )
    assert agreement.terms == AgreementTerms(
        review_every_days=3,
        plan_due_day=5,
        settlement_day=25,
        overstock_days=30,
        emergency_notice_hours=24,
        emergency_freight_customer_share=Decimal("0.5"),
        items=agreement.items,
    )
    assert agreement.items == (
        Item(
            sku="6205",
            name="6205 深沟球轴承",
            min=50,
            max=100,
            unit="件",
            aliases=("6205轴承", "深沟球轴承"),
            pack_size=1,
            moq=0,
            rounding="up",
            unit_price=Decimal("12.5"),
            lead_time_days=3,
            name_en="6205 deep groove ball bearing",
        ),
    )
    assert isinstance(agreement.terms.emergency_freight_customer_share, Decimal)
    assert agreement.slack_channel == "C01VMI"
    assert agreement.wecom_chat == "wrVMI01"
    assert agreement.wecom_webhook_key is None  # "" in the file means not set
    assert agreement.timezone == "Asia/Shanghai"
    assert agreement.review_time == time(8, 0)
    assert str(agreement.tz) == "Asia/Shanghai"


def test_example_has_a_console_member_for_every_role() -> None:
    config = load_config(EXAMPLE)
    assert [
        (m.id, m.name, m.party, m.role, m.console, m.slack, m.wecom) for m in config.members
    ] == [
        ("keeper", "王仓管", "plant", "warehouse", "keeper", "U01KEEPER", "wangcg"),
        ("buyer", "王采购", "plant", "buyer", "buyer", "U01BUYER", "wangcaigou"),
        ("supplier", "李供应", "bearing-co", "supplier", "supplier", "U01SUPPLIER", "ligy"),
        ("admin", "管理员", "plant", "admin", "admin", "U01ADMIN", "admin"),
    ]


def test_lookups() -> None:
    config = load_config(EXAMPLE)
    assert config.party("plant").name == "某汽车零部件厂"
    assert config.party("nobody") is None
    assert config.member("buyer").name == "王采购"
    assert config.member("nobody") is None
    assert config.agreement("plant-6205").customer == "plant"
    assert config.agreement("nobody") is None
    assert config.member_by_platform("slack", "U01SUPPLIER").id == "supplier"
    assert config.member_by_platform("wecom", "wangcg").id == "keeper"
    assert config.member_by_platform("console", "admin").id == "admin"
    assert config.member_by_platform("slack", "U404") is None
    with pytest.raises(ValueError, match="platform"):
        config.member_by_platform("email", "x")
    agreement = config.agreement("plant-6205")
    for member in config.members:
        assert config.agreements_of(member) == (agreement,)
    assert agreement.item("6205").name == "6205 深沟球轴承"
    assert agreement.item("深沟球轴承").sku == "6205"  # by alias
    assert agreement.item("6205 轴承").sku == "6205"  # spaces ignored
    assert agreement.item("6206") is None


def test_parse_config_applies_the_defaults() -> None:
    config = parse_config(BASE)
    assert isinstance(config, Config)
    assert config.path == Path("<string>")
    agreement = config.agreements[0]
    assert isinstance(agreement, AgreementConfig)
    item = agreement.item("6206")
    assert item == Item(sku="6206", name="6206 bearing", min=20, max=40, unit_price=Decimal(8))
    assert (item.unit, item.aliases, item.pack_size, item.moq, item.rounding) == (
        "件",
        (),
        1,
        0,
        "up",
    )
    assert item.lead_time_days == 0
    terms = agreement.terms
    assert (
        terms.review_every_days,
        terms.plan_due_day,
        terms.settlement_day,
        terms.overstock_days,
        terms.emergency_notice_hours,
        terms.emergency_freight_customer_share,
    ) == (3, 5, 25, 30, 24, Decimal("0.5"))
    assert agreement.review_time == time(8, 0)
    assert agreement.timezone == "Asia/Shanghai"
    assert (agreement.slack_channel, agreement.wecom_chat, agreement.wecom_webhook_key) == (
        None,
        None,
        None,
    )
    assert config.member("supplier").slack is None
    assert config.member("root").party is None


def test_parse_config_with_no_bot_section_uses_defaults() -> None:
    config = parse_config(edit('[bot]\ntimezone = "Asia/Shanghai"\nlocale = "zh"\n', ""))
    assert (config.bot.timezone, config.bot.locale) == ("Asia/Shanghai", "zh")


def test_agreement_timezone_review_time_and_member_locale() -> None:
    text = edit(
        'supplier = "bearing-co"\n\n',
        'supplier = "bearing-co"\ntimezone = "Europe/Berlin"\nreview_time = "07:30"\n\n',
    )
    text = edit('[bot]\ntimezone = "Asia/Shanghai"', '[bot]\ntimezone = "UTC"', text)
    text = edit('role = "buyer"\n', 'role = "buyer"\nlocale = "en"\n', text)
    config = parse_config(text)
    agreement = config.agreements[0]
    assert agreement.timezone == "Europe/Berlin"
    assert str(agreement.tz) == "Europe/Berlin"
    assert agreement.review_time == time(7, 30)
    assert config.bot.timezone == "UTC"
    assert config.member("buyer").locale == "en"
    assert config.member("keeper").locale is None


def test_review_time_accepts_a_toml_local_time() -> None:
    text = edit(
        'supplier = "bearing-co"\n\n', 'supplier = "bearing-co"\nreview_time = 09:15:00\n\n'
    )
    assert parse_config(text).agreements[0].review_time == time(9, 15)


def test_agreements_of_follows_the_party() -> None:
    text = (
        BASE
        + """
[[parties]]
id = "other-supplier"
name = "Other"
role = "supplier"

[[members]]
id = "other"
name = "Other"
party = "other-supplier"
role = "supplier"

[[agreements]]
id = "plant-6300"
customer = "plant"
supplier = "other-supplier"

[[agreements.items]]
sku = "6300"
name = "6300 bearing"
min = 1
max = 2
unit_price = 3.2
"""
    )
    config = parse_config(text)
    ids = {m.id: [a.id for a in config.agreements_of(m)] for m in config.members}
    assert ids == {
        "keeper": ["plant-6205", "plant-6300"],
        "buyer": ["plant-6205", "plant-6300"],
        "supplier": ["plant-6205"],
        "root": ["plant-6205", "plant-6300"],  # admin without a party sees every agreement
        "other": ["plant-6300"],
    }


def test_base_config_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "good.toml"
    path.write_text(BASE, encoding="utf-8")
    assert load_config(path).path == path
    assert load_config(str(path)).path == path


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + BASE.encode())
    assert load_config(path).agreements[0].id == "plant-6205"


# ---- files that cannot be read ----


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (line,) = caught.value.problems
    assert line.startswith(f"{path}: ")
    assert "file not found" in line


def test_toml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    problems = problems_in(tmp_path, edit('name = "Plant"', "name = Plant"))
    (line,) = problems
    assert line.startswith(f"{tmp_path / 'bad.toml'}: TOML syntax error: ")
    assert "line 7, column 8" in line


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_bytes(BASE.replace("Plant", "工厂").encode("gbk"))
    with pytest.raises(ConfigError, match="UTF-8"):
        load_config(path)


# ---- missing required keys ----


@pytest.mark.parametrize(
    ("old", "key"),
    [
        ('id = "plant"\n', "parties[0].id"),
        ('name = "Bearings"\n', "parties[1].name"),
        ('role = "customer"\n', "parties[0].role"),
        ('id = "buyer"\n', "members[1].id"),
        ('name = "Keeper"\n', "members[0].name"),
        ('role = "buyer"\n', "members[1].role"),
        ('party = "bearing-co"\n', "members[2].party"),
        ('id = "plant-6205"\n', "agreements[0].id"),
        ('customer = "plant"\n', "agreements[0].customer"),
        ('supplier = "bearing-co"\n', "agreements[0].supplier"),
        ('sku = "6206"\n', "agreements[0].items[1].sku"),
        ('name = "6205 bearing"\n', "agreements[0].items[0].name"),
        ("min = 50\n", "agreements[0].items[0].min"),
        ("max = 40\n", "agreements[0].items[1].max"),
        ("unit_price = 8\n", "agreements[0].items[1].unit_price"),
    ],
)
def test_missing_required_key(tmp_path: Path, old: str, key: str) -> None:
    problems = problems_in(tmp_path, edit(old, ""))
    find(problems, tmp_path, key, "missing (required)")


def test_missing_unit_price_says_what_it_is_for(tmp_path: Path) -> None:
    # Left out, it once billed every withdrawal at 0; a free part says so with 0.
    only(
        tmp_path,
        edit("unit_price = 8\n", ""),
        "agreements[0].items[1].unit_price",
        "missing (required); the price a withdrawn unit is billed at; write 0 if the part is free",
    )


def test_a_unit_price_of_zero_is_accepted() -> None:
    config = parse_config(edit("unit_price = 8", "unit_price = 0"))
    assert config.agreements[0].item("6206").unit_price == Decimal(0)


def test_missing_party_says_when_it_is_required(tmp_path: Path) -> None:
    text = edit('party = "plant"\nrole = "warehouse"', 'role = "warehouse"')
    only(tmp_path, text, "members[0].party", "missing (required); only an admin may have no party")


def test_admin_needs_no_party() -> None:
    assert parse_config(BASE).member("root").role == "admin"


def test_empty_id_is_a_problem(tmp_path: Path) -> None:
    only(tmp_path, edit('id = "keeper"', 'id = ""'), "members[0].id", "must not be empty")


def test_id_with_spaces(tmp_path: Path) -> None:
    only(tmp_path, edit('id = "keeper"', 'id = "the keeper"'), "members[0].id", "spaces")


def test_agreement_without_items(tmp_path: Path) -> None:
    text = BASE[: BASE.index("[[agreements.items]]")]
    only(tmp_path, text, "agreements[0].items", "no items", "[[agreements.items]]")


def test_config_without_agreements(tmp_path: Path) -> None:
    text = BASE[: BASE.index("[[agreements]]")]
    only(tmp_path, text, "agreements", "no agreement")


# ---- wrong types ----


@pytest.mark.parametrize(
    ("old", "new", "key", "why"),
    [
        ("min = 50", 'min = "50"', "agreements[0].items[0].min", 'got string "50"'),
        ("max = 100", "max = 100.0", "agreements[0].items[0].max", "got float 100.0"),
        ("min = 20", "min = true", "agreements[0].items[1].min", "got boolean true"),
        (
            "unit_price = 8",
            'unit_price = "12.5"',
            "agreements[0].items[1].unit_price",
            'expected a number, got string "12.5"',
        ),
        (
            "unit_price = 8",
            "unit_price = false",
            "agreements[0].items[1].unit_price",
            "expected a number, got boolean false",
        ),
        (
            "max = 40",
            "max = 40\npack_size = 2.5",
            "agreements[0].items[1].pack_size",
            "expected a whole number, got float 2.5",
        ),
        (
            'supplier = "bearing-co"\n',
            'supplier = "bearing-co"\nreview_every_days = "3"\n',
            "agreements[0].review_every_days",
            'expected a whole number, got string "3"',
        ),
        (
            'supplier = "bearing-co"\n',
            'supplier = "bearing-co"\nemergency_notice_hours = 24.5\n',
            "agreements[0].emergency_notice_hours",
            "expected a whole number, got float 24.5",
        ),
        (
            'supplier = "bearing-co"\n',
            'supplier = "bearing-co"\nemergency_freight_customer_share = "50%"\n',
            "agreements[0].emergency_freight_customer_share",
            'expected a number, got string "50%"',
        ),
        ('name = "Plant"', "name = 7", "parties[0].name", "expected a string, got integer 7"),
        ('slack = "U1"', "slack = 1", "members[0].slack", "expected a string, got integer 1"),
        (
            'aliases = ["6205轴承"]',
            'aliases = "6205轴承"',
            "agreements[0].items[0].aliases",
            "expected an array of strings",
        ),
        (
            'aliases = ["6205轴承"]',
            'aliases = ["6205轴承", 6205]',
            "agreements[0].items[0].aliases[1]",
            "expected a string, got integer 6205",
        ),
    ],
)
def test_wrong_type(tmp_path: Path, old: str, new: str, key: str, why: str) -> None:
    only(tmp_path, edit(old, new), key, why)


def test_bot_must_be_a_table(tmp_path: Path) -> None:
    text = 'bot = "zh"\n' + edit('[bot]\ntimezone = "Asia/Shanghai"\nlocale = "zh"\n', "")
    only(tmp_path, text, "bot", "expected a [bot] table")


def test_parties_must_be_an_array_of_tables(tmp_path: Path) -> None:
    # Only one party, written as [parties]: valid TOML, wrong shape.
    text = '[parties]\nid = "plant"\nname = "Plant"\nrole = "customer"\n'
    problems = problems_in(tmp_path, text)
    find(problems, tmp_path, "parties", "write [[parties]] (double brackets), not [parties]")


def test_parties_as_a_plain_value(tmp_path: Path) -> None:
    text = 'parties = "plant"\n' + BASE[BASE.index("[[members]]") :]
    problems = problems_in(tmp_path, text)
    find(problems, tmp_path, "parties", "expected [[parties]] tables, got string")


# ---- unknown choices ----


@pytest.mark.parametrize(
    ("old", "new", "key", "why"),
    [
        ('role = "warehouse"', 'role = "cook"', "members[0].role", 'unknown role "cook"'),
        ('role = "customer"', 'role = "client"', "parties[0].role", 'unknown party role "client"'),
        ('locale = "zh"', 'locale = "fr"', "bot.locale", 'unknown locale "fr"'),
        (
            'role = "buyer"\n',
            'role = "buyer"\nlocale = "de"\n',
            "members[1].locale",
            'unknown locale "de"',
        ),
        (
            "max = 40",
            'max = 40\nrounding = "nearest"',
            "agreements[0].items[1].rounding",
            'unknown rounding "nearest"; use up, down',
        ),
    ],
)
def test_unknown_choice(tmp_path: Path, old: str, new: str, key: str, why: str) -> None:
    only(tmp_path, edit(old, new), key, why)


def test_unknown_role_lists_the_roles(tmp_path: Path) -> None:
    problems = problems_in(tmp_path, edit('role = "warehouse"', 'role = "cook"'))
    find(problems, tmp_path, "members[0].role", "warehouse, buyer, supplier, admin")


# ---- parties referenced by members and agreements ----


def test_member_with_unknown_party(tmp_path: Path) -> None:
    text = edit('party = "bearing-co"', 'party = "bearing-c0"')
    only(tmp_path, text, "members[2].party", 'unknown party "bearing-c0"', "did you mean")


def test_agreement_with_unknown_customer(tmp_path: Path) -> None:
    text = edit('customer = "plant"', 'customer = "factory"')
    only(tmp_path, text, "agreements[0].customer", 'unknown party "factory"', "plant, bearing-co")


def test_agreement_customer_must_be_a_customer(tmp_path: Path) -> None:
    text = edit('customer = "plant"', 'customer = "bearing-co"')
    only(tmp_path, text, "agreements[0].customer", '"bearing-co" is a supplier', "role customer")


def test_agreement_supplier_must_be_a_supplier(tmp_path: Path) -> None:
    text = edit('supplier = "bearing-co"', 'supplier = "plant"')
    only(tmp_path, text, "agreements[0].supplier", '"plant" is a customer', "role supplier")


@pytest.mark.parametrize(
    ("old", "new", "key", "why"),
    [
        (
            'party = "plant"\nrole = "warehouse"',
            'party = "bearing-co"\nrole = "warehouse"',
            "members[0].role",
            'a warehouse must belong to a customer party, but party "bearing-co" is a supplier',
        ),
        (
            'party = "plant"\nrole = "buyer"',
            'party = "bearing-co"\nrole = "buyer"',
            "members[1].role",
            "a buyer must belong to a customer party",
        ),
        (
            'party = "bearing-co"\nrole = "supplier"',
            'party = "plant"\nrole = "supplier"',
            "members[2].role",
            'a supplier must belong to a supplier party, but party "plant" is a customer',
        ),
    ],
)
def test_member_role_must_fit_party(tmp_path: Path, old: str, new: str, key: str, why: str) -> None:
    only(tmp_path, edit(old, new), key, why)


def test_admin_may_belong_to_either_party() -> None:
    for party in ("plant", "bearing-co"):
        config = parse_config(edit('role = "admin"', f'role = "admin"\nparty = "{party}"'))
        assert config.member("root").party == party


# ---- duplicates ----


def test_duplicate_party_id(tmp_path: Path) -> None:
    text = edit('id = "bearing-co"', 'id = "plant"')
    problems = problems_in(tmp_path, text)
    find(problems, tmp_path, "parties[1].id", 'duplicate id "plant"', "parties[0]")


def test_duplicate_member_id(tmp_path: Path) -> None:
    text = edit('id = "buyer"', 'id = "keeper"')
    only(tmp_path, text, "members[1].id", 'duplicate id "keeper"', "members[0]")


def test_duplicate_agreement_id(tmp_path: Path) -> None:
    agreement = BASE[BASE.index("[[agreements]]") :]
    only(tmp_path, BASE + "\n" + agreement, "agreements[1].id", 'duplicate id "plant-6205"')


@pytest.mark.parametrize(
    ("old", "new", "key", "why"),
    [
        ('console = "buyer"', 'console = "keeper"', "members[1].console", 'console id "keeper"'),
        ('slack = "U2"', 'slack = "U1"', "members[1].slack", 'slack id "U1"'),
        ('wecom = "w2"', 'wecom = "w1"', "members[1].wecom", 'wecom id "w1"'),
    ],
)
def test_platform_id_used_twice(tmp_path: Path, old: str, new: str, key: str, why: str) -> None:
    only(tmp_path, edit(old, new), key, why, "already used by members[0] (keeper)")


def test_empty_platform_ids_are_not_set_and_not_duplicates() -> None:
    text = edit('slack = "U1"', 'slack = ""')
    text = edit('slack = "U2"', 'slack = ""', text)
    config = parse_config(text)
    assert config.member("keeper").slack is None
    assert config.member_by_platform("slack", "") is None


# ---- numbers out of range ----


def test_min_above_max(tmp_path: Path) -> None:
    text = edit("min = 50", "min = 120")
    problems = problems_in(tmp_path, text)
    assert problems == [
        f"{tmp_path / 'bad.toml'}: agreements[0].items[0].min: 120 is above max 100"
    ]


@pytest.mark.parametrize(
    ("old", "new", "key", "value"),
    [
        ("max = 40", "max = 40\nmoq = -1", "agreements[0].items[1].moq", "-1"),
        ("unit_price = 8", "unit_price = -0.5", "agreements[0].items[1].unit_price", "-0.5"),
        (
            "max = 40",
            "max = 40\nlead_time_days = -3",
            "agreements[0].items[1].lead_time_days",
            "-3",
        ),
    ],
)
def test_negative_item_numbers(tmp_path: Path, old: str, new: str, key: str, value: str) -> None:
    only(tmp_path, edit(old, new), key, f"{value} is negative")


def test_negative_min_and_max(tmp_path: Path) -> None:
    text = edit("min = 20", "min = -5")
    text = edit("max = 100", "max = -1", text)
    problems = problems_in(tmp_path, text)
    find(problems, tmp_path, "agreements[0].items[1].min", "-5 is negative; use 0 or more")
    find(problems, tmp_path, "agreements[0].items[0].max", "-1 is negative")
    assert len(problems) == 2, problems  # no extra "min above max" for the bad max


@pytest.mark.parametrize(
    ("extra", "key", "why"),
    [
        ("overstock_days = -30", "agreements[0].overstock_days", "-30 is negative"),
        ("emergency_notice_hours = -1", "agreements[0].emergency_notice_hours", "-1 is negative"),
        (
            "review_every_days = 0",
            "agreements[0].review_every_days",
            "0 is too small; use 1 or more",
        ),
        ("plan_due_day = 0", "agreements[0].plan_due_day", "0 is out of range; use 1 to 28"),
        ("plan_due_day = 31", "agreements[0].plan_due_day", "31 is out of range; use 1 to 28"),
        ("settlement_day = 29", "agreements[0].settlement_day", "29 is out of range; use 1 to 28"),
        (
            "emergency_freight_customer_share = 1.5",
            "agreements[0].emergency_freight_customer_share",
            "1.5 is out of range; use 0 to 1",
        ),
        (
            "emergency_freight_customer_share = -0.1",
            "agreements[0].emergency_freight_customer_share",
            "-0.1 is out of range; use 0 to 1",
        ),
        ("service_level = 0.4", "agreements[0].service_level", "0.4 is out of range"),
        ("service_level = 1", "agreements[0].service_level", "1 is out of range"),
    ],
)
def test_agreement_numbers_out_of_range(tmp_path: Path, extra: str, key: str, why: str) -> None:
    text = edit('supplier = "bearing-co"\n', f'supplier = "bearing-co"\n{extra}\n')
    only(tmp_path, text, key, why)


def test_pack_size_must_be_at_least_one(tmp_path: Path) -> None:
    text = edit("max = 40", "max = 40\npack_size = 0")
    only(tmp_path, text, "agreements[0].items[1].pack_size", "0 is too small; use 1 or more")


def test_share_bounds_are_allowed() -> None:
    for share in ("0", "1", "0.25"):
        text = edit(
            'supplier = "bearing-co"\n',
            f'supplier = "bearing-co"\nemergency_freight_customer_share = {share}\n',
        )
        terms = parse_config(text).agreements[0].terms
        assert terms.emergency_freight_customer_share == Decimal(share)


def test_service_level_defaults_to_95_percent_and_can_be_set() -> None:
    assert parse_config(BASE).agreements[0].terms.service_level == 0.95
    text = edit('supplier = "bearing-co"\n', 'supplier = "bearing-co"\nservice_level = 0.99\n')
    assert parse_config(text).agreements[0].terms.service_level == 0.99


# ---- skus and aliases ----


def test_sku_used_twice(tmp_path: Path) -> None:
    text = edit('sku = "6206"', 'sku = "6205"')
    only(tmp_path, text, "agreements[0].items[1].sku", '"6205" is already used by', "items[0].sku")


def test_alias_equal_to_another_items_sku(tmp_path: Path) -> None:
    text = edit('name = "6206 bearing"', 'name = "6206 bearing"\naliases = ["6205"]')
    only(
        tmp_path,
        text,
        "agreements[0].items[1].aliases[0]",
        '"6205" is already used by agreements[0].items[0].sku',
    )


def test_alias_clash_ignores_case_and_spaces(tmp_path: Path) -> None:
    text = edit('aliases = ["6205轴承"]', 'aliases = ["Deep Groove"]')
    text = edit('name = "6206 bearing"', 'name = "6206 bearing"\naliases = ["deepgroove"]', text)
    only(
        tmp_path,
        text,
        "agreements[0].items[1].aliases[0]",
        '"deepgroove" is already used by agreements[0].items[0].aliases[0]',
    )


def test_sku_clash_ignores_case_and_spaces(tmp_path: Path) -> None:
    text = edit('sku = "6205"', 'sku = "ab 12"')
    text = edit('sku = "6206"', 'sku = "AB12"', text)
    only(tmp_path, text, "agreements[0].items[1].sku", '"AB12" is already used')


def test_same_sku_in_two_agreements_is_fine() -> None:
    agreement = BASE[BASE.index("[[agreements]]") :].replace("plant-6205", "plant-b")
    assert len(parse_config(BASE + "\n" + agreement).agreements) == 2


def test_alias_repeating_its_own_sku_is_fine() -> None:
    text = edit('aliases = ["6205轴承"]', 'aliases = ["6205轴承", "6205"]')
    assert parse_config(text).agreements[0].items[0].aliases == ("6205轴承", "6205")


def test_empty_alias(tmp_path: Path) -> None:
    text = edit('aliases = ["6205轴承"]', 'aliases = ["6205轴承", " "]')
    only(tmp_path, text, "agreements[0].items[0].aliases[1]", "must not be empty")


# ---- time zones and review time ----


def test_bad_bot_timezone(tmp_path: Path) -> None:
    text = edit('timezone = "Asia/Shanghai"', 'timezone = "Asia/Beijing"')
    only(tmp_path, text, "bot.timezone", 'unknown time zone "Asia/Beijing"', "IANA")


def test_bad_agreement_timezone(tmp_path: Path) -> None:
    text = edit('supplier = "bearing-co"\n', 'supplier = "bearing-co"\ntimezone = "CST+8"\n')
    only(tmp_path, text, "agreements[0].timezone", 'unknown time zone "CST+8"')


@pytest.mark.parametrize(
    ("value", "shown"),
    [('"8am"', '"8am"'), ('"25:00"', '"25:00"'), ('"08:60"', '"08:60"'), ("800", "integer 800")],
)
def test_bad_review_time(tmp_path: Path, value: str, shown: str) -> None:
    text = edit('supplier = "bearing-co"\n', f'supplier = "bearing-co"\nreview_time = {value}\n')
    only(tmp_path, text, "agreements[0].review_time", '"HH:MM"', shown)


# ---- unknown keys ----


@pytest.mark.parametrize(
    ("old", "new", "key", "why"),
    [
        ("min = 50", "mni = 50", "agreements[0].items[0].mni", "did you mean 'min'?"),
        ('locale = "zh"', 'lcoale = "zh"', "bot.lcoale", "did you mean 'locale'?"),
        ('slack = "U1"', 'slak = "U1"', "members[0].slak", "did you mean 'slack'?"),
        ('name = "Plant"', 'name = "Plant"\ncolour = "red"', "parties[0].colour", "accepted keys"),
        (
            'supplier = "bearing-co"\n',
            'supplier = "bearing-co"\nreview_every_day = 3\n',
            "agreements[0].review_every_day",
            "did you mean 'review_every_days'?",
        ),
    ],
)
def test_unknown_key(tmp_path: Path, old: str, new: str, key: str, why: str) -> None:
    problems = problems_in(tmp_path, edit(old, new))
    find(problems, tmp_path, key, "unknown key", why)


def test_unknown_top_level_table(tmp_path: Path) -> None:
    text = BASE + '\n[[agreement]]\nid = "x"\n'
    only(tmp_path, text, "agreement", "unknown key, did you mean 'agreements'?")


# ---- everything at once ----


def test_all_problems_are_reported_together(tmp_path: Path) -> None:
    text = edit("min = 50", "min = 120")
    text = edit('role = "warehouse"', 'role = "cook"', text)
    text = edit('customer = "plant"', 'customer = "factory"', text)
    text = edit('slack = "U2"', 'slack = "U1"', text)
    text = edit('timezone = "Asia/Shanghai"', 'timezone = "Mars/Base"', text)
    text = edit("max = 40", "max = 40\nmoq = -2\nmni = 3", text)
    problems = problems_in(tmp_path, text)
    find(problems, tmp_path, "agreements[0].items[0].min", "120 is above max 100")
    find(problems, tmp_path, "members[0].role", 'unknown role "cook"')
    find(problems, tmp_path, "agreements[0].customer", 'unknown party "factory"')
    find(problems, tmp_path, "members[1].slack", 'slack id "U1"')
    find(problems, tmp_path, "bot.timezone", '"Mars/Base"')
    find(problems, tmp_path, "agreements[0].items[1].moq", "-2 is negative")
    find(problems, tmp_path, "agreements[0].items[1].mni", "did you mean 'min'?")
    assert len(problems) == 7, "\n".join(problems)


def test_problems_are_listed_in_the_order_of_the_file(tmp_path: Path) -> None:
    text = edit("max = 40", "max = 40\nmoq = -2")
    text = edit('customer = "plant"', 'customer = "factory"', text)
    text = edit('slack = "U2"', 'slack = "U1"', text)
    text = edit('timezone = "Asia/Shanghai"', 'timezone = "Mars/Base"', text)
    keys = [line.split(": ")[1] for line in problems_in(tmp_path, text)]
    assert keys == [
        "bot.timezone",
        "members[1].slack",
        "agreements[0].customer",
        "agreements[0].items[1].moq",
    ]


def test_config_error_str_is_one_line_per_problem() -> None:
    err = ConfigError(["a.toml: x: bad", "a.toml: y: worse"])
    assert str(err) == "a.toml: x: bad\na.toml: y: worse"
    assert err.problems == ["a.toml: x: bad", "a.toml: y: worse"]


def test_parse_config_names_the_given_path() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(edit("min = 50", "min = 120"), "cfg/x.toml")
    assert caught.value.problems == ["cfg/x.toml: agreements[0].items[0].min: 120 is above max 100"]


# ---- which file ----


def test_resolve_config_path_prefers_the_argument() -> None:
    env = Settings(vmi_config="/env/vmi.toml").vmi_config
    assert resolve_config_path("/arg/vmi.toml", env) == Path("/arg/vmi.toml")


def test_resolve_config_path_then_the_environment() -> None:
    env = Settings(vmi_config="/env/vmi.toml").vmi_config
    assert resolve_config_path(None, env) == Path("/env/vmi.toml")


def test_resolve_config_path_then_the_example() -> None:
    assert resolve_config_path(None, Settings().vmi_config) == DEFAULT_CONFIG
    assert Path("config/example.toml") == DEFAULT_CONFIG
    blank = Settings(vmi_config="").vmi_config  # set but empty counts as not set
    assert resolve_config_path(None, blank) == Path("config/example.toml")


def test_moq_above_max_with_rounding_down_could_never_order(tmp_path: Path) -> None:
    text = edit("min = 50", 'min = 50\nmoq = 150\nrounding = "down"')
    problems = problems_in(tmp_path, text)
    assert problems == [
        f"{tmp_path / 'bad.toml'}: agreements[0].items[0].moq: 150 is above max 100 with "
        'rounding = "down": no order could ever be proposed; lower moq or use rounding = "up"'
    ]
