"""The WeCom smart sheet mirror: a background loop of its own, not the outbox.

Why a loop and not outbox rows: what the sheet must show is the current state, not each
change. A pass reads every mirrored agreement's rows as the web page shows them now, compares
them with what was last written (stored per item) and writes only the rows that differ, up to
500 a call. Any number of changes between two passes (a count, a receipt, an undo, an import,
a correction, typed here or recorded by another process) are thereby coalesced into one write
per changed row, and nothing is queued that could pile up behind a rate limit. The loop is
woken when a message was handled and looks anyway every `idle_seconds`; it never runs in the
thread that handles a message. Since the comparison is with what was stored as written, what
a stopped or crashed process did not mirror is mirrored by the next pass after a start.

Per agreement, one process at a time works on the doc: it takes the agreement's lease in the
database (`bot.storage.smartsheet`), so two processes or a restart never create two docs. Steps,
each kept once done: create the doc (the app may edit only docs it created: its docid is
stored), find its sheet, add the fields, share it with the members, then the rows. A rate
limit (45009, 45033, 45047) puts the agreement off until WeCom's wait is over (stored, so every
process keeps it); a refusal that no retry cures (640017: the app may not edit this doc) marks
the mirror failed and says so in the log once.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Engine

from bot.config import AgreementConfig, Config
from bot.runtime.background import BackgroundLoop
from bot.runtime.delivery import NeverDeliverable, RetryLater
from bot.services.smartsheet_rows import doc_members, doc_name, field_titles, sheet_rows
from bot.storage import smartsheet as stored
from bot.storage.db import transaction

log = logging.getLogger(__name__)

BATCH = 500  # records per add_records / update_records call, WeCom's limit
DELETE_BATCH = 100  # record_ids per delete_records call, WeCom's limit
LEASE = timedelta(minutes=5)  # longer than a pass's calls (15 s each at most) take
RATE_LIMIT_WAIT = timedelta(seconds=60)
Clock = Callable[[], datetime]
Values = dict[str, Any]


class SheetApi(Protocol):
    """WeCom's wedoc calls the mirror makes. Each raises `RetryLater` for what a later try may
    cure (rate limits, network, system busy) and `NeverDeliverable` for a refusal."""

    def create_doc(self, name: str) -> tuple[str, str]:
        """A new smart sheet: its docid and url."""
        ...

    def first_sheet(self, docid: str) -> str:
        """The sheet_id of the doc's first sheet (a new smart sheet has one)."""
        ...

    def fields(self, docid: str, sheet_id: str) -> dict[str, str]:
        """The sheet's fields: field_id by title."""
        ...

    def add_fields(
        self, docid: str, sheet_id: str, fields: Sequence[tuple[str, str]]
    ) -> dict[str, str]:
        """Add fields (title, kind: text, number, date_time); field_id by title."""
        ...

    def share(self, docid: str, members: Sequence[tuple[str, int]], removed: Sequence[str]) -> None:
        """Give `members` (userid, auth) access; take it from `removed` userids."""
        ...

    def records(self, docid: str, sheet_id: str) -> list[tuple[str, Values]]:
        """Every record of the sheet: (record_id, values by title, as plain values)."""
        ...

    def add_records(
        self, docid: str, sheet_id: str, rows: Sequence[Values], kinds: dict[str, str]
    ) -> list[str]:
        """Add rows (values by title); their record_ids, in order."""
        ...

    def update_records(
        self, docid: str, sheet_id: str, rows: Sequence[tuple[str, Values]], kinds: dict[str, str]
    ) -> None:
        """Write rows (record_id, values by title)."""
        ...

    def delete_records(self, docid: str, sheet_id: str, record_ids: Sequence[str]) -> None:
        """Delete records (of items no longer in the agreement)."""
        ...


