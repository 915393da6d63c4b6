"""The loaded-vs-staged check: did the COPY load every file of the manifest, and a number of rows
its lines allow? Pure: values in, a `Mismatch` (or None) out.

Run inside the load transaction, after the COPY and before COMMIT; a mismatch fails the target
with `LoadCheckError` (terminal) and the transaction is rolled back. What the target reports:

- Redshift (psycopg2, Data API): the COPY's load history, `stl_load_commits` (Serverless:
  `sys_load_detail`) rows `WHERE query = pg_last_copy_id()` (load_history.py), one or more per
  file (a large file may be split), and `pg_last_copy_count()`;
- PostgreSQL: what the loader's own streamer sent, per file, and COPY's row counts.

Rules:
- files: the distinct file names recorded must be exactly the manifest's entries (names are
  compared on their first 256 characters: the history's `filename` is a char(256));
- rows: `rows + rejected` must fit the lines scanned, as the format allows (`RowRule`). Header
  lines (`ignore_header_rows`) may or may not be counted in `lines_scanned`; either is accepted.
  Where a rule has a lower bound, a file with data lines must give at least one row, so an empty
  result is accepted only when the files are empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from loader.errors import TerminalError

if TYPE_CHECKING:
    from config.copy_options import CopyOptions

HISTORY_NAME_CHARS = 256
MAX_LISTED = 20
"""Missing files named in the message (the rest are counted)."""


class RowRule(StrEnum):
    """How many records the lines of a file may hold (the value reads in the error message)."""

    ONE_PER_LINE = "one record per line"
    SPANS_LINES = "a record spans one line or more"
    AT_MOST_ONE_PER_LINE = "blank lines are skipped"
    PER_FILE = "records are not lines"
    FILES_ONLY = "rows are not compared with lines"


# (lower, upper) bound of rows + rejected rows, as names of `Reported` fields; None: unbounded.
# The SQL guard of the Data API (load_history.py) uses the same names for its columns.
BOUNDS: dict[RowRule, tuple[str | None, str | None]] = {
    RowRule.ONE_PER_LINE: ("data_lines", "lines"),
    RowRule.SPANS_LINES: ("nonempty_files", "lines"),
    RowRule.AT_MOST_ONE_PER_LINE: (None, "lines"),
    RowRule.PER_FILE: ("nonempty_files", None),
    RowRule.FILES_ONLY: (None, None),
}


def row_rule(options: CopyOptions) -> RowRule:
    """What Redshift's COPY of this format may turn lines into."""
    fmt = options.format
    if fmt.type in ("parquet", "orc", "avro"):
        return RowRule.FILES_ONLY
    if fmt.type == "json":
        return RowRule.PER_FILE  # several objects per line, or one over several lines
    if options.ignore_blank_lines:
        return RowRule.AT_MOST_ONE_PER_LINE
    if fmt.type == "csv" or (fmt.type == "delimited" and fmt.escape):
        return RowRule.SPANS_LINES  # quoted or escaped newlines
    return RowRule.ONE_PER_LINE


def history_name(url: str) -> str:
    return url[:HISTORY_NAME_CHARS]


@dataclass(frozen=True)
class Expected:
    """What the manifest says the COPY must load."""

    files: tuple[str, ...]
    """The manifest's entries (`s3://` URLs)."""
    header_rows: int = 0
    rule: RowRule = RowRule.SPANS_LINES
    max_error: int = 0

    @property
    def names(self) -> frozenset[str]:
        return frozenset(history_name(url) for url in self.files)


def expected_for(files: Sequence[str], options: CopyOptions) -> Expected:
    """Expectations of a Redshift COPY of these manifest entries with these options."""
    return Expected(
        files=tuple(files),
        header_rows=getattr(options.format, "ignore_header_rows", 0),
        rule=row_rule(options),
        max_error=options.max_error or 0,
    )


@dataclass(frozen=True)
class FileLines:
    """One load-history row: a file (or a split of one), its lines and rejected rows."""

    name: str
    lines: int
    errors: int | None = 0
    """None: the history does not say (Serverless `sys_load_detail`)."""


@dataclass(frozen=True)
class Reported:
    """What the target says the COPY did, summed over files."""

    names: frozenset[str] | None
    """File names recorded (first 256 characters); None when only their count is known."""
    file_count: int
    lines: int
    """Lines scanned, as recorded."""
    data_lines: int
    """Lines scanned less `header_rows` per file (never below 0 for a file)."""
    nonempty_files: int
    """Files with more lines than header rows."""
    errors: int | None
    """Rows rejected (MAXERROR); None when the history does not say."""
    rows: int
    """Rows loaded: `pg_last_copy_count()`, or PostgreSQL COPY's counts."""
    query: int | None = None
    """The COPY's query id, when known (for the operator)."""
    source: str = "the COPY's load history"
    """Where the numbers come from, for the message."""


