"""The documented COPY parameters, as data: one row per keyword, with the page that defines it.

This table is the one place that says, for every COPY keyword, who may write it (a typed field
of `CopyOptions`, the loader itself, the target's `copy_authorization`, or `extra_options`), the
shape and range of its argument, whether it belongs to COPY from Amazon S3, and whether it applies
to the columnar formats. `copy_options` checks `extra_options` and reads the original loader's
free text with it.

Pages are in the Amazon Redshift Database Developer Guide,
https://docs.aws.amazon.com/redshift/latest/dg/<page>.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

Shape = Literal[
    "flag",  # no argument
    "literal",  # [AS] '...'
    "optional_literal",  # [[AS] '...']
    "number",  # [AS] n
    "word",  # [AS] WORD
    "switch",  # [ON | TRUE | OFF | FALSE | PRESET]
    "compression",  # the keyword is the value
    "format",  # a data format keyword
    "loader",  # written by the loader itself
    "authorization",  # credentials: never in option text
]

FORMAT_PAGE = "copy-parameters-data-format.html"
CONVERSION_PAGE = "copy-parameters-data-conversion.html"
LOAD_PAGE = "copy-parameters-data-load.html"
S3_PAGE = "copy-parameters-data-source-s3.html"
COMPRESSION_PAGE = "copy-parameters-file-compression.html"
AUTH_PAGE = "copy-parameters-authorization.html"
COLUMNAR_PAGE = "copy-usage_notes-copy-from-columnar.html"

# The loader's format types (`format.type`).
TEXT = frozenset({"csv", "delimited", "fixedwidth"})
ROWS = TEXT | {"json", "avro"}
COLUMNAR = frozenset({"parquet", "orc"})
ALL = ROWS | COLUMNAR
# FORMAT_PAGE, JSON: "If EMPTYASNULL is specified, COPY loads empty strings for CHAR and VARCHAR
# fields as NULL"; BLANKSASNULL is not among "The following options aren't supported with JSON".
TEXT_AND_JSON = TEXT | {"json"}


@dataclass(frozen=True)
class CopyParameter:
    """One COPY keyword."""

    name: str
    page: str
    """`page.html#anchor` in the Developer Guide."""
    shape: Shape
    field: str | None = None
    """The typed field that writes it (format fields without the `format.` prefix), or None
    when only `extra_options` can."""
    bounds: tuple[int, int] | None = None
    """Documented range of a number argument."""
    source: str | None = None
    """Set when the keyword belongs to COPY from another source than Amazon S3."""
    formats: frozenset[str] = ROWS
    """The format types it applies to. Parquet and ORC take few (COLUMNAR_PAGE: "Only the
    following COPY parameters are supported")."""
    refused: str | None = None
    """Why the loader never writes it, when Redshift would accept it."""

    @property
    def columnar(self) -> bool:
        return bool(self.formats & COLUMNAR)


_P = CopyParameter
PARAMETERS: dict[str, CopyParameter] = {
    p.name: p
    for p in [
        # Data format parameters (FORMAT_PAGE).
        _P("FORMAT", f"{FORMAT_PAGE}#copy-format", "format", "format"),
        _P("CSV", f"{FORMAT_PAGE}#copy-csv", "format", "format"),
        _P("JSON", f"{FORMAT_PAGE}#copy-json", "format", "format"),
        _P("AVRO", f"{FORMAT_PAGE}#copy-avro", "format", "format"),
        _P("PARQUET", f"{FORMAT_PAGE}#copy-parquet", "format", "format", formats=ALL),
        _P("ORC", f"{FORMAT_PAGE}#copy-orc", "format", "format", formats=ALL),
        _P("FIXEDWIDTH", f"{FORMAT_PAGE}#copy-fixedwidth", "format", "format"),
        _P("SHAPEFILE", f"{FORMAT_PAGE}#copy-shapefile", "format", "format"),
        _P(
            "SIMPLIFY",
            f"{FORMAT_PAGE}#copy-shapefile-simplify",
            "flag",
            refused="it is an argument of SHAPEFILE, a data format the loader does not offer",
        ),
        _P("DELIMITER", f"{FORMAT_PAGE}#copy-delimiter", "literal", "delimiter"),
        _P("QUOTE", f"{FORMAT_PAGE}#copy-csv-quote", "literal", "quote_char"),
        # ingest-super.html: "FORMAT PARQUET SERIALIZETOJSON".
        _P("SERIALIZETOJSON", "ingest-super.html", "flag", "serialize_to_json", formats=COLUMNAR),
        # File compression parameters (COMPRESSION_PAGE).
        _P("BZIP2", f"{COMPRESSION_PAGE}#copy-bzip2", "compression", "compression"),
        _P("GZIP", f"{COMPRESSION_PAGE}#copy-gzip", "compression", "compression"),
        _P("LZOP", f"{COMPRESSION_PAGE}#copy-lzop", "compression", "compression"),
        _P("ZSTD", f"{COMPRESSION_PAGE}#copy-zstd", "compression", "compression"),
        # Data conversion parameters (CONVERSION_PAGE).
        _P("ACCEPTANYDATE", f"{CONVERSION_PAGE}#copy-acceptanydate", "flag"),
        _P(
            "ACCEPTINVCHARS",
            f"{CONVERSION_PAGE}#copy-acceptinvchars",
            "optional_literal",
            "accept_inv_chars",
            formats=ALL,
        ),
        _P(
            "BLANKSASNULL",
            f"{CONVERSION_PAGE}#copy-blanksasnull",
            "flag",
            "blanks_as_null",
            formats=TEXT_AND_JSON,
        ),
        _P("DATEFORMAT", f"{CONVERSION_PAGE}#copy-dateformat", "literal", "date_format"),
        _P(
            "EMPTYASNULL",
            f"{CONVERSION_PAGE}#copy-emptyasnull",
            "flag",
            "empty_as_null",
            formats=TEXT_AND_JSON,
        ),
        _P("ENCODING", f"{CONVERSION_PAGE}#copy-encoding", "word", "encoding"),
        _P("ESCAPE", f"{CONVERSION_PAGE}#copy-escape", "flag", "escape"),
        _P(
            "EXPLICIT_IDS",
            f"{CONVERSION_PAGE}#copy-explicit-ids",
            "flag",
            "explicit_ids",
            formats=ALL,
        ),
        _P(
            # FORMAT_PAGE: FILLRECORD is not supported with JSON (nor, here, Avro).
            "FILLRECORD",
            f"{CONVERSION_PAGE}#copy-fillrecord",
            "flag",
            "fill_record",
            formats=TEXT | COLUMNAR,
        ),
        _P(
            "IGNOREBLANKLINES",
            f"{CONVERSION_PAGE}#copy-ignoreblanklines",
            "flag",
            "ignore_blank_lines",
            formats=TEXT,
        ),
        _P("IGNOREHEADER", f"{CONVERSION_PAGE}#copy-ignoreheader", "number", "ignore_header_rows"),
        _P("NULL", f"{CONVERSION_PAGE}#copy-null-as", "literal", "null_as", formats=TEXT),
        _P("REMOVEQUOTES", f"{CONVERSION_PAGE}#copy-removequotes", "flag", "remove_quotes"),
        _P("ROUNDEC", f"{CONVERSION_PAGE}#copy-roundec", "flag", "round_dec"),
        _P("TIMEFORMAT", f"{CONVERSION_PAGE}#copy-timeformat", "literal", "time_format"),
        _P("TRIMBLANKS", f"{CONVERSION_PAGE}#copy-trimblanks", "flag", "trim_blanks"),
        _P(
            "TRUNCATECOLUMNS", f"{CONVERSION_PAGE}#copy-truncatecolumns", "flag", "truncate_columns"
        ),
        # Data load operations (LOAD_PAGE).
        # COMPROWS: "The accepted range for this argument is a number between 1000 and
        # 2147483647 (2,147,483,647)."
        _P("COMPROWS", f"{LOAD_PAGE}#copy-comprows", "number", bounds=(1000, 2_147_483_647)),
        _P("COMPUPDATE", f"{LOAD_PAGE}#copy-compupdate", "switch", "comp_update"),
        _P("IGNOREALLERRORS", f"{LOAD_PAGE}#copy-ignoreallerrors", "flag"),
        _P("MAXERROR", f"{LOAD_PAGE}#copy-maxerror", "number", "max_error", bounds=(0, 100_000)),
        _P(
            "NOLOAD",
            f"{LOAD_PAGE}#copy-noload",
            "flag",
            refused="NOLOAD checks the files without loading them, and the loader would record "
            "the batch as loaded",
        ),
        _P("STATUPDATE", f"{LOAD_PAGE}#copy-statupdate", "switch", "stat_update", formats=ALL),
        # COPY from Amazon S3 (S3_PAGE).
        _P("MANIFEST", f"{S3_PAGE}#copy-manifest", "loader", "the loader itself", formats=ALL),
        _P("ENCRYPTED", f"{S3_PAGE}#copy-encrypted", "flag", "encrypted"),
        _P("REGION", f"{S3_PAGE}#copy-region", "literal", "region"),
        _P("FROM", f"{S3_PAGE}#copy-parameters-from", "loader", "the loader itself", formats=ALL),
        _P("COPY", "r_COPY.html", "loader", "the loader itself", formats=ALL),
        # Other data sources.
        _P(
            "READRATIO",
            "copy-parameters-data-source-dynamodb.html",
            "number",
            source="Amazon DynamoDB",
        ),
        _P("SSH", "copy-parameters-data-source-ssh.html", "flag", source="a remote host (SSH)"),
        # Authorization (AUTH_PAGE), and the words of the CREDENTIALS string.
        *(
            _P(word, AUTH_PAGE, "authorization", formats=ALL)
            for word in (
                "CREDENTIALS",
                "IAM_ROLE",
                "ACCESS_KEY_ID",
                "SECRET_ACCESS_KEY",
                "SESSION_TOKEN",
                "MASTER_SYMMETRIC_KEY",
                "AWS_IAM_ROLE",
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
                "TOKEN",
            )
        ),
    ]
}


def extra_problem(parameter: CopyParameter) -> str | None:
    """Why `parameter` cannot be written in `extra_options` (None: it can)."""
    if parameter.source is not None:
        return (
            f"{parameter.name} is a parameter of COPY from {parameter.source}, "
            "not of COPY from Amazon S3"
        )
    if parameter.refused is not None:
        return f"{parameter.name} cannot be used: {parameter.refused}"
    return None


def suggestion(word: str) -> str:
    """` (did you mean X?)` for the closest documented keyword, or an empty string."""
    close = difflib.get_close_matches(word.upper(), PARAMETERS, n=1, cutoff=0.75)
    return f" (did you mean {close[0]}?)" if close else ""


def columnar_names() -> str:
    """The parameters COPY accepts with Parquet and ORC, for messages."""
    own = {"format", "loader", "authorization"}
    return ", ".join(
        sorted(p.name for p in PARAMETERS.values() if p.columnar and p.shape not in own)
    )


def applies_to(field: str) -> frozenset[str]:
    """The format types a typed field applies to (every format when no row names it)."""
    kinds = [p.formats for p in PARAMETERS.values() if p.field == field]
    return kinds[0] if kinds else ALL
