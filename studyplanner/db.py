"""Short database blocks for async code.

Under ASGI all of a request's thread-sensitive ORM work runs on one thread, whose database
connection would otherwise stay open (or checked out of the pool) until the response ends.
A stream that waits minutes on the model must not hold a connection meanwhile (SPEC §12), so
async code does its database work through `run_db`, which hands the connection back after
each block.
"""

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.db import connections

P = ParamSpec("P")
T = TypeVar("T")


def _release_connections() -> None:
    for connection in connections.all(initialized_only=True):
        # Inside a transaction (a test's TestCase wrapper, an atomic block) the connection
        # belongs to that transaction and must stay.
        if not connection.in_atomic_block:
            connection.close()


async def run_db(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    def block() -> T:
        try:
            return fn(*args, **kwargs)
        finally:
            _release_connections()

    return await sync_to_async(block)()


# --- lean statements for the hot path (issue 16) -----------------------------------------
#
# A generation writes the same few rows the same way many times; building and compiling an
# ORM query for each write cost more CPU than the database round trip itself. These run the
# same SQL the ORM would, built once per shape, with the values prepared by each field (so
# JSON, dates and UUIDs are stored exactly as the ORM stores them). Only for models no
# signal listens to: Model.save()'s signals are not sent.


@functools.cache
def _update_sql(model, alias: str, columns: tuple, where: tuple, returning: tuple, extra: str):
    quote = connections[alias].ops.quote_name
    meta = model._meta
    assignments = ", ".join(f"{quote(meta.get_field(name).column)} = %s" for name in columns)
    conditions = " AND ".join(
        f"{quote(meta.get_field(name).column)} IS NULL"
        if is_null
        else f"{quote(meta.get_field(name).column)} = %s"
        for name, is_null in where
    )
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {conditions}"
    selected = [quote(meta.get_field(name).column) for name in returning]
    if extra:
        selected.append(extra)
    if selected:
        sql += " RETURNING " + ", ".join(selected)
    return sql


def update_row(
    model,
    where: dict,
    values: dict,
    returning: tuple = (),
    extra: str = "",
    extra_params: tuple = (),
    then_insert=None,
    using: str = "default",
) -> tuple | None:
    """`model.objects.filter(**where).update(**values)` for one row (equality conditions;
    None means IS NULL) as one statement built once per shape: the `returning` fields of the
    updated row as the model holds them (then what `extra`, one more SQL expression,
    gives), or () when nothing is returned; None when no row matched.

    `then_insert`: a new model instance (see insert_row) saved only if the row was updated.
    On PostgreSQL that is the same statement (`WITH updated AS (UPDATE … RETURNING …)
    INSERT … SELECT … FROM updated`: both or neither); elsewhere a second one. It needs
    `returning`."""
    connection = connections[using]
    meta = model._meta
    fields = {name: meta.get_field(name) for name in (*values, *where)}
    shape = tuple((name, value is None) for name, value in where.items())
    sql = _update_sql(model, using, tuple(values), shape, tuple(returning), extra)
    params = [fields[name].get_db_prep_save(value, connection) for name, value in values.items()]
    params += [
        fields[name].get_db_prep_value(value, connection)
        for name, value in where.items()
        if value is not None
    ]
    params += extra_params
    together = then_insert is not None and connection.vendor == "postgresql"
    if then_insert is not None and not returning:
        raise ValueError("then_insert needs a RETURNING column")
    if together:
        insert_sql, insert_params = _insert_statement(then_insert, connection, "updated")
        sql = f"WITH updated AS ({sql}), inserted AS ({insert_sql}) SELECT * FROM updated"
        params += insert_params
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if not returning and not extra:
            return () if cursor.rowcount else None
        row = cursor.fetchone()
    if row is None:
        return None
    if then_insert is not None and not together:
        insert_row(then_insert, using)
    elif together:
        _saved(then_insert, using)
    return (*from_db_values(model, connection, returning, row), *row[len(returning) :])


def from_db_values(model, connection, names, row) -> list:
    """The values of `row` for the fields `names` of `model`, as the ORM would load them."""
    converted = []
    for name, value in zip(names, row, strict=False):
        field = model._meta.get_field(name)
        for converter in connection.ops.get_db_converters(field.get_col(model._meta.db_table)):
            value = converter(value, field, connection)
        if hasattr(field, "from_db_value"):
            value = field.from_db_value(value, None, connection)
        converted.append(value)
    return converted


@functools.cache
def _insert_sql(model, alias: str, select_from: str = "") -> str:
    quote = connections[alias].ops.quote_name
    fields = model._meta.local_concrete_fields
    columns = ", ".join(quote(field.column) for field in fields)
    marks = ", ".join("%s" for _ in fields)
    values = f"SELECT {marks} FROM {select_from}" if select_from else f"VALUES ({marks})"
    return f"INSERT INTO {quote(model._meta.db_table)} ({columns}) {values}"


def _insert_statement(instance, connection, select_from: str = "") -> tuple[str, list]:
    """The INSERT of a new `instance` (VALUES, or one row per row of `select_from`) and its
    parameters, prepared by each field; `auto_now_add` fields are filled in as save() does."""
    params = [
        field.get_db_prep_save(field.pre_save(instance, True), connection)
        for field in type(instance)._meta.local_concrete_fields
    ]
    return _insert_sql(type(instance), connection.alias, select_from), params


def _saved(instance, using: str):
    instance._state.adding = False
    instance._state.db = using
    return instance


def insert_row(instance, using: str = "default"):
    """`instance.save()` of a new row whose primary key is set in Python (a UUID default),
    as one INSERT built once per model; `auto_now_add` fields are filled in as save() does.
    Returns the instance."""
    connection = connections[using]
    sql, params = _insert_statement(instance, connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    return _saved(instance, using)


@functools.cache
def _select_sql(model, alias: str, where: tuple) -> str:
    quote = connections[alias].ops.quote_name
    meta = model._meta
    columns = ", ".join(quote(field.column) for field in meta.concrete_fields)
    conditions = " AND ".join(f"{quote(meta.get_field(name).column)} = %s" for name in where)
    return f"SELECT {columns} FROM {quote(meta.db_table)} WHERE {conditions}"


def get_row(model, where: dict, using: str = "default"):
    """`model.objects.filter(**where).first()` for a row found by equality conditions (at
    most one row matches, e.g. a primary key among them), as one SELECT built once per
    shape; None if no row matches."""
    connection = connections[using]
    meta = model._meta
    params = [
        meta.get_field(name).get_db_prep_value(value, connection) for name, value in where.items()
    ]
    with connection.cursor() as cursor:
        cursor.execute(_select_sql(model, using, tuple(where)), params)
        row = cursor.fetchone()
    if row is None:
        return None
    names = [field.attname for field in meta.concrete_fields]
    return model.from_db(using, names, from_db_values(model, connection, names, row))