def reported_totals(
    records: Iterable[FileLines],
    *,
    rows: int,
    header_rows: int,
    query: int | None = None,
    source: str = "the COPY's load history",
) -> Reported:
    """Per-file totals (a file split over slices has several records) added up."""
    lines: dict[str, int] = {}
    errors: dict[str, int | None] = {}
    for record in records:
        name = history_name(record.name)
        lines[name] = lines.get(name, 0) + max(record.lines, 0)
        before = errors.get(name, 0)
        errors[name] = None if before is None or record.errors is None else before + record.errors
    known = [e for e in errors.values() if e is not None]
    return Reported(
        names=frozenset(lines),
        file_count=len(lines),
        lines=sum(lines.values()),
        data_lines=sum(max(n - header_rows, 0) for n in lines.values()),
        nonempty_files=sum(1 for n in lines.values() if n > header_rows),
        errors=sum(known) if len(known) == len(errors) else None,
        rows=rows,
        query=query,
        source=source,
    )


@dataclass(frozen=True)
class Mismatch:
    expected_files: int
    reported_files: int
    missing: tuple[str, ...]
    """Manifest entries the target did not record (empty when unknown: see `names_known`)."""
    names_known: bool
    rows: int
    errors: int | None
    lines: int
    lower: int | None
    upper: int | None
    rule: RowRule
    files_ok: bool
    rows_ok: bool
    query: int | None = None
    source: str = "the COPY's load history"

    def describe(self) -> str:
        where = f" (query {self.query})" if self.query is not None and self.query >= 0 else ""
        files = (
            f"{self.expected_files} files in the manifest, {self.reported_files} in "
            f"{self.source}{where}"
        )
        if self.missing:
            shown = ", ".join(self.missing[:MAX_LISTED])
            more = len(self.missing) - MAX_LISTED
            files += f"; missing: {shown}" + (f" (+{more} more)" if more > 0 else "")
        elif not self.files_ok and not self.names_known:
            files += " (the missing files could not be listed)"
        rejected = f" + {self.errors} rejected" if self.errors else ""
        rows = f"{self.rows} rows loaded{rejected} for {self.lines} lines scanned"
        if not self.rows_ok:
            rows += f", expected {_range(self.lower, self.upper)} ({self.rule.value})"
        return f"load check failed: {files}; {rows}"


class LoadCheckError(TerminalError):
    """The target reported loading something other than the manifest: rolled back, not retried."""

    def __init__(self, target: str, mismatch: Mismatch) -> None:
        super().__init__(
            f"target {target}: {mismatch.describe()}; the load was rolled back", target=target
        )
        self.mismatch = mismatch


def find_mismatch(expected: Expected, reported: Reported) -> Mismatch | None:
    """None when the report matches the manifest, else what differs."""
    wanted = expected.names
    missing: tuple[str, ...] = ()
    if reported.names is not None:
        missing = tuple(u for u in expected.files if history_name(u) not in reported.names)
    files_ok = reported.file_count == len(wanted) and reported.names in (None, wanted)
    lower, upper = bounds(expected, reported)
    accounted = reported.rows + (reported.errors or 0)
    rows_ok = (lower is None or accounted >= lower) and (upper is None or accounted <= upper)
    if files_ok and rows_ok:
        return None
    return Mismatch(
        expected_files=len(wanted),
        reported_files=reported.file_count,
        missing=missing,
        names_known=reported.names is not None,
        rows=reported.rows,
        errors=reported.errors,
        lines=reported.lines,
        lower=lower,
        upper=upper,
        rule=expected.rule,
        files_ok=files_ok,
        rows_ok=rows_ok,
        query=reported.query,
        source=reported.source,
    )


def bounds(expected: Expected, reported: Reported) -> tuple[int | None, int | None]:
    """The (lower, upper) bound of rows + rejected rows the lines allow."""
    low, high = BOUNDS[expected.rule]
    if reported.errors is None and expected.max_error:
        low = None  # rows may have been rejected, and how many is not known
    return (
        None if low is None else int(getattr(reported, low)),
        None if high is None else int(getattr(reported, high)),
    )


def enforce(target: str, expected: Expected, reported: Reported) -> None:
    """Raise LoadCheckError on a mismatch."""
    mismatch = find_mismatch(expected, reported)
    if mismatch is not None:
        raise LoadCheckError(target, mismatch)


def _range(lower: int | None, upper: int | None) -> str:
    if lower is not None and lower == upper:
        return str(lower)
    if lower is None:
        return f"at most {upper}"
    if upper is None:
        return f"at least {lower}"
    return f"{lower} to {upper}"
