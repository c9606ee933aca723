"""A built-once statement's "one of these values": `= :name` for one value, `IN (…)` for more.

SQLAlchemy expands an `IN` list into placeholders each time the statement runs, which cost a
count's reply more than SQLite's work for the statement; a single value, the common case (one
agreement, one item), is compared with `=` and the statement is taken from the cache whole.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Literal, TypeVar

from sqlalchemy import ColumnElement, bindparam, or_

Among = Literal["all", "one", "several"]  # no condition; `=`; `IN`
Q = TypeVar("Q")


def among_of(values: Collection[object] | None) -> Among:
    """How a query is to compare with `values`: None is every value (no condition)."""
    if values is None:
        return "all"
    return "one" if len(values) == 1 else "several"


def where_among(query: Q, column: Any, name: str, among: Among) -> Q:
    """`query` with `column` among the values bound as `name` (see `bound`)."""
    if among == "one":
        return query.where(column == bindparam(name))  # type: ignore[attr-defined,no-any-return]
    if among == "several":
        return query.where(column.in_(bindparam(name, expanding=True)))  # type: ignore[attr-defined,no-any-return]
    return query


def bound(values: Collection[object] | None) -> object:
    """What to bind for `values` in a query built with `among_of(values)`."""
    if values is None:
        return []
    return next(iter(values)) if len(values) == 1 else list(values)


def is_one_of(column: Any, constants: Collection[object]) -> ColumnElement[bool]:
    """`column` equal to one of a few values fixed in the code (the open states, the outgoing
    kinds): written as `=` … OR …, which the statement cache keeps whole, unlike `IN`."""
    first, *others = constants  # none would be no condition at all: a mistake here
    return or_(column == first, *(column == constant for constant in others))
