"""Local mode's sample data: the target tables, the prefix configurations, and small realistic
files (CSV, gzipped CSV, newline-delimited JSON, Parquet, ORC). Pure: values in, values out."""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

ORDERS_TABLE = "public.orders"
CLICKS_TABLE = "public.clicks"

TABLE_DDL = {
    ORDERS_TABLE: """
        CREATE TABLE IF NOT EXISTS public.orders (
            order_id    bigint,
            customer    varchar(64),
            country     char(2),
            amount      numeric(10, 2),
            currency    char(3),
            ordered_at  timestamp
        )""",
    CLICKS_TABLE: """
        CREATE TABLE IF NOT EXISTS public.clicks (
            click_id     bigint,
            session_id   varchar(32),
            page         varchar(128),
            referrer     varchar(256),
            duration_ms  integer,
            clicked_at   timestamp
        )""",
}
ID_COLUMNS = {ORDERS_TABLE: "order_id", CLICKS_TABLE: "click_id"}


@dataclass(frozen=True)
class Feed:
    """One watched folder of the landing bucket: what lands there and where it is loaded."""

    name: str
    folder: str
    table: str
    copy_options: dict[str, Any]
    suffixes: tuple[str, ...]


FEEDS = (
    Feed(
        "orders-csv",
        "orders/csv",
        ORDERS_TABLE,
        {"format": {"type": "csv", "ignore_header_rows": 1}},
        (".csv",),
    ),
    Feed(
        "orders-gzip",
        "orders/gzip",
        ORDERS_TABLE,
        {"format": {"type": "csv", "ignore_header_rows": 1}, "compression": "gzip"},
        (".csv.gz", ".gz"),
    ),
    Feed(
        "clicks-json",
        "clicks/json",
        CLICKS_TABLE,
        {"format": {"type": "json", "mode": "auto"}},
        (".json", ".jsonl", ".ndjson"),
    ),
    # Columnar files map to the table's columns by position (FORMAT AS PARQUET / ORC).
    Feed("orders-parquet", "orders/parquet", ORDERS_TABLE, {"format": {"type": "parquet"}},
         (".parquet",)),
    Feed("orders-orc", "orders/orc", ORDERS_TABLE, {"format": {"type": "orc"}}, (".orc",)),
)  # fmt: skip


def feed_for(filename: str) -> Feed | None:
    """The feed a local file belongs to, by its suffix (`.csv.gz` before `.csv`)."""
    lowered = filename.lower()
    matches = [(len(s), f) for f in FEEDS for s in f.suffixes if lowered.endswith(s)]
    return max(matches, key=lambda pair: pair[0])[1] if matches else None


def prefix_config(
    feed: Feed,
    *,
    bucket: str,
    manifest_bucket: str,
    target: dict[str, Any],
    age_seconds: int,
    topics: dict[str, str],
    max_files: int = 1000,
) -> dict[str, Any]:
    """The raw configuration of one feed (validated by `PrefixConfig` where it is stored)."""
    return {
        "prefix": f"{bucket}/{feed.folder}",
        "description": f"local mode sample: {feed.name} into {feed.table}",
        "thresholds": {"max_files": max_files, "max_age_seconds": age_seconds},
        "manifest": {"bucket": manifest_bucket, "prefix": "manifests"},
        "notifications": topics,
        "targets": [{**target, "table": feed.table}],
        "copy_options": feed.copy_options,
        # Only the suffixes the banner announces load (a notes.txt dropped here stays put).
        "filename_filter": "(?i).*(" + "|".join(re.escape(s) for s in feed.suffixes) + ")",
    }


# --- sample files -----------------------------------------------------------------------------

_CUSTOMERS = [
    "Ada Lovelace",
    "Alan Turing",
    "Grace Hopper",
    "Edsger Dijkstra",
    "Barbara Liskov",
    "Donald Knuth",
    "Frances Allen",
    "Ken Thompson",
    "Margaret Hamilton",
    "Leslie Lamport",
]
_COUNTRIES = ["GB", "US", "NL", "DE", "FR", "SE", "JP", "BR"]
_CURRENCIES = {"GB": "GBP", "US": "USD", "JP": "JPY", "BR": "BRL", "SE": "SEK"}
_PAGES = [
    "/",
    "/pricing",
    "/docs/getting-started",
    "/docs/loader",
    "/blog/exactly-once",
    "/signup",
    "/checkout",
    "/account",
]
_REFERRERS = ["https://www.google.com/", "https://news.ycombinator.com/", "", "https://github.com/"]
_EPOCH = datetime(2024, 6, 1, 8, 0, 0)


