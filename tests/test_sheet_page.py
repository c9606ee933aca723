"""The shared sheet's page and the supplier's overview over real HTTP on loopback: the link the
bot gives in chat (表格 / sheet, 总览 / overview) opens the member's own party's agreements only;
a wrong, tampered, expired or foreign link gets 403 and shows nothing; what people typed is
escaped; the page's figures are the status JSON's for the seed's month."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select
from waitress.server import create_server

from bot.app.bootstrap import start
from bot.app.server import build_service
from bot.runtime.context import Runtime
from bot.services.sheet_links import sheet_links
from bot.services.status import status
from bot.settings import Settings
from bot.storage.db import transaction
from bot.storage.tables import OutboxRow
from handlers.conversation import handle
from handlers.incoming import Incoming
from handlers.parsing import SheetLink, parse
from messages.cards import Card
from tests.support import DATA, EXAMPLE, shanghai
from tests.test_statements import settle, the_month
from vmi_rules.terms import Item

SECRET = "sheet-s3cret-for-tests"
NOW = shanghai(2026, 11, 25, 10)  # settlement day of the seed's month: S1 waits for signatures
_ids = itertools.count(1)
VMI_BOT = str(Path(sys.executable).with_name("vmi-bot"))


@dataclass
class Site:
    """The bot with its web app on a loopback port, on a clock the test sets."""

    runtime: Runtime
    base: str
    now: list[datetime]

    def say(self, sender: str, text: str, chat: str = "plant-6205") -> Card:
        """One message typed in the console at the clock's time; the reply to it."""
        with transaction(self.runtime.engine) as s:
            before = s.scalar(select(func.max(OutboxRow.id))) or 0
        message = Incoming("console", chat, sender, f"s{next(_ids)}", self.now[0], text)
        handle(self.runtime.engine, self.runtime.config, message,
               links=sheet_links(self.runtime.settings))  # fmt: skip
        with transaction(self.runtime.engine) as s:
            rows = s.scalars(select(OutboxRow).where(OutboxRow.id > before).order_by(OutboxRow.id))
            [row] = list(rows)
        return Card.from_json(row.card)

    def link(self, sender: str, text: str = "表格", chat: str = "plant-6205") -> str:
        """The address the bot answers `text` with, pointed at this server."""
        card = self.say(sender, text, chat)
        assert card.private, card
        [url] = [line for line in card.lines if line.startswith("http")]
        return url.replace("https://vmi.example.com", self.base)


def get(url: str) -> tuple[int, str, dict[str, str]]:
    """A GET over HTTP: status, body, headers."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(), dict(err.headers)


def two_customers(tmp_path: Path) -> Path:
    """The example agreement and a second customer of the same supplier."""
    path = tmp_path / "two.toml"
    extra = (DATA / "second_customer.toml").read_text(encoding="utf-8")
    path.write_text(EXAMPLE.read_text(encoding="utf-8") + "\n" + extra, encoding="utf-8")
    return path


@contextmanager
def serving(runtime: Runtime, now: list[datetime]) -> Iterator[Site]:
    """The web app of `vmi-bot serve` on a free loopback port, its clock reading `now[0]`."""
    runtime = replace(runtime, clock=lambda: now[0])
    service = build_service(runtime)
    server = create_server(service.app, host="127.0.0.1", port=0, threads=2)

    def run() -> None:
        with suppress(OSError):  # the listening socket closed under it at the end
            server.run()

    threading.Thread(target=run, daemon=True).start()
    try:
        yield Site(runtime, f"http://127.0.0.1:{server.effective_port}", now)  # type: ignore[attr-defined]
    finally:
        server.close()
        runtime.engine.dispose()


@contextmanager
def seeds_site(tmp_path: Path, database_url: str) -> Iterator[Site]:
    """Two customers of one supplier, the seed's month played in the first, and the second's
    month counted and used; the sheet set up."""
    settings = Settings(vmi_sheet_secret=SECRET, vmi_public_url="https://vmi.example.com/")
    runtime = start(str(two_customers(tmp_path)), database_url, settings)
    the_month(runtime)
    settle(runtime, NOW - timedelta(hours=1))
    now = [shanghai(2026, 11, 10, 9)]
    with serving(runtime, now) as served:
        yield served


@pytest.fixture
def site(tmp_path: Path, database_url: str) -> Iterator[Site]:
    """The seeds' site on SQLite and, when TEST_DATABASE_URL is set, PostgreSQL."""
    with seeds_site(tmp_path, database_url) as served:
        yield served


def motor_month(site: Site) -> None:
    """The second customer: 6205 goes fast (10 left, 1 a day), 6206 slowly, 6207 not at all."""
    site.now[0] = shanghai(2026, 11, 10, 9)
    site.say("motorkeeper", "库存 6205=40, 6206=50, 6207=12", chat="motor-6205")
    site.now[0] = shanghai(2026, 11, 20, 9)
    site.say("motorkeeper", "领用 6205 30", chat="motor-6205")
    site.say("motorkeeper", "领用 6206 3", chat="motor-6205")
    site.now[0] = NOW


