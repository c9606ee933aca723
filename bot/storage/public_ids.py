"""The ids people type for stored things: a letter and the row's number (P12 a proposal, S3 a
statement, O2 an overstock alert, A1 an amendment, I4 an imported sheet)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class PublicIds:
    """One kind's ids: `of(12)` is "P12", `row("p12")` is 12 (None when it is not one)."""

    letter: str
    what: str  # "a proposal": for the error when a row has no id yet
    _pattern: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        pattern = re.compile(rf"[{self.letter.upper()}{self.letter.lower()}](\d{{1,12}})")
        object.__setattr__(self, "_pattern", pattern)

    def of(self, row_id: int | None) -> str:
        """The id people type for row `row_id` (a row gets its id when it is flushed)."""
        if row_id is None:
            raise ValueError(f"{self.what} has no id before it is stored")
        return f"{self.letter}{row_id}"

    def row(self, public: str) -> int | None:
        """The row's number in `public` ("P12", "p12", " P12 "); None when it is not one."""
        found = self._pattern.fullmatch(public.strip())
        return int(found[1]) if found else None
