"""Alembic support: `op.relay_enable_tenancy` / `op.relay_disable_tenancy`, and an
`include_object` filter that keeps what relay owns out of autogenerate.

In env.py:

    import relay_tenancy.alembic                    # registers the operations
    context.configure(..., include_object=relay_tenancy.alembic.include_object())

In a migration:

    def upgrade():
        op.relay_enable_tenancy("projects", global_unique=["code"])
    def downgrade():
        op.relay_disable_tenancy("projects", drop_column=True)

Each operation logs relay's returned lines (one per step, with the lock it took) on
the `alembic.relay_tenancy` logger, which alembic.ini's `alembic` logger prints.
"""

import logging
from typing import Any, Callable, Optional

from alembic.operations import MigrateOperation, Operations
from sqlalchemy import text

log = logging.getLogger("alembic.relay_tenancy")

# relay_enable_tenancy's named arguments and their SQL types
_ENABLE_OPTIONS = {
    "global_unique": "text[]",
    "default_tenant": "text",
    "views": "text",
    "primary_key": "text",
    "keep_foreign_keys": "text[]",
    "tenant_column": "text",
    "online": "boolean",
    "tenant_from": "text",
    "shared_rows": "boolean",
}
_DISABLE_OPTIONS = {"drop_column": "boolean"}


def _qualified(operations: Operations, table: str, schema: Optional[str]) -> str:
    quote = operations.impl.dialect.identifier_preparer.quote
    return f"{quote(schema)}.{quote(table)}" if schema else quote(table)


def _call(operations: Operations, function: str, table: str, schema: Optional[str], options: dict, types: dict) -> None:
    unknown = set(options) - set(types)
    if unknown:
        raise TypeError(f"{function}: unknown option(s) {', '.join(sorted(unknown))}")
    args = "".join(f", {name} => CAST(:{name} AS {types[name]})" for name in options)
    sql = text(f"SELECT line FROM public.{function}(CAST(:tbl AS regclass){args}) AS line")
    params = {"tbl": _qualified(operations, table, schema), **options}
    if operations.migration_context.as_sql:  # --sql: print the call, nothing to log
        operations.execute(sql.bindparams(**params))
        return
    for (line,) in operations.get_bind().execute(sql, params):
        log.info("%s", line)


@Operations.register_operation("relay_enable_tenancy")
class EnableTenancyOp(MigrateOperation):
    """SELECT relay_enable_tenancy(table, ...): see relay's README for the options."""

    def __init__(self, table: str, schema: Optional[str] = None, **options: Any):
        self.table, self.schema, self.options = table, schema, options

    @classmethod
    def relay_enable_tenancy(cls, operations: Operations, table: str, schema: Optional[str] = None, **options: Any):
        return operations.invoke(cls(table, schema=schema, **options))

    def reverse(self) -> "DisableTenancyOp":
        return DisableTenancyOp(self.table, schema=self.schema)


@Operations.register_operation("relay_disable_tenancy")
class DisableTenancyOp(MigrateOperation):
    """SELECT relay_disable_tenancy(table, drop_column => ...): the down migration."""

    def __init__(self, table: str, schema: Optional[str] = None, **options: Any):
        self.table, self.schema, self.options = table, schema, options

    @classmethod
    def relay_disable_tenancy(cls, operations: Operations, table: str, schema: Optional[str] = None, **options: Any):
        return operations.invoke(cls(table, schema=schema, **options))

    def reverse(self) -> EnableTenancyOp:
        return EnableTenancyOp(self.table, schema=self.schema)


@Operations.implementation_for(EnableTenancyOp)
def _enable(operations: Operations, op: EnableTenancyOp) -> None:
    _call(operations, "relay_enable_tenancy", op.table, op.schema, op.options, _ENABLE_OPTIONS)


@Operations.implementation_for(DisableTenancyOp)
def _disable(operations: Operations, op: DisableTenancyOp) -> None:
    _call(operations, "relay_disable_tenancy", op.table, op.schema, op.options, _DISABLE_OPTIONS)


def _columns(obj: Any) -> set:
    cols = getattr(obj, "columns", None)
    if cols is None:
        cols = getattr(obj, "expressions", [])
    return {getattr(c, "name", str(c)) for c in cols}


def include_object(
    tenant_column: str = "tenant_id", relay_schema: str = "relay", also: Optional[Callable[..., bool]] = None
) -> Callable[..., bool]:
    """An `include_object` for context.configure: relay's schema is not the
    application's, and the keys relay made per tenant are the model's keys.

    - tables of schema `relay` (with include_schemas=True) are left out;
    - a unique constraint or index that is the model's with the tenant column in
      front (relay keeps the name) is not a change, and one relay added (the tenant
      index, the (tenant, id) keys composite foreign keys need) is not a removal;
    - foreign keys of tenant tables are relay's business (it makes them composite; a
      single-column one between tenant tables is an error in relay_verify()).
    Declare the tenant column on the models (relay_tenancy.sqlalchemy.tenant_column()).
    `also` is your own filter, asked first.
    """

    def include(obj: Any, name: Optional[str], type_: str, reflected: bool, compare_to: Any) -> bool:
        if also is not None and not also(obj, name, type_, reflected, compare_to):
            return False
        if type_ == "table":
            return getattr(obj, "schema", None) != relay_schema
        if type_ not in ("unique_constraint", "index", "foreign_key_constraint"):
            return True
        table = getattr(obj, "table", None) if type_ != "foreign_key_constraint" else getattr(obj, "parent", None)
        tenant_table = table is not None and tenant_column in getattr(table, "c", {})
        columns = _columns(obj)
        if type_ == "foreign_key_constraint":
            return not (tenant_column in columns or tenant_table)
        if compare_to is not None:
            # the same name on both sides: relay's version is the model's plus the tenant column
            return _columns(compare_to) | {tenant_column} != columns | {tenant_column}
        if reflected:
            return tenant_column not in columns
        return True

    return include
