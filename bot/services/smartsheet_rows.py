"""What the WeCom smart sheet mirror writes: its fields, one row per item with the figures the
sheet's web page shows (`agreement_sheet`, itself the status document's), and whom the doc is
shared with. Values are plain (text, number, a datetime or None); the adapter puts them in
WeCom's cell format."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot.config import AgreementConfig, Config
from bot.services.sheet import agreement_sheet
from bot.storage.smartsheet import last_counters

TEXT, NUMBER, DATE_TIME = "text", "number", "date_time"
READ, EDIT = 1, 2  # WeCom's auth of a doc member: 1 read only, 2 read and write

# (key, kind, zh title, en title), in the sheet's column order
FIELDS: tuple[tuple[str, str, str, str], ...] = (
    ("sku", TEXT, "物料", "SKU"),
    ("name", TEXT, "名称", "Name"),
    ("on_hand", NUMBER, "库存", "On hand"),
    ("in_transit", NUMBER, "在途", "In transit"),
    ("position", NUMBER, "库存位置", "Position"),
    ("min", NUMBER, "补货线", "Min"),
    ("max", NUMBER, "安全线", "Max"),
    ("cover", NUMBER, "可用天数", "Days of cover"),
    ("last_count_at", DATE_TIME, "最后盘点", "Last count"),
    ("counted_by", TEXT, "盘点人", "By"),
)


def _lang(locale: str) -> str:
    return "en" if locale == "en" else "zh"


def field_titles(locale: str) -> list[tuple[str, str]]:
    """The fields as (title, kind) in the bot's language, in column order."""
    at = 3 if _lang(locale) == "en" else 2
    return [(str(f[at]), f[1]) for f in FIELDS]


def doc_name(agreement: AgreementConfig, config: Config, locale: str) -> str:
    """The doc's name: the sheet people know, and whose it is."""
    customer = config.party(agreement.customer)
    supplier = config.party(agreement.supplier)
    who = f"{customer.name if customer else agreement.customer} · " + (
        supplier.name if supplier else agreement.supplier
    )
    if _lang(locale) == "en":
        return f"VMI stock sheet {agreement.id} ({who})"
    return f"VMI 库存共享表 {agreement.id}（{who}）"


def sheet_rows(
    session: Session, config: Config, agreement_id: str, now: datetime, locale: str
) -> dict[str, dict[str, Any]]:
    """Each item's row by sku, keyed by field title: the web page's figures as of `now`."""
    sheet = agreement_sheet(session, config, agreement_id, now)
    counters = last_counters(session, agreement_id)
    lang = _lang(locale)
    titles = field_titles(lang)
    rows: dict[str, dict[str, Any]] = {}
    for item in sheet["items"]:
        by = counters.get(item["sku"])
        member = config.member(by) if by else None
        cover = item["cover"]
        last = item["last_count_at"]
        plain = {
            "sku": item["sku"],
            "name": item["name_en"] if lang == "en" and item.get("name_en") else item["name"],
            "on_hand": item["on_hand"],
            "in_transit": item["in_transit"],
            "position": item["position"],
            "min": item["min"],
            "max": item["max"],
            "cover": round(cover, 1) if cover is not None else None,
            "last_count_at": last,  # ISO 8601 in the agreement's zone, or None
            "counted_by": (member.name if member else by) if last else None,
        }
        rows[item["sku"]] = {
            title: plain[key] for (title, _kind), (key, *_rest) in zip(titles, FIELDS, strict=True)
        }
    return rows


def doc_members(config: Config, agreement: AgreementConfig) -> list[tuple[str, int]]:
    """Whom the doc is shared with: every member of the agreement with a WeCom id, the
    supplier's and the customer's side to read, admins to edit; sorted, as stored."""
    shared: dict[str, int] = {}
    for member in config.members:
        if not member.wecom or agreement.id not in {a.id for a in config.agreements_of(member)}:
            continue
        auth = EDIT if member.role == "admin" else READ
        shared[member.wecom] = max(shared.get(member.wecom, 0), auth)
    return sorted(shared.items())
