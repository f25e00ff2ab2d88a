"""Plain SQL on the database driver's own connection, for reads on a hot path (a decision reads four times per
request): SQLAlchemy Core spends about 80 us of Python on each statement before the database does anything, more
than an indexed look-up itself. Values go in and come out through the tables' own column types, so a time reads
back exactly as it does through Core (aware, in UTC, on both databases)."""

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Column, Connection
from sqlalchemy.engine import Dialect


class DriverSql:
    """The SQL of one connection's dialect: `?` and `IN (?, ...)` on SQLite, `%s` and `= ANY(%s)` on PostgreSQL.

    The connection's transaction is begun if it has not been, so that several reads share one snapshot (on SQLite;
    see `reading`)."""

    def __init__(self, connection: Connection) -> None:
        if not connection.in_transaction():
            connection.begin()  # what Core's first statement would do: BEGIN on SQLite (see `reading`)
        self.dialect = connection.dialect
        self.sqlite = self.dialect.name == "sqlite"
        self._driver: Any = connection.connection.driver_connection

    def value(self, column: Column[Any], value: Any) -> tuple[str, list[Any]]:
        """A placeholder for one value of `column`, and the value as the driver takes it."""
        return ("?" if self.sqlite else "%s"), [_bind(column, self.dialect)(value)]

    def one_of(self, column: Column[Any], values: Sequence[Any]) -> tuple[str, list[Any]]:
        """`column` is one of `values` (none: false), and the values as the driver takes them."""
        bind = _bind(column, self.dialect)
        bound = [bind(value) for value in values]
        if self.sqlite:
            return f"{column.name} IN ({','.join('?' * len(bound))})", bound
        return f"{column.name} = ANY(%s)", [bound]

    def rows(self, sql: str, parameters: Sequence[Any], columns: Sequence[Column[Any] | None]) -> list[tuple[Any, ...]]:
        """Every row of `sql`, each value read through its column's type (`None`: taken as the driver gives it)."""
        readers = [None if column is None else _result(column, self.dialect) for column in columns]
        fetched: list[tuple[Any, ...]]
        if self.sqlite:
            fetched = self._driver.execute(sql, parameters).fetchall()
        else:
            with self._driver.cursor() as cursor:
                cursor.execute(sql, parameters)
                fetched = cursor.fetchall()
        if not any(readers):
            return fetched
        return [
            tuple(value if read is None else read(value) for read, value in zip(readers, row, strict=True))
            for row in fetched
        ]


def _same(value: Any) -> Any:
    return value


@lru_cache(maxsize=512)
def _bind(column: Column[Any], dialect: Dialect) -> Any:
    return column.type.dialect_impl(dialect).bind_processor(dialect) or _same


@lru_cache(maxsize=512)
def _result(column: Column[Any], dialect: Dialect) -> Any:
    return column.type.dialect_impl(dialect).result_processor(dialect, None)
