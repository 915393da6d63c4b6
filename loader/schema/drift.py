"""Schema drift: how the columns a batch's files carry differ from the columns COPY loads. Pure.

The columns COPY loads are the target's `columns` list, else the table's columns (IDENTITY
columns only with EXPLICIT_IDS, as Redshift maps input fields). Matching:

- positional formats (CSV / delimited text with a header row, Parquet, ORC): COPY puts file
  column i into table column i, so the files' names must be the table's, in the same order.
  Names compare as Redshift folds them, after `infer.column_name` turned labels into names. With
  FILLRECORD, trailing table columns the files lack are filled with NULL (not drift if nullable).
- JSON 'auto' matches keys to column names exactly ('auto ignorecase': ignoring case); a key the
  table lacks is not loaded, a column without a key is NULL, so only columns that must have a
  value (NOT NULL without DEFAULT) are missing.
- text without a header row names nothing: only a different column count is drift.

`Drift.fixes` are the ALTER TABLE statements that would add what the files carry (nullable, one
column per statement as Redshift requires, r_ALTER_TABLE.md); missing columns have no automatic
fix (dropping a column loses data), the message names them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from config.identifiers import folded
from loader.schema import ddl
from loader.schema.infer import Widths, guess_json, guess_text
from loader.schema.samples import Sample

MAX_NAMED = 20


@dataclass(frozen=True)
class TableColumn:
    """A column of the target table, from the catalog."""

    name: str
    type: str
    nullable: bool = True
    has_default: bool = False
    identity: bool = False

    @property
    def required(self) -> bool:
        """A row must bring a value for it (NOT NULL, no DEFAULT, not IDENTITY)."""
        return not self.nullable and not self.has_default and not self.identity


@dataclass(frozen=True)
class NewColumn:
    name: str
    type: str


@dataclass(frozen=True)
class Drift:
    """What differs between the sampled files and the table; empty means nothing does."""

    table: str
    extra: tuple[NewColumn, ...] = ()
    """Columns the files carry and COPY does not load, in file order, typed from the samples."""
    missing: tuple[str, ...] = ()
    """Columns COPY loads that the files lack (positional: any; JSON: required ones)."""
    order: bool = False
    """Positional files hold the same columns in another order."""
    count: tuple[int, int] | None = None
    """Unnamed text: (file columns, table columns) when they differ."""
    files: int = 0
    """Sampled files that differ."""
    sampled: int = 0

    def __bool__(self) -> bool:
        return bool(self.extra or self.missing or self.order or self.count)

    @property
    def fixes(self) -> tuple[str, ...]:
        return tuple(ddl.add_column_sql(self.table, c.name, c.type) for c in self.extra)

    def describe(self) -> str:
        parts = []
        if self.extra:
            extra = _names(c.name for c in self.extra)
            parts.append(f"the files carry columns the table lacks: {extra}")
        if self.missing:
            parts.append(f"the files lack columns the table requires: {_names(self.missing)}")
        if self.order:
            parts.append(
                "the files' columns are not in the table's order (COPY maps them by position)"
            )
        if self.count is not None:
            fields, columns = self.count
            parts.append(f"the files have {fields} fields, the table {columns} columns")
        where = f" ({self.files} of {self.sampled} sampled files)" if self.sampled > 1 else ""
        text = f"schema drift on {self.table}{where}: " + "; ".join(parts)
        if self.fixes:
            text += "; to add them: " + "; ".join(self.fixes)
        return text


def _names(names: object) -> str:
    listed = list(names)  # type: ignore[call-overload]
    shown = ", ".join(listed[:MAX_NAMED])
    return shown + (f" (+{len(listed) - MAX_NAMED} more)" if len(listed) > MAX_NAMED else "")


def columns_from_catalog(rows: Sequence[Sequence[object]]) -> list[TableColumn]:
    """`ddl.columns_sql` rows as table columns. An IDENTITY column shows as a default of
    `"identity"(...)` on Redshift and of `nextval(...)` for a PostgreSQL serial."""
    columns = []
    for name, data_type, length, precision, scale, nullable, default in rows:
        kind = str(data_type)
        if length is not None:
            kind += f"({length})"
        elif kind == "numeric" and precision is not None:
            kind += f"({precision},{scale or 0})"
        text = str(default or "").lower()
        columns.append(
            TableColumn(
                name=str(name),
                type=kind,
                nullable=str(nullable).upper() == "YES",
                has_default=default is not None,
                identity="identity" in text or text.startswith("nextval("),
            )
        )
    return columns


def loaded_columns(
    table: Sequence[TableColumn], column_list: Sequence[str] | None, *, explicit_ids: bool
) -> list[TableColumn]:
    """The columns COPY fills, in order."""
    if column_list:
        by_name = {folded(c.name): c for c in table}
        return [by_name.get(folded(n), TableColumn(n, "?")) for n in column_list]
    return [c for c in table if explicit_ids or not c.identity]


def compare(
    table_name: str,
    samples: Sequence[Sample],
    loaded: Sequence[TableColumn],
    *,
    ignorecase: bool = False,
    fill_record: bool = False,
    widths: Widths = Widths.UNATTENDED,
) -> Drift:
    """The drift of every sampled file against the columns COPY loads, merged."""
    extra: dict[str, list[object]] = {}
    types: dict[str, str] = {}
    missing: dict[str, None] = {}
    order = False
    count = None
    differing = 0
    for sample in samples:
        found = _one(sample, loaded, ignorecase=ignorecase, fill_record=fill_record)
        if not (found.extra or found.missing or found.order or found.count):
            continue
        differing += 1
        order = order or found.order
        count = count or found.count
        missing.update(dict.fromkeys(found.missing))
        for column in found.extra:
            extra.setdefault(column.name, []).extend(column.values)
            if column.type is not None:
                types.setdefault(column.name, column.type)
    json_values = any(s.json_values for s in samples)
    new = tuple(
        NewColumn(name, types.get(name) or _type(values, json_values, widths))
        for name, values in extra.items()
    )
    return Drift(
        table=table_name,
        extra=new,
        missing=tuple(missing),
        order=order,
        count=count,
        files=differing,
        sampled=len(samples),
    )


def _type(values: list[object], json_values: bool, widths: Widths) -> str:
    if json_values:
        return guess_json(values, widths).type
    return guess_text([v if isinstance(v, str) else None for v in values], widths).type


@dataclass(frozen=True)
class _FileDrift:
    extra: tuple  # of SampleColumn
    missing: tuple[str, ...] = ()
    order: bool = False
    count: tuple[int, int] | None = None


def _one(
    sample: Sample, loaded: Sequence[TableColumn], *, ignorecase: bool, fill_record: bool
) -> _FileDrift:
    if not sample.named:
        wanted = len(loaded)
        short = fill_record and len(sample.columns) < wanted
        if len(sample.columns) == wanted or (short and _fillable(loaded, len(sample.columns))):
            return _FileDrift(extra=())
        return _FileDrift(extra=(), count=(len(sample.columns), wanted))
    if sample.positional:
        return _positional(sample, loaded, fill_record=fill_record)
    key = (lambda n: n.lower()) if ignorecase else (lambda n: n)
    have = {key(c.name) for c in loaded}
    keys = {key(c.name) for c in sample.columns}
    return _FileDrift(
        extra=tuple(c for c in sample.columns if key(c.name) not in have),
        missing=tuple(c.name for c in loaded if c.required and key(c.name) not in keys),
    )


def _positional(sample: Sample, loaded: Sequence[TableColumn], *, fill_record: bool) -> _FileDrift:
    names = [folded(c.name) for c in loaded]
    files = [folded(c.name) for c in sample.columns]
    if files == names:
        return _FileDrift(extra=())
    if fill_record and files == names[: len(files)] and _fillable(loaded, len(files)):
        return _FileDrift(extra=())
    extra = tuple(c for c in sample.columns if folded(c.name) not in names)
    missing = tuple(c.name for c in loaded if folded(c.name) not in files)
    if missing:  # the columns both have must still come in the same order
        order = [n for n in files if n in names] != [n for n in names if n in files]
    else:  # the table's columns first, in its order; new ones may only follow them
        order = files[: len(names)] != names
    return _FileDrift(extra=extra, missing=missing, order=order)


def _fillable(loaded: Sequence[TableColumn], present: int) -> bool:
    """FILLRECORD: the table columns past the file's last one may be left NULL."""
    return all(c.nullable or c.has_default for c in loaded[present:])


def appendable(drift: Drift) -> bool:
    """Adding `drift.extra` to the end of the table makes the files fit: nothing missing, no
    reordering (positional files must carry their new columns after the table's)."""
    return bool(drift.extra) and not drift.missing and not drift.order and drift.count is None
