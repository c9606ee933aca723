"""Signed, expiring links to the shared sheet's pages (DESIGN §7, CONTRACT §4 `GET /sheet/...`).

A link carries who asked and which agreements they may see (their party's), and when it ends,
signed with HMAC (itsdangerous) under `VMI_SHEET_SECRET`; it never carries a secret. The expiry
is in the signed payload and checked against a `now` passed in, so the clock stays an input.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlencode

from itsdangerous import BadSignature, URLSafeSerializer

from bot.config import Config, Member
from bot.settings import Settings, secret

DEFAULT_VALID = timedelta(days=7)
_SALT = "vmi-sheet"  # a key of its own: a token signed for anything else never opens a sheet


@dataclass(frozen=True)
class Grant:
    """What a valid link lets its holder see: the member it was given to and their agreements."""

    member_id: str
    agreement_ids: tuple[str, ...]
    expires: datetime


@dataclass(frozen=True)
class SheetLinks:
    """Makes and reads the sheet's links: the secret, the public base URL, how long they last."""

    secret: str
    public_url: str
    valid_for: timedelta = DEFAULT_VALID

    def _serializer(self) -> URLSafeSerializer:
        return URLSafeSerializer(self.secret, salt=_SALT)

    def token(self, member: Member, agreement_ids: Collection[str], now: datetime) -> str:
        """The signed key of a link for `member`, to `agreement_ids`, ending `valid_for` after
        `now`."""
        expires = int((now + self.valid_for).timestamp())
        payload = {"m": member.id, "a": sorted(agreement_ids), "e": expires}
        return str(self._serializer().dumps(payload))

    def sheet_url(self, agreement_id: str, key: str) -> str:
        """The page of one agreement."""
        return (
            f"{self.public_url.rstrip('/')}/sheet/{quote(agreement_id)}?{urlencode({'key': key})}"
        )

    def overview_url(self, key: str) -> str:
        """The supplier's overview: every agreement of the link, items sorted by cover."""
        return f"{self.public_url.rstrip('/')}/sheet/overview?{urlencode({'key': key})}"

    def grant(self, key: str, config: Config, now: datetime) -> Grant | None:
        """What `key` lets one see now; None when it is not ours, tampered with or expired, or
        its member is gone. The agreements are those the member still takes part in."""
        try:
            payload = self._serializer().loads(key)
        except BadSignature:
            return None
        if not isinstance(payload, dict):
            return None
        member_id, ids, expires = payload.get("m"), payload.get("a"), payload.get("e")
        if not isinstance(member_id, str) or not isinstance(ids, list):
            return None
        if not isinstance(expires, int) or now.timestamp() >= expires:
            return None
        member = config.member(member_id)
        if member is None:
            return None
        theirs = {a.id for a in config.agreements_of(member)}  # a member moved since loses it
        allowed = tuple(i for i in ids if isinstance(i, str) and i in theirs)
        return Grant(member_id, allowed, datetime.fromtimestamp(expires, UTC))


def sheet_links(settings: Settings) -> SheetLinks | None:
    """The links of this process: None when `VMI_SHEET_SECRET` or `VMI_PUBLIC_URL` is not set
    (the chat then says the page is not set up)."""
    key = secret(settings.vmi_sheet_secret)
    if not key or not settings.vmi_public_url:
        return None
    return SheetLinks(key, settings.vmi_public_url, timedelta(days=max(settings.vmi_sheet_days, 1)))
