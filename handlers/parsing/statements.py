"""The settlement phrases (CONTRACT §5): `确认对账 S3` / `confirm statement S3`, `对账有误 S3
原因` / `dispute S3 reason`, `重新出账 S3` / `reissue S3`, and `对账` / `statement` to see the
open statement. Read before the stock words, which would take 确认 or 对 for something else."""

from __future__ import annotations

import re

from handlers.parsing.parsed import Refusal, StatementAction, StatementQuery, StatementStep

_ID = r"(?:\s*(?P<id>[Ss]\d{1,12})(?![0-9A-Za-z]))?"
_REST = r"\s*[,，:：;；]?\s*(?P<rest>.*)"
_VERBS = {
    "confirm": (
        r"确认对账|对账确认|对账无误|确认(?=\s*[Ss]\d)"
        r"|confirm\s+(?:the\s+)?statement|confirm\s+(?=[Ss]\d)"
    ),
    "dispute": r"对账有误|对账不对|账不对|dispute(?:\s+(?:the\s+)?statement)?",
    "reissue": r"重新出账|重新对账|重出对账单|re-?issue(?:\s+(?:the\s+)?statement)?",
}
_STEPS: tuple[StatementStep, ...] = ("confirm", "dispute", "reissue")
_ACTION = re.compile(
    r"^\s*(?:(?P<verb>"
    + "|".join(f"(?P<{k}>{v})" for k, v in _VERBS.items())
    + ")"
    + _ID
    + _REST
    + r")$",
    re.IGNORECASE | re.DOTALL,
)
_QUERY = re.compile(
    r"^\s*(?:对账单?|结算单|对账情况|statement|settlement)" + _ID + r"\s*[?？吗]?\s*$",
    re.IGNORECASE,
)


def read_statement(text: str) -> StatementAction | StatementQuery | Refusal | None:
    """The settlement intent `text` states, a Refusal saying what it lacks, or None when it
    is not about a statement."""
    query = _QUERY.match(text)
    if query:
        return StatementQuery(_upper(query.group("id")))
    found = _ACTION.match(text)
    if not found:
        return None
    action: StatementStep = next(k for k in _STEPS if found.group(k))
    statement_id = _upper(found.group("id"))
    rest = found.group("rest").strip()
    if action == "confirm" and rest and not statement_id:
        return None  # "confirm P1 …" and other confirmations are not the statement's
    if not statement_id:
        hint = f"{action}_statement"
        return Refusal("ambiguous", hint=hint, missing="statement_id")
    if action == "dispute":
        return StatementAction("dispute", statement_id, reason=rest)
    if rest:
        return None  # "确认对账 S3 多余的话": not a plain confirmation; the reader says so
    return StatementAction(action, statement_id)


def _upper(found: str | None) -> str:
    return found.upper() if found else ""
