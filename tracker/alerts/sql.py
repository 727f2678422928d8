"""INSERT … SELECT with the SELECT written by the ORM (``query.sql_with_params()``):
the target's columns come from its model, so no column list is kept by hand."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection, models
from django.db.models import Value, lookups
from django.db.models.functions import Cast

PREFIX = "ins_"


def insert_select(model: type[models.Model], source: models.QuerySet[Any], **columns: Any) -> int:
    """Insert one row of ``model`` per row of ``source``: ``columns`` maps the model's
    field names to expressions over ``source`` (or plain values); every other field
    gets its model default, so that this cannot drift from ``model()``. Rows that
    would break a unique constraint are skipped. Returns the number inserted."""
    fields: dict[str, models.Field[Any, Any]] = {}
    given: dict[str, Any] = {}
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        column = str(field.column)
        fields[column] = field
        given[column] = columns[field.name] if field.name in columns else field.get_default()
    unknown = set(columns) - {f.name for f in fields.values()}
    if unknown:
        raise ValueError(f"{model.__name__} has no field(s) {', '.join(sorted(unknown))}")
    named = {PREFIX + column: _typed(expr, fields[column]) for column, expr in given.items()}
    query = source.order_by().annotate(**named).values(*named)
    select, params = query.query.sql_with_params()
    target = ", ".join(connection.ops.quote_name(c) for c in given)
    # The WHERE: without it SQLite would read ON CONFLICT as part of the SELECT.
    sql = (
        f"INSERT INTO {model._meta.db_table} ({target}) "
        f"SELECT * FROM ({select}) AS src WHERE true ON CONFLICT DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


def _typed(value: Any, field: models.Field[Any, Any]) -> Any:
    """An expression of the column's type: a bare NULL in a sub-SELECT would be read as
    text, which PostgreSQL refuses to insert into a date or a number."""
    if hasattr(value, "resolve_expression"):
        return value
    if value is None:
        return Cast(Value(None), output_field=field)
    return Value(value, output_field=field)


def where_sql(queryset: models.QuerySet[Any]) -> tuple[str, tuple[Any, ...]]:
    """The WHERE clause of ``queryset`` as the ORM writes it, its columns qualified by
    the table's own name, for an UPDATE of that table."""
    query = queryset.query
    compiler = query.get_compiler(connection=connection)
    compiler.setup_query()
    sql, params = compiler.compile(query.where)
    return sql, tuple(params)


class AnyOf(lookups.In):
    """``expression IN (values)`` for a long list of values, used as a filter:
    ``queryset.filter(AnyOf(F("id"), ids))``. On PostgreSQL it is written
    ``expression = ANY(%s)`` with the values as one array parameter: a batch's 500 ids
    or addresses are then not 500 placeholders, each prepared by the ORM and merged
    into the statement by psycopg (bench/README.md, "Delivery"; test: the same rows as
    ``__in``). Elsewhere it is ``IN``."""

    def as_postgresql(self, compiler: Any, connection: Any) -> tuple[str, Sequence[Any]]:
        if not self.rhs_is_direct_value():
            return self.as_sql(compiler, connection)
        lhs, lhs_params = self.process_lhs(compiler, connection)
        field = self.lhs.output_field
        values = [field.get_db_prep_value(v, connection) for v in self.rhs if v is not None]
        if not values:
            raise EmptyResultSet
        return f"{lhs} = ANY(%s)", [*lhs_params, list(dict.fromkeys(values))]
