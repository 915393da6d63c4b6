"""A bench-only patch: moto answers a base-table Query page from the start key on, instead of
walking, sorting and skipping the whole partition for every page.

moto 5's `Table.query` collects every item of the table, keeps the partition's, sorts them and
skips those before `ExclusiveStartKey`, for each page: a 1,000,000-member batch's ~190 pages
would cost ~190 full sorts of a million items (hours). DynamoDB serves a page from the start key
in time independent of the partition's size. The patch narrows moto's input to a window of the
sorted partition after the start key and lets moto's own code do the rest (conditions, the 1 MB
page limit, projection), falling back to moto's full path whenever the window could change the
answer. Applied by bench/million.py only, in the process that runs the moto server.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

WINDOW = 50_000
"""Items handed to moto per page: far more than a 1 MB page of members (~5,300) holds."""


def apply() -> None:
    from moto.dynamodb.models.table import Table

    original = Table.query
    if getattr(original, "_bench_windowed", False):
        return

    def query(
        self: Any,
        hash_key: Any,
        range_comparison: Any,
        range_objs: Any,
        limit: Any,
        exclusive_start_key: Any,
        scan_index_forward: bool,
        projection_expressions: Any,
        index_name: str | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        def moto(start_key: Any = exclusive_start_key) -> Any:
            return original(
                self,
                hash_key,
                range_comparison,
                range_objs,
                limit,
                start_key,
                scan_index_forward,
                projection_expressions,
                index_name,
                *args,
                **kwargs,
            )

        partition = self.items.get(hash_key) if hash_key is not None else None
        if index_name or not self.range_key_attr or not scan_index_forward or not partition:
            return moto()
        start = (exclusive_start_key or {}).get(self.range_key_attr, {}).get("S")
        if exclusive_start_key and start is None:
            return moto()
        ordered = sorted(partition.values(), key=lambda item: item.range_key.value)
        first = bisect_right(ordered, start, key=lambda item: item.range_key.value) if start else 0
        window = ordered[first : first + WINDOW]
        self.all_items = lambda: iter(window)  # moto reads its candidates through this
        try:
            answer = moto(None)
        finally:
            del self.all_items
        cut_short = first + WINDOW < len(ordered) and answer[2] is None
        return moto() if cut_short else answer

    query._bench_windowed = True  # type: ignore[attr-defined]
    Table.query = query  # type: ignore[method-assign]