@dataclass(frozen=True)
class SampleFile:
    feed: Feed
    name: str
    body: bytes
    rows: int
    first_id: int


def _stamp(rng: random.Random) -> str:
    return (_EPOCH + timedelta(seconds=rng.randrange(0, 3 * 86400))).strftime("%Y-%m-%d %H:%M:%S")


def orders_csv(first_id: int, rows: int, rng: random.Random) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["order_id", "customer", "country", "amount", "currency", "ordered_at"])
    for order_id in range(first_id, first_id + rows):
        country = rng.choice(_COUNTRIES)
        amount = f"{rng.uniform(3, 480):.2f}"
        currency = _CURRENCIES.get(country, "EUR")
        writer.writerow([order_id, rng.choice(_CUSTOMERS), country, amount, currency, _stamp(rng)])
    return out.getvalue().encode()


def clicks_json(first_id: int, rows: int, rng: random.Random) -> bytes:
    lines = [
        json.dumps(
            {
                "click_id": click_id,
                "session_id": f"s{rng.getrandbits(40):010x}",
                "page": rng.choice(_PAGES),
                "referrer": rng.choice(_REFERRERS) or None,
                "duration_ms": rng.randrange(40, 90_000),
                "clicked_at": _stamp(rng),
            }
        )
        for click_id in range(first_id, first_id + rows)
    ]
    return ("\n".join(lines) + "\n").encode()


def orders_columnar(first_id: int, rows: int, rng: random.Random, fmt: str) -> bytes:
    """Orders as a Parquet or ORC file, columns in the table's order (pyarrow: a `cli` extra)."""
    import pyarrow as pa

    records = list(csv.reader(io.StringIO(orders_csv(first_id, rows, rng).decode())))[1:]
    columns = list(zip(*records, strict=True)) if records else [()] * 6
    table = pa.table(
        {
            "order_id": pa.array([int(v) for v in columns[0]], pa.int64()),
            "customer": pa.array(columns[1], pa.string()),
            "country": pa.array(columns[2], pa.string()),
            "amount": pa.array([Decimal(v) for v in columns[3]], pa.decimal128(10, 2)),
            "currency": pa.array(columns[4], pa.string()),
            "ordered_at": pa.array(
                [datetime.fromisoformat(v) for v in columns[5]], pa.timestamp("us")
            ),
        }
    )
    sink = io.BytesIO()
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, sink)
    else:
        from pyarrow import orc

        orc.write_table(table, sink)
    return sink.getvalue()


def sample_file(feed: Feed, name: str, first_id: int, rows: int, seed: int = 0) -> SampleFile:
    rng = random.Random(f"{seed}:{name}")
    fmt = feed.copy_options["format"]["type"]
    if fmt in ("parquet", "orc"):
        body = orders_columnar(first_id, rows, rng, fmt)
    elif feed.table == CLICKS_TABLE:
        body = clicks_json(first_id, rows, rng)
    else:
        body = orders_csv(first_id, rows, rng)
        if name.endswith(".gz"):
            body = gzip.compress(body, mtime=0)
    return SampleFile(feed, name, body, rows, first_id)


def demo_files(seed: int = 7) -> list[SampleFile]:
    """What `local up --demo` drops: two CSV files, a gzipped CSV, a Parquet file and two JSON
    files."""
    csv_feed, gzip_feed, json_feed, parquet_feed, _ = FEEDS
    return [
        sample_file(csv_feed, "orders-2024-06-01.csv", 1001, 25, seed),
        sample_file(csv_feed, "orders-2024-06-02.csv", 1026, 30, seed),
        sample_file(gzip_feed, "orders-2024-06-03.csv.gz", 1056, 40, seed),
        sample_file(parquet_feed, "orders-2024-06-04.parquet", 1096, 35, seed),
        sample_file(json_feed, "clicks-2024-06-01T08.json", 50001, 60, seed),
        sample_file(json_feed, "clicks-2024-06-01T09.json", 50061, 45, seed),
    ]


def expected_rows(files: list[SampleFile]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for f in files:
        totals[f.feed.table] = totals.get(f.feed.table, 0) + f.rows
    return totals
