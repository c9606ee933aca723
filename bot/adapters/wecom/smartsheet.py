"""WeCom's document API (`wedoc`) for the smart sheet mirror: create a smart sheet (智能表格),
find its sheet, add fields, share it, and list, add and update records, all by field title.

Cells in WeCom's shape: a text is `[{"type": "text", "text": ...}]`, a number a plain number, a
date a millisecond timestamp as text; an empty value is left out. A rate limit (45009, 45033,
45047) or a busy system is `RetryLater` (wechatpy itself fetches a new token once on 40014 /
42001 and tries again); any other errcode, 640017 (the app may not edit this doc) among them,
is `NeverDeliverable`: the mirror marks itself failed rather than loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import requests
from wechatpy.exceptions import WeChatClientException

from bot.adapters.wecom.client import WeComClient
from bot.runtime.delivery import NeverDeliverable, RetryLater

SMART_SHEET = 10  # create_doc's doc_type of a smart sheet
BY_TITLE = "CELL_VALUE_KEY_TYPE_FIELD_TITLE"
PAGE = 1000  # get_records' most per call
MEMBERS_PER_CALL = 100  # mod_doc_member's most per list
FIELD_TYPES = {"text": "FIELD_TYPE_TEXT", "number": "FIELD_TYPE_NUMBER",
               "date_time": "FIELD_TYPE_DATE_TIME"}  # fmt: skip
FREQUENCY_LIMIT = 45009
TRY_AGAIN = frozenset({-1, 40014, 42001, 45009, 45033, 45047})


def _cell(kind: str, value: Any) -> Any:
    if kind == "number":
        return value
    if kind == "date_time":
        return str(int(datetime.fromisoformat(value).timestamp() * 1000))
    return [{"type": "text", "text": str(value)}]


def _cells(values: dict[str, Any], kinds: dict[str, str]) -> dict[str, Any]:
    return {t: _cell(kinds.get(t, "text"), v) for t, v in values.items() if v is not None}


def _plain(value: Any) -> Any:
    """A cell as read back: text pieces joined, anything else as it is."""
    if isinstance(value, list):
        return "".join(str(p.get("text", "")) for p in value if isinstance(p, dict))
    return value


class WeComSmartSheet:
    """The `wedoc` calls the mirror makes (`bot.runtime.smartsheet_mirror.SheetApi`)."""

    def __init__(self, client: WeComClient, limit_wait_seconds: float = 60) -> None:
        self.client = client
        self.limit_wait_seconds = limit_wait_seconds

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            answer: dict[str, Any] = self.client.post(f"wedoc/{path}", data=body)
        except WeChatClientException as err:
            if err.errcode is None:  # an HTTP error, not an answer
                raise RetryLater(f"{path}: HTTP error") from err
            code = int(err.errcode)
            reason = f"{path}: errcode {code}: {err.errmsg}"
            if code == FREQUENCY_LIMIT:
                raise RetryLater(reason, after=self.limit_wait_seconds) from err
            if code in TRY_AGAIN:
                raise RetryLater(reason) from err
            raise NeverDeliverable(reason) from err
        except requests.RequestException as err:
            raise RetryLater(f"{path}: network: {err.__class__.__name__}") from err
        return answer

    def create_doc(self, name: str) -> tuple[str, str]:
        """A new smart sheet: its docid and url."""
        answer = self._post("create_doc", {"doc_type": SMART_SHEET, "doc_name": name[:255]})
        return str(answer["docid"]), str(answer.get("url", ""))

    def first_sheet(self, docid: str) -> str:
        """The sheet_id of the doc's first sheet."""
        sheets = self._post("smartsheet/get_sheet", {"docid": docid}).get("sheet_list") or []
        if not sheets:
            body = {"docid": docid, "properties": {"title": "VMI", "index": 0}}
            added = self._post("smartsheet/add_sheet", body)
            return str(added["properties"]["sheet_id"])
        return str(sheets[0]["sheet_id"])

    def fields(self, docid: str, sheet_id: str) -> dict[str, str]:
        """The sheet's fields: field_id by title."""
        answer = self._post("smartsheet/get_fields", {"docid": docid, "sheet_id": sheet_id})
        return {str(f["field_title"]): str(f["field_id"]) for f in answer.get("fields") or []}

    def add_fields(
        self, docid: str, sheet_id: str, fields: Sequence[tuple[str, str]]
    ) -> dict[str, str]:
        """Add fields (title, kind); field_id by title."""
        body = {"docid": docid, "sheet_id": sheet_id, "fields": [
            {"field_title": title, "field_type": FIELD_TYPES[kind]} for title, kind in fields
        ]}  # fmt: skip
        answer = self._post("smartsheet/add_fields", body)
        return {str(f["field_title"]): str(f["field_id"]) for f in answer.get("fields") or []}

    def share(self, docid: str, members: Sequence[tuple[str, int]], removed: Sequence[str]) -> None:
        """Give members (userid, auth) access to the doc; take it from `removed`."""
        for start in range(0, max(len(members), len(removed)), MEMBERS_PER_CALL):
            body: dict[str, Any] = {"docid": docid}
            update = members[start : start + MEMBERS_PER_CALL]
            gone = removed[start : start + MEMBERS_PER_CALL]
            if update:
                body["update_file_member_list"] = [
                    {"type": 1, "userid": userid, "auth": auth} for userid, auth in update
                ]
            if gone:
                body["del_file_member_list"] = [{"type": 1, "userid": u} for u in gone]
            self._post("mod_doc_member", body)

    def records(self, docid: str, sheet_id: str) -> list[tuple[str, dict[str, Any]]]:
        """Every record of the sheet, page by page: (record_id, plain values by title)."""
        found: list[tuple[str, dict[str, Any]]] = []
        offset = 0
        while True:
            answer = self._post("smartsheet/get_records", {
                "docid": docid, "sheet_id": sheet_id, "key_type": BY_TITLE,
                "offset": offset, "limit": PAGE,
            })  # fmt: skip
            for record in answer.get("records") or []:
                values = {str(t): _plain(v) for t, v in (record.get("values") or {}).items()}
                found.append((str(record["record_id"]), values))
            if not answer.get("has_more"):
                return found
            offset = int(answer.get("next") or offset + PAGE)

    def add_records(
        self, docid: str, sheet_id: str, rows: Sequence[dict[str, Any]], kinds: dict[str, str]
    ) -> list[str]:
        """Add rows; their record_ids in order."""
        answer = self._post("smartsheet/add_records", {
            "docid": docid, "sheet_id": sheet_id, "key_type": BY_TITLE,
            "records": [{"values": _cells(values, kinds)} for values in rows],
        })  # fmt: skip
        return [str(r["record_id"]) for r in answer.get("records") or []]

    def update_records(
        self,
        docid: str,
        sheet_id: str,
        rows: Sequence[tuple[str, dict[str, Any]]],
        kinds: dict[str, str],
    ) -> None:
        """Write rows (record_id, values) over what the records held."""
        self._post("smartsheet/update_records", {
            "docid": docid, "sheet_id": sheet_id, "key_type": BY_TITLE,
            "records": [{"record_id": r, "values": _cells(v, kinds)} for r, v in rows],
        })  # fmt: skip

    def delete_records(self, docid: str, sheet_id: str, record_ids: Sequence[str]) -> None:
        """Delete records, at most 100 a call."""
        body = {"docid": docid, "sheet_id": sheet_id, "record_ids": list(record_ids)}
        self._post("smartsheet/delete_records", body)
