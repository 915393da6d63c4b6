"""A table for sample files: column names, Redshift types and the date/time formats COPY needs.
Pure. `loader-admin config infer` proposes it for review (`Widths.REVIEWED`); the loader creates
it on its own for `create_table: if_missing` from the batch's first file (`Widths.UNATTENDED`).

Names: text labels and JSON keys become names as Redshift stores them (ASCII letters folded to
lowercase); Parquet / ORC names are kept. Columns of several samples are merged by name in order
of first appearance; positional files (text with a header, Parquet, ORC) must agree on their
columns and their order, since COPY maps them by position.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from config.identifiers import check_identifier, folded
from loader.schema.ddl import ColumnSpec
from loader.schema.infer import (
    Guess,
    Widths,
    as_varchar,
    guess_json,
    guess_text,
    settle_formats,
)
from loader.schema.samples import Sample

NO_FORMATS = (None, None)


class IncompatibleSamplesError(ValueError):
    """The samples cannot share one table (positional files with different columns)."""


@dataclass(frozen=True)
class Proposal:
    columns: tuple[ColumnSpec, ...]
    date_format: str | None = None
    time_format: str | None = None
    skipped: tuple[str, ...] = ()
    """Labels that cannot be Redshift column names (too long, control characters)."""


def propose(
    samples: Sequence[Sample],
    widths: Widths,
    *,
    formats: tuple[str | None, str | None] | None = None,
) -> Proposal:
    """The table the samples fit. `formats`: the (DATEFORMAT, TIMEFORMAT) the COPY already uses
    (columns needing another become VARCHAR); None lets the proposal choose them."""
    if not samples:
        raise IncompatibleSamplesError("no sample to infer a table from")
    _check_positional(samples)
    values: dict[str, list[object]] = {}
    types: dict[str, str] = {}
    skipped: list[str] = []
    for sample in samples:
        for column in sample.columns:
            name = column.name if column.type is not None else folded(column.name)
            try:
                check_identifier(name)
            except ValueError:
                skipped.append(column.label or column.name)
                continue
            values.setdefault(name, []).extend(column.values)
            if column.type is not None:
                types.setdefault(name, column.type)
    json_values = any(s.json_values for s in samples)
    guesses = [
        Guess(types[name])
        if name in types
        else (guess_json(vals, widths) if json_values else guess_text(_texts(vals), widths))
        for name, vals in values.items()
    ]
    if formats is None:
        settled = settle_formats(guesses, widths)
        guesses = list(settled.guesses)
        date_format, time_format = settled.date_format, settled.time_format
    else:
        date_format, time_format = formats
        guesses = [_fit(g, date_format, time_format, widths) for g in guesses]
    columns = tuple(ColumnSpec(name, g.type) for name, g in zip(values, guesses, strict=True))
    return Proposal(columns, date_format, time_format, tuple(skipped))


def _texts(values: list[object]) -> list[str | None]:
    return [v if isinstance(v, str) else None for v in values]


def _fit(guess: Guess, date_format: str | None, time_format: str | None, widths: Widths) -> Guess:
    """The guess, or VARCHAR when it needs a format other than the COPY's."""
    # 'auto' reads every shape the guesses know (automatic-recognition.md).
    needs_date = guess.type == "DATE" and date_format not in ("auto", guess.date_format)
    timestamp = guess.type in ("TIMESTAMP", "TIMESTAMPTZ")
    needs_time = timestamp and time_format not in ("auto", guess.time_format)
    return as_varchar(guess, widths) if needs_date or needs_time else guess


def _check_positional(samples: Sequence[Sample]) -> None:
    positional = [s for s in samples if s.positional]
    if not positional:
        return
    first = positional[0]
    for sample in positional[1:]:
        if first.named:
            same = sample.names == first.names
        else:
            same = len(sample.columns) == len(first.columns)
        if not same:
            raise IncompatibleSamplesError(
                f"{sample.url} has other columns than {first.url} ({', '.join(sample.names)} vs "
                f"{', '.join(first.names)}): COPY maps columns by position, so one table cannot "
                "take both"
            )
