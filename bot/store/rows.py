"""What every part of the Store shares: the engine, the write transaction, lists as one parameter, locks."""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, NamedTuple, TypeVar

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


class Direct:
    """A busy statement that SQLite runs straight from its driver: its SQL, parameter order and
    conversions are worked out once per set of columns, where SQLAlchemy works them out on every
    execution (which costs more than SQLite's own work). Other databases run it through SQLAlchemy.
    Rows come back as plain tuples, unconverted: for columns of ints and text."""

    def __init__(self, statement: Any):
        self.statement = statement
        self._plans: dict[tuple[str, ...] | None, _Plan] = {}

    def rows(self, conn: Connection, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        if conn.dialect.name != "sqlite":
            return [tuple(row) for row in conn.execute(self.statement, params).all()]
        plan = self._plan(conn.dialect, None)
        return _driver(conn).execute(plan.sql, plan.values(params)).fetchall()

    def run_many(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """The statement once for each row of parameters (an insert: each row's keys the same)."""
        if not rows:
            return
        if conn.dialect.name != "sqlite":
            conn.execute(self.statement, rows)
            return
        plan = self._plan(conn.dialect, tuple(rows[0]))
        _driver(conn).executemany(plan.sql, [plan.values(row) for row in rows])

    def returned(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> list[Any]:
        """An insert with RETURNING one column: that column of each row, in order."""
        if not rows:
            return []
        if conn.dialect.name != "sqlite":
            return list(conn.execute(self.statement, rows).scalars().all())
        plan = self._plan(conn.dialect, tuple(rows[0]))
        cursor = _driver(conn).cursor()
        return [cursor.execute(plan.sql, plan.values(row)).fetchone()[0] for row in rows]

    def _plan(self, dialect: Dialect, columns: tuple[str, ...] | None) -> _Plan:
        plan = self._plans.get(columns)
        if plan is None:
            plan = self._plans[columns] = _Plan.of(
                self.statement.compile(dialect=dialect, column_keys=columns)
            )
        return plan


def _driver(conn: Connection) -> Any:
    """The sqlite3 connection under SQLAlchemy's: the same transaction."""
    return conn.connection.driver_connection


class _Plan(NamedTuple):
    sql: str
    binds: tuple[tuple[str, bool, Any, Callable[[Any], Any] | None], ...]  # name, required, default, convert

    @classmethod
    def of(cls, compiled: Any) -> _Plan:
        defaults = {}  # the table's defaults for the columns an insert leaves out
        for column in compiled.insert_prefetch:
            if not column.default.is_scalar:
                raise TypeError(f"{column}: Direct knows only plain defaults")
            defaults[column.key] = column.default.arg
        binds = tuple(
            (name, bind.required and name not in defaults, defaults.get(name, bind.value),
             bind.type.bind_processor(compiled.dialect))
            for name, bind in ((name, compiled.binds[name]) for name in compiled.positiontup)
        )  # fmt: skip
        return cls(compiled.string, binds)

    def values(self, params: dict[str, Any]) -> list[Any]:
        values = []
        for name, required, default, convert in self.binds:
            value = params[name] if required else params.get(name, default)
            values.append(convert(value) if convert else value)
        return values


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