def _owner() -> str:
    """This mirror's name in the lease: host, pid and a random part (two in one process)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _system_clock() -> datetime:
    return datetime.now(UTC)


class SmartSheetMirror(BackgroundLoop):
    """Keeps each agreement with `wecom_smartsheet = true` mirrored to its smart sheet."""

    name = "smartsheet"

    def __init__(
        self,
        engine: Engine,
        config: Config,
        api: SheetApi,
        clock: Clock = _system_clock,
        idle_seconds: float = 30,
    ) -> None:
        super().__init__(idle_seconds)
        self.engine = engine
        self.config = config
        self.api = api
        self.clock = clock
        self.owner = _owner()
        self._failed_said: set[str] = set()

    def pass_once(self) -> bool:
        """Mirror every agreement that asks for it; never more waiting right now."""
        for agreement in self.config.agreements:
            if agreement.wecom_smartsheet:
                self.mirror(agreement)
        return False

    def mirror(self, agreement: AgreementConfig) -> None:
        """One agreement's doc brought in step, if this mirror gets its lease."""
        now = self.clock()
        with transaction(self.engine) as session:
            doc = stored.take_lease(session, agreement.id, self.owner, now, now + LEASE)
        if doc is None:
            return  # another process is at it
        try:
            if doc.state == stored.FAILED:
                if agreement.id not in self._failed_said:
                    log.warning("smart sheet of %s: failed earlier; not written", agreement.id)
                    self._failed_said.add(agreement.id)
                return
            if doc.retry_after is not None and doc.retry_after > now:
                return
            self._steps(agreement, doc, now)
        except RetryLater as err:
            wait = timedelta(seconds=err.after) if err.after else RATE_LIMIT_WAIT
            log.warning("smart sheet of %s: %s; trying again in %s", agreement.id, err, wait)
            with transaction(self.engine) as session:
                stored.retry_after(session, agreement.id, self.owner, now + wait, now)
        except NeverDeliverable as err:
            log.error(
                "smart sheet of %s: WeCom refused (%s); the mirror is marked failed and stops "
                "(the app may edit only docs it created)",
                agreement.id,
                err,
            )
            with transaction(self.engine) as session:
                stored.failed(session, agreement.id, self.owner, str(err), now)
        finally:
            with transaction(self.engine) as session:
                stored.release(session, agreement.id, self.owner)

    def _steps(self, agreement: AgreementConfig, doc: stored.SheetDoc, now: datetime) -> None:
        locale = self.config.bot.locale
        docid, sheet_id, fields = doc.docid, doc.sheet_id, doc.fields
        if docid is None:
            docid, url = self.api.create_doc(doc_name(agreement, self.config, locale))
            with transaction(self.engine) as session:
                if not stored.created(session, agreement.id, self.owner, docid, url, now):
                    raise RetryLater("lease lost while creating the doc")
            log.warning("smart sheet of %s created: %s", agreement.id, url)
        if sheet_id is None:
            sheet_id = self.api.first_sheet(docid)
            with transaction(self.engine) as session:
                stored.set_sheet(session, agreement.id, self.owner, sheet_id, now)
        wanted = field_titles(locale)
        kinds = dict(wanted)
        if set(kinds) - set(fields):
            fields = self.api.fields(docid, sheet_id)  # some may be there from a cut-off try
            missing = [(t, k) for t, k in wanted if t not in fields]
            if missing:
                fields = {**fields, **self.api.add_fields(docid, sheet_id, missing)}
            with transaction(self.engine) as session:
                stored.set_fields(session, agreement.id, self.owner, fields, now)
        members = doc_members(self.config, agreement)
        if members != doc.shared or doc.state != stored.READY:
            before = dict(doc.shared)
            changed = [(u, a) for u, a in members if before.get(u) != a]
            removed = sorted(set(before) - {u for u, _ in members})
            if changed or removed:
                self.api.share(docid, changed, removed)
            with transaction(self.engine) as session:
                stored.set_shared(session, agreement.id, self.owner, members, now)
        self._rows(agreement, docid, sheet_id, kinds, now, locale)

    def _rows(
        self,
        agreement: AgreementConfig,
        docid: str,
        sheet_id: str,
        kinds: dict[str, str],
        now: datetime,
        locale: str,
    ) -> None:
        """Write the rows that differ from what was last written, 500 a call."""
        with transaction(self.engine, read_only=True) as session:
            rows = sheet_rows(session, self.config, agreement.id, now, locale)
            done = stored.written(session, agreement.id)
        changed = [
            (done[sku].record_id, sku, values)
            for sku, values in rows.items()
            if sku in done and done[sku].values != values
        ]
        new = [(sku, values) for sku, values in rows.items() if sku not in done]
        if new:
            new = self._adopt(agreement, docid, sheet_id, new, kinds, changed, now)
        for start in range(0, len(changed), BATCH):
            batch = changed[start : start + BATCH]
            try:
                self.api.update_records(docid, sheet_id, [(r, v) for r, _, v in batch], kinds)
            except NeverDeliverable:
                self._forget_deleted(agreement, docid, sheet_id, [(r, s) for r, s, _ in batch])
                raise
            with transaction(self.engine) as session:
                stored.save_written(session, agreement.id, [(s, r, v) for r, s, v in batch], now)
        dropped = sorted((w.record_id, sku) for sku, w in done.items() if sku not in rows)
        for start in range(0, len(dropped), DELETE_BATCH):
            gone = dropped[start : start + DELETE_BATCH]
            self.api.delete_records(docid, sheet_id, [r for r, _ in gone])
            with transaction(self.engine) as session:
                stored.forget(session, agreement.id, [s for _, s in gone])
        for start in range(0, len(new), BATCH):
            batch_new = new[start : start + BATCH]
            ids = self.api.add_records(docid, sheet_id, [v for _, v in batch_new], kinds)
            with transaction(self.engine) as session:
                stored.save_written(
                    session,
                    agreement.id,
                    [(s, r, v) for (s, v), r in zip(batch_new, ids, strict=True)],
                    now,
                )

    def _forget_deleted(
        self,
        agreement: AgreementConfig,
        docid: str,
        sheet_id: str,
        written: Sequence[tuple[str, str]],
    ) -> None:
        """An update refused: when some of its records were deleted in the sheet by hand, forget
        them (the next pass adds those rows again) and try later instead of failing."""
        there = {record_id for record_id, _ in self.api.records(docid, sheet_id)}
        gone = [sku for record_id, sku in written if record_id not in there]
        if not gone:
            return  # a refusal of the rows themselves: the mirror fails
        with transaction(self.engine) as session:
            stored.forget(session, agreement.id, gone)
        raise RetryLater(f"records of {', '.join(gone)} were deleted in the sheet", after=1)

    def _adopt(
        self,
        agreement: AgreementConfig,
        docid: str,
        sheet_id: str,
        new: list[tuple[str, Values]],
        kinds: dict[str, str],
        changed: list[tuple[str, str, Values]],
        now: datetime,
    ) -> list[tuple[str, Values]]:
        """Items without a stored record whose record is in the sheet already (added by a try
        cut off before it was stored) are updated, not added twice; the rest are new."""
        sku_title = next(t for t, k in kinds.items() if k == "text")  # the first field: sku
        there: dict[str, str] = {}
        for record_id, values in self.api.records(docid, sheet_id):
            sku = values.get(sku_title)
            if isinstance(sku, str) and sku not in there:
                there[sku] = record_id
        still_new = []
        for sku, values in new:
            if sku in there:
                changed.append((there[sku], sku, values))
            else:
                still_new.append((sku, values))
        return still_new
