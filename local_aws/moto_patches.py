"""Make moto's DynamoDB transactions O(items touched) instead of O(table size).

moto 5 backs up every touched *table* with `copy.deepcopy` before each TransactWriteItems, so a
loader that registers files in transactions slows down quadratically (1,000 files: 22 s; the next
1,000: 190 s). Real DynamoDB has no such cost. This patch backs up only the items the
transaction touches and restores just those on rollback; conditions, errors and cancellation
reasons are moto's own code paths. Applied by the tests, the benchmarks and local mode.
"""

from __future__ import annotations

import copy
from typing import Any

_applied = False


def apply() -> None:
    global _applied  # noqa: PLW0603 - patch once per process
    if _applied:
        return
    from moto.dynamodb.models import DynamoDBBackend

    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        backups = _backup_touched_items(self, transact_items)
        saved_tables = self.tables
        # moto's own implementation, with its whole-table deepcopy made cheap: it copies a
        # table-less view, then we restore the touched items ourselves on failure.
        self.tables = _NoDeepcopyTables(saved_tables)
        try:
            original(self, transact_items)
        except BaseException:
            self.tables = saved_tables
            _restore(self, backups)
            raise
        finally:
            self.tables = saved_tables

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    _applied = True


class _NoDeepcopyTables(dict):  # type: ignore[type-arg]
    """The backend's tables as moto's transaction sees them: `copy.deepcopy(table)` returns the
    live table (cheap), and moto's rollback assignments are ignored (we restore items)."""

    def __init__(self, tables: dict[str, Any]) -> None:
        super().__init__(tables)

    def __getitem__(self, name: str) -> Any:
        return _Shallow(super().__getitem__(name))

    def __setitem__(self, name: str, value: Any) -> None:
        return None  # moto's rollback; ours restores touched items instead


class _Shallow:
    """A table reference whose deepcopy is itself (moto only keeps it for rollback)."""

    def __init__(self, table: Any) -> None:
        object.__setattr__(self, "_table", table)

    def __deepcopy__(self, memo: dict[int, Any]) -> _Shallow:
        return self

    def __getattr__(self, name: str) -> Any:
        return getattr(object.__getattribute__(self, "_table"), name)


def _key_of(backend: Any, op_type: str, op: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    table_name = op.get("TableName")
    if not table_name or table_name not in backend.tables:
        return None
    table = backend.tables[table_name]
    if op_type == "Put":
        attrs = op["Item"]
        key = {table.hash_key_attr: attrs[table.hash_key_attr]}
        if table.range_key_attr is not None:
            key[table.range_key_attr] = attrs[table.range_key_attr]
        return table_name, key
    return table_name, op.get("Key", {})


def _backup_touched_items(backend: Any, transact_items: list[dict[str, Any]]) -> list[Any]:
    backups = []
    for entry in transact_items:
        op_type, op = next(iter(entry.items()))
        located = _key_of(backend, op_type, op)
        if located is None:
            continue
        table_name, key = located
        try:
            current = backend.get_item(table_name, key)
        except Exception:
            continue
        snapshot = copy.deepcopy(current.to_json()["Attributes"]) if current else None
        backups.append((table_name, key, snapshot))
    return backups


def _restore(backend: Any, backups: list[Any]) -> None:
    for table_name, key, snapshot in reversed(backups):
        table = backend.tables[table_name]
        if snapshot is None:
            if backend.get_item(table_name, key) is not None:
                backend.delete_item(table_name, key)
        else:
            table.put_item(snapshot)
