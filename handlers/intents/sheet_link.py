"""表格 / sheet and 总览 / overview: a signed, expiring link to the shared sheet's page, for the
asker alone, opening only their own party's agreements. A question: it records nothing."""

from __future__ import annotations

from bot.storage.smartsheet import doc_url
from handlers.parsing import SheetLink
from handlers.turn import Turn
from messages.cards import Card


def on_sheet_link(turn: Turn, intent: SheetLink) -> Card:
    """The link to this agreement's page, or to the overview of every agreement of the member's
    party; says the page is not set up when the server has no secret or public address. The
    agreement's WeCom smart sheet, when it has one, is linked below the page's."""
    smartsheet = doc_url(turn.session, turn.agreement.id) if intent.page != "overview" else None
    if turn.links is None:
        card = turn.card("sheet_link", off=True, page=intent.page, url="", expires="",
                         agreements=[], smartsheet=smartsheet or "")  # fmt: skip
        return card
    mine = [a.id for a in turn.config.agreements_of(turn.member)] or [turn.agreement.id]
    key = turn.links.token(turn.member, mine, turn.now)
    if intent.page == "overview":
        url = turn.links.overview_url(key)
    else:
        url = turn.links.sheet_url(turn.agreement.id, key)
    expires = (turn.now + turn.links.valid_for).astimezone(turn.agreement.tz)
    card = turn.card(
        "sheet_link", off=False, page=intent.page, url=url,
        expires=expires.strftime("%Y-%m-%d %H:%M"), agreements=mine,
        smartsheet=smartsheet or "",
    )  # fmt: skip
    return Card(card.title, card.lines, private=True)
