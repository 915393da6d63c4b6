"""One documented COPY outcome: what the fidelity suite runs and what it expects."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

THEMES = {
    "false-green": "passed locally although Redshift fails it",
    "wrong-value": "loaded a value other than Redshift's",
    "false-red": "failed locally although Redshift loads it",
    "system-tables": "load history and error views, DDL",
    "columnar": "FORMAT AS PARQUET / ORC",
    "baseline": "documented behaviour the stand-in already had",
}


@dataclass(frozen=True)
class LoadError:
    """The row `stl_load_errors` must hold for the case's files (only the fields given)."""

    code: int
    column: str | None = None
    line: int | None = None
    type: str | None = None
    reason: str | None = None
    """A substring of err_reason."""


@dataclass(frozen=True)
class Failure:
    sqlstate: str | None
    """None: the documentation says only that the COPY fails."""
    message: str = ""
    """A substring of the error message."""
    load_error: LoadError | None = None


@dataclass(frozen=True)
class Case:
    id: str
    theme: str
    doc: str
    """doc_source/<page>.md in awsdocs/amazon-redshift-developer-guide."""
    quote: str
    """The sentence of that page the expected outcome relies on."""
    ddl: str
    """CREATE TABLE {table} ..., run through the stand-in (so Redshift DDL is exercised)."""
    files: dict[str, bytes | str | Callable[[], bytes]]
    """Objects put under {s3} (s3://<fresh bucket>/<case id>/)."""
    copy: tuple[str, ...]
    """Statements run in order in one session; {table} and {s3} are substituted."""
    rows: list[tuple[Any, ...]] | None = None
    failure: Failure | None = None
    select: str = "SELECT * FROM {table} ORDER BY 1"
    checks: tuple[tuple[str, list[tuple[Any, ...]]], ...] = field(default_factory=tuple)
    """Further (query, expected rows) read after the statements, e.g. from system tables."""
    choice: str | None = None
    """Where the documentation is ambiguous: the reading the stand-in follows."""

    def __post_init__(self) -> None:
        if self.theme not in THEMES:
            raise ValueError(f"{self.id}: unknown theme {self.theme!r}")
        if (self.rows is None) == (self.failure is None):
            raise ValueError(f"{self.id}: give exactly one of rows / failure")
        if not self.doc.startswith("doc_source/") or not self.quote:
            raise ValueError(f"{self.id}: cite a doc_source/ page and quote it")
