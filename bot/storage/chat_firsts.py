"""Each chat's first row among those waiting (messages to handle, answers to send), read a page
at a time in id order, instead of grouping every waiting row by chat.

A chat's rows go one at a time and in order, so only its first waiting row may be taken. The
first row of a chat met in id order is that one. The first page is as long as the batch, which
is enough when chats have a row or two waiting each, as on a morning of counts; the next pages
are twice as long each (up to `PAGE_MOST`), for chats with many rows waiting, or chats another
process holds. A pass costs what it reads: grouping the whole backlog on every pass cost
PostgreSQL more than handling the messages did.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import cast

from sqlalchemy import Connection, Executable

PAGE_MOST = 1_000  # rows read at once


def chat_firsts(
    connection: Connection, page: Executable, params: Mapping[str, object], batch: int
) -> Iterator[list[int]]:
    """The ids of chats' first waiting rows, oldest first, a page at a time. `page` selects
    the id, platform and chat of waiting rows with an id above `:after`, in id order, at most
    `:page` of them."""
    chats: set[tuple[str, str]] = set()
    after, size = 0, max(batch, 1)
    while True:
        rows = connection.execute(page, {**params, "after": after, "page": size}).all()
        first = []
        for row_id, platform, chat in rows:
            if (platform, chat) not in chats:
                chats.add((platform, chat))
                first.append(cast(int, row_id))  # a stored row has its id
        if first:
            yield first
        if len(rows) < size:
            return
        after, size = cast(int, rows[-1][0]), min(size * 2, PAGE_MOST)
