"""What every part of the Store shares: the engine, the write transaction, lists as one parameter, locks."""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Text, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator, TypeEngine

T = TypeVar("T")


class _Listed(TypeDecorator[Sequence[Any]]):
    """A list bound as one parameter: JSON text for SQLite's json_each, an array for PostgreSQL."""

    impl = Text
    cache_ok = True

    def __init__(self, item: TypeEngine[Any]):
        super().__init__()
        self.item = item

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(ARRAY(self.item) if dialect.name == "postgresql" else Text())

    def process_bind_param(self, value: Sequence[Any] | None, dialect: Dialect) -> Any:
        return list(value or ()) if dialect.name == "postgresql" else json.dumps(list(value or ()))


class _OneOf(FunctionElement[bool]):
    inherit_cache = True  # untyped: a Boolean would be written "... = 1" on SQLite, which no index serves
    name = "one_of"


def one_of(column: ColumnElement[Any], name: str) -> ColumnElement[bool]:
    """`column IN (...)` with the list given as one parameter `name`: the statement is the same for any
    number of values, so it is compiled once (an expanding IN is rewritten for every call, which costs
    more than the query) and never reaches a database's limit on parameters."""
    return _OneOf(column, bindparam(name, type_=_Listed(column.type)))  # type: ignore[return-value]


@compiles(_OneOf)
def _in_json_each(element: _OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    column, values = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"{column} IN (SELECT value FROM json_each({values}))"


@compiles(_OneOf, "postgresql")
def _any(element: _OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    column, values = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"{column} = ANY({values})"


def lock_key(name: str) -> int:
    """A PostgreSQL advisory lock's number for a name."""
    return zlib.crc32(f"newsalert:{name}".encode())


_HOLD = text("SELECT pg_advisory_xact_lock(:key)")


def hold_lock(conn: Connection, name: str) -> None:
    """On PostgreSQL, wait for the named lock and hold it to the end of this transaction, so that
    replicas take turns; elsewhere nothing (a SQLite file has one process, its writers queue)."""
    if conn.dialect.name == "postgresql":
        conn.execute(_HOLD, {"key": lock_key(name)})


class Rows:
    engine: AsyncEngine

    def _write(self) -> AbstractAsyncContextManager[Any]:
        """A write transaction (the Store queues SQLite writers on one lock)."""
        raise NotImplementedError

    async def _run(self, work: Callable[[Connection], T], *, write: bool = False) -> T:
        """`work` with a plain connection, in one transaction (the Store says how)."""
        raise NotImplementedError