class Cells(HTMLParser):
    """The text of each table cell, by the table's id and the row's data-sku/data-id."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[list[str]]] = {}
        self._table = ""
        self._cell: list[str] | None = None
        self._row: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._table = dict(attrs).get("id") or ""
        elif tag == "tr":
            self._row = []
            self.rows.setdefault(self._table, []).append(self._row)
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def table(page: str, name: str) -> list[dict[str, str]]:
    """One table of the page as dicts by its header row."""
    cells = Cells()
    cells.feed(page)
    header, *rows = cells.rows[name]
    return [dict(zip(header, row, strict=True)) for row in rows]


def test_the_link_opens_the_seeds_month_with_the_status_figures(site: Site) -> None:
    site.now[0] = NOW
    url = site.link("buyer")
    assert SECRET not in url and "/sheet/plant-6205?key=" in url
    code, page, headers = get(url)
    assert code == 200, page
    assert headers["Cache-Control"] == "no-store" and "script" not in headers.get(
        "Content-Security-Policy", ""
    )
    with transaction(site.runtime.engine, read_only=True) as s:
        [agreement] = status(s, site.runtime.config, NOW, ["plant-6205"])["agreements"]
    [item] = agreement["items"]
    [row] = table(page, "stock")
    assert row["在库"] == str(item["on_hand"]) and row["在途"] == str(item["in_transit"])
    assert row["库存位置"] == str(item["position"])
    assert (row["补货线"], row["安全线"]) == ("50", "100")
    assert row["待结算领用"] == str(item["billable_qty"])
    assert "S1" in page and "1,062.50" in page  # the open statement: 85 × 12.50
    assert "<svg" in page and "<script" not in page
    assert "<polyline" in page  # the last 60 days drawn from the ledger


def test_a_tampered_expired_or_missing_key_gets_403_and_shows_nothing(site: Site) -> None:
    site.now[0] = NOW
    url = site.link("buyer")
    key = parse_qs(urlsplit(url).query)["key"][0]
    tampered = url.replace(key, key[:-2] + ("AA" if not key.endswith("AA") else "BB"))
    for wrong in (tampered, url.split("?")[0], url.split("?")[0] + "?key=nonsense"):
        code, page, _ = get(wrong)
        assert code == 403 and "6205" not in page and "链接无效或已过期" in page
    site.now[0] = NOW + timedelta(days=7, seconds=1)  # a week later the link has ended
    code, page, _ = get(url)
    assert code == 403 and "6205" not in page
    site.now[0] = NOW + timedelta(days=6, hours=23)
    assert get(url)[0] == 200


def test_a_customer_member_cannot_open_another_customers_agreement(site: Site) -> None:
    motor_month(site)
    url = site.link("motorbuyer", "sheet", chat="motor-6205")
    assert "/sheet/motor-6205?" in url
    code, page, _ = get(url)
    assert code == 200 and "Stock sheet" in page  # their own, in their language
    foreign = url.replace("/sheet/motor-6205?", "/sheet/plant-6205?")
    code, page, _ = get(foreign)
    assert code == 403 and "6205 深沟球轴承" not in page and "plant" not in page
    # and the plant's buyer's link does not open the motor works' page either
    plant = site.link("buyer")
    assert get(plant.replace("/sheet/plant-6205?", "/sheet/motor-6205?"))[0] == 403


def test_the_suppliers_overview_interleaves_both_customers_by_days_of_cover(site: Site) -> None:
    motor_month(site)
    url = site.link("supplier", "总览")
    assert "/sheet/overview?key=" in url
    code, page, _ = get(url)
    assert code == 200, page
    rows = table(page, "overview")
    shown = [
        (r["客户"].split("(")[-1].rstrip(")"), r["物料"].split()[0], r["可用天数"]) for r in rows
    ]
    assert [(a, sku) for a, sku, _ in shown] == [
        ("motor-6205", "6205"),  # 10 on hand at 1 a day
        ("plant-6205", "6205"),
        ("motor-6205", "6206"),  # 47 at 0.1 a day
        ("motor-6205", "6207"),  # nothing withdrawn: last, no figure
    ]
    assert shown[0][2] == "10.0" and shown[-1][2] == "—"
    covers = [float(c) for _, _, c in shown[:-1]]
    assert covers == sorted(covers)
    # the customer's name, typed into the configuration with markup, is shown as text
    assert "&lt;b&gt;电机厂&lt;/b&gt;" in page and "<b>电机厂" not in page


def test_a_customers_overview_holds_its_own_agreements_only(site: Site) -> None:
    motor_month(site)
    code, page, _ = get(site.link("motorbuyer", "overview", chat="motor-6205"))
    assert code == 200
    rows = table(page, "overview")
    assert {r["Customer"].split("(")[-1].rstrip(")") for r in rows} == {"motor-6205"}
    assert "plant-6205" not in page


def test_what_people_typed_is_escaped_on_the_page(site: Site) -> None:
    site.now[0] = NOW
    reply = site.say("buyer", "对账有误 S1 <script>alert('x')</script> 盘点多记了")
    assert not reply.refusal, reply
    code, page, _ = get(site.link("buyer"))
    assert code == 200
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page


def test_without_a_secret_the_chat_says_the_page_is_not_set_up(database_url: str) -> None:
    runtime = start(str(EXAMPLE), database_url, Settings())
    with serving(runtime, [NOW]) as site:
        not_set_up(site)


def not_set_up(site: Site) -> None:
    card = site.say("supplier", "表格")
    assert "VMI_SHEET_SECRET" in "\n".join(card.lines) and "http" not in "\n".join(card.lines)
    english = site.say("supplier", "sheet")
    assert "not set up" in "\n".join(english.lines)
    # nor does the server open any page
    assert get(f"{site.base}/sheet/plant-6205?key=anything")[0] == 403
    assert get(f"{site.base}/sheet/overview")[0] == 403


def test_the_link_is_for_the_asker_alone_even_in_the_group(site: Site) -> None:
    site.now[0] = NOW
    with transaction(site.runtime.engine) as s:
        before = s.scalar(select(func.max(OutboxRow.id))) or 0
    site.say("supplier", "表格")
    with transaction(site.runtime.engine) as s:
        [row] = s.scalars(select(OutboxRow).where(OutboxRow.id > before))
    assert (row.mode, row.recipient) == ("ephemeral", "supplier")
    assert re.search(r"2026-12-02 10:00", row.card)  # valid for 7 days, in the agreement's time


def test_vmi_bot_chat_gives_a_link_that_the_server_opens(database_url: str) -> None:
    db = database_url
    env = {**os.environ, "VMI_SHEET_SECRET": SECRET, "VMI_PUBLIC_URL": "https://vmi.example.com"}
    typed = "6205 库存 45\n/as supplier\n总览\n表格\n"
    done = subprocess.run(
        [VMI_BOT, "--config", str(EXAMPLE), "--db", db, "chat", "--as", "keeper",
         "--now", NOW.isoformat()],
        input=typed, capture_output=True, text=True, timeout=60, check=True, env=env,
    )  # fmt: skip
    overview_url, sheet_url = re.findall(r"https://vmi\.example\.com/sheet/\S+", done.stdout)
    assert "/sheet/overview?key=" in overview_url and "/sheet/plant-6205?key=" in sheet_url
    assert SECRET not in done.stdout
    settings = Settings(vmi_sheet_secret=SECRET, vmi_public_url="https://vmi.example.com")
    with serving(start(str(EXAMPLE), db, settings), [NOW + timedelta(minutes=1)]) as site:
        code, page, _ = get(sheet_url.replace("https://vmi.example.com", site.base))
        assert code == 200 and [r["在库"] for r in table(page, "stock")] == ["45"]
        code, page, _ = get(overview_url.replace("https://vmi.example.com", site.base))
        assert code == 200 and [r["在库"] for r in table(page, "overview")] == ["45"]
    # without the variables the console says the page is not set up
    bare = {k: v for k, v in env.items() if not k.startswith("VMI_")}
    done = subprocess.run(
        [VMI_BOT, "--config", str(EXAMPLE), "--db", db, "chat", "--as", "supplier"],
        input="sheet\n", capture_output=True, text=True, timeout=60, check=True, env=bare,
    )  # fmt: skip
    assert "not set up" in done.stdout and "/sheet/" not in done.stdout


@pytest.mark.parametrize(
    ("typed", "page"),
    [("表格", "sheet"), ("表格？", "sheet"), (" Sheet ", "sheet"), ("stock sheet", "sheet"),
     ("总览", "overview"), ("overview", "overview"), ("Overview?", "overview"),
     ("ｓｈｅｅｔ", "sheet")],
)  # fmt: skip
def test_the_sheet_and_the_overview_are_asked_for_alone(typed: str, page: str) -> None:
    items = [Item(sku="6205", name="6205 深沟球轴承", min=50, max=100)]
    assert parse(typed, items, NOW.date()) == SheetLink(page)  # type: ignore[arg-type]


@pytest.mark.parametrize("typed", ["6205 库存表 45", "表格里 6205 库存 45", "status"])
def test_other_messages_that_mention_a_sheet_are_read_as_they_always_were(typed: str) -> None:
    items = [Item(sku="6205", name="6205 深沟球轴承", min=50, max=100)]
    assert not isinstance(parse(typed, items, NOW.date()), SheetLink)
