"""Parse Redshift `COPY table [(cols)] FROM 's3://...' <options>` into a `CopySpec` (pure, no I/O).

Keywords are case-insensitive, `WITH` and `AS` are optional where Redshift allows them, literals
use '' escaping. Authorization is parsed and dropped: the stand-in reads S3 with its own client.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from redshift_standin.copy_spec import AuthKind, Compression, CopySpec, DataFormat, TableRef
from redshift_standin.errors import CopySyntaxError, NotEmulatedError, UnsupportedCopyOptionError
from redshift_standin.sql_tokens import Kind, Token, split_statements, tokenize

SECRET_OPTIONS = frozenset(
    {"CREDENTIALS", "SECRET_ACCESS_KEY", "SESSION_TOKEN", "ACCESS_KEY_ID", "MASTER_SYMMETRIC_KEY"}
)
_FORMATS = {fmt.value: fmt for fmt in DataFormat if fmt is not DataFormat.TEXT}
_BOOL_WORDS = {"ON": True, "TRUE": True, "OFF": False, "FALSE": False}
_MAX_MAXERROR = 100_000
# Redshift accepts these escape spellings inside DELIMITER / NULL AS / ACCEPTINVCHARS literals.
_CHAR_ESCAPES = {"\\t": "\t", "\\n": "\n", "\\\\": "\\", "\\|": "|", "\\011": "\t"}


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.fields: dict[str, Any] = {}
        self.seen: set[str] = set()

    # -- token access -------------------------------------------------------------------------
    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def next(self, what: str) -> Token:
        token = self.peek()
        if token is None:
            raise CopySyntaxError(f"unexpected end of COPY statement, expected {what}")
        self.pos += 1
        return token

    def accept_word(self, *words: str) -> str | None:
        token = self.peek()
        if token is not None and token.is_word(*words):
            self.pos += 1
            return token.value.upper()
        return None

    def expect_word(self, *words: str) -> str:
        token = self.next(" or ".join(words))
        if not token.is_word(*words):
            raise CopySyntaxError(f"syntax error at or near {token.value!r}, expected {words[0]}")
        return token.value.upper()

    def expect_string(self, option: str) -> str:
        self.accept_word("AS")
        token = self.next(f"a quoted value for {option}")
        if token.kind is not Kind.STRING:
            raise CopySyntaxError(f"{option} expects a quoted string, got {token.value!r}")
        return token.value

    def optional_string(self) -> str | None:
        self.accept_word("AS")
        token = self.peek()
        if token is not None and token.kind is Kind.STRING:
            self.pos += 1
            return token.value
        return None

    def expect_int(self, option: str) -> int:
        self.accept_word("AS")
        token = self.next(f"a number for {option}")
        if token.kind is not Kind.NUMBER or not token.value.isdigit():
            raise CopySyntaxError(f"{option} expects a non-negative integer, got {token.value!r}")
        return int(token.value)

    def identifier(self, what: str) -> str:
        token = self.next(what)
        if token.kind is Kind.QIDENT:
            return token.value
        if token.kind is Kind.WORD:
            return token.value.lower()
        raise CopySyntaxError(f"syntax error at or near {token.value!r}, expected {what}")

    def set(self, option: str, **values: Any) -> None:
        if option in self.seen:
            raise CopySyntaxError(f"conflicting or redundant options: {option} given twice")
        self.seen.add(option)
        self.fields.update(values)


# -- statement head ---------------------------------------------------------------------------
def _table(parser: _Parser) -> TableRef:
    first = parser.identifier("a table name")
    token = parser.peek()
    if token is not None and token.is_punct("."):
        parser.pos += 1
        return TableRef(name=parser.identifier("a table name after '.'"), schema=first)
    return TableRef(name=first)


def _column_list(parser: _Parser) -> tuple[str, ...] | None:
    token = parser.peek()
    if token is None or not token.is_punct("("):
        return None
    parser.pos += 1
    columns = [parser.identifier("a column name")]
    while (token := parser.next("',' or ')'")).is_punct(","):
        columns.append(parser.identifier("a column name"))
    if not token.is_punct(")"):
        raise CopySyntaxError(f"syntax error at or near {token.value!r} in the column list")
    if len(set(columns)) != len(columns):
        raise CopySyntaxError("column list names a column more than once")
    return tuple(columns)


# -- options ----------------------------------------------------------------------------------
def _single_char(option: str, value: str) -> str:
    value = _CHAR_ESCAPES.get(value, value)
    if len(value) != 1:
        raise CopySyntaxError(f"{option} must be a single character, got {value!r}")
    return value


def _format(parser: _Parser, word: str) -> None:
    if word == "FORMAT":
        parser.accept_word("AS")
        token = parser.next("a data format")
        word = token.value.upper() if token.kind is Kind.WORD else token.value
        if word not in _FORMATS:
            raise UnsupportedCopyOptionError(f"FORMAT {token.value}", reason="unknown data format")
    fmt = _FORMATS[word]
    if fmt is DataFormat.FIXEDWIDTH:
        parser.set("FORMAT", data_format=fmt, format_argument=parser.expect_string(word))
    elif fmt in (DataFormat.JSON, DataFormat.AVRO):
        argument = parser.optional_string() or "auto"
        parser.set("FORMAT", data_format=fmt, format_argument=_format_argument(word, argument))
    else:
        parser.set("FORMAT", data_format=fmt)
    if fmt is DataFormat.CSV and parser.accept_word("QUOTE"):
        _quote(parser, "QUOTE")


def _format_argument(word: str, argument: str) -> str:
    lowered = " ".join(argument.lower().split())
    if lowered in ("auto", "auto ignorecase", "noshred"):
        return lowered
    if argument.lower().startswith("s3://"):
        return argument
    raise CopySyntaxError(
        f"invalid {word} argument {argument!r}: use 'auto', "
        "'auto ignorecase' or an s3:// jsonpaths file"
    )


def _quote(parser: _Parser, word: str) -> None:
    parser.set("QUOTE", quote=_single_char(word, parser.expect_string(word)))


def _iam_role(parser: _Parser, word: str) -> None:
    role = "default" if parser.accept_word("DEFAULT") else parser.expect_string(word)
    parser.set("AUTHORIZATION", authorization=AuthKind.IAM_ROLE, iam_role=role)


def _credentials(parser: _Parser, word: str) -> None:
    parser.expect_string(word)  # value dropped on purpose: it holds secrets
    parser.set("AUTHORIZATION", authorization=AuthKind.CREDENTIALS)


def _access_key_part(parser: _Parser, word: str) -> None:
    parser.expect_string(word)  # value dropped on purpose: it holds secrets
    parser.set(word)
    if word == "ACCESS_KEY_ID":
        parser.set("AUTHORIZATION", authorization=AuthKind.ACCESS_KEYS)


def _string_option(field: str, char: bool = False) -> Callable[[_Parser, str], None]:
    def handler(parser: _Parser, word: str) -> None:
        value = parser.expect_string(word)
        parser.set(word, **{field: _single_char(word, value) if char else value})

    return handler


def _int_option(field: str, upper: int | None = None) -> Callable[[_Parser, str], None]:
    def handler(parser: _Parser, word: str) -> None:
        value = parser.expect_int(word)
        if upper is not None and value > upper:
            raise CopySyntaxError(f"{word} must be between 0 and {upper}, got {value}")
        parser.set(word, **{field: value})

    return handler


def _flag(field: str, *trailing: str) -> Callable[[_Parser, str], None]:
    def handler(parser: _Parser, word: str) -> None:
        if trailing:
            parser.accept_word(*trailing)
        parser.set(word, **{field: True})

    return handler


def _switch(field: str, *extra: str) -> Callable[[_Parser, str], None]:
    def handler(parser: _Parser, word: str) -> None:
        value = parser.accept_word(*_BOOL_WORDS, *extra)
        parser.set(word, **{field: _BOOL_WORDS.get(value or "ON", True)})

    return handler


def _compression(parser: _Parser, word: str) -> None:
    parser.set("COMPRESSION", compression=Compression(word))


def _null_as(parser: _Parser, word: str) -> None:
    value = parser.expect_string("NULL AS")
    parser.set("NULL", null_as=_CHAR_ESCAPES.get(value, value))


def _accept_inv_chars(parser: _Parser, word: str) -> None:
    replacement = parser.optional_string()
    char = "?" if replacement is None else _single_char(word, replacement)
    parser.set(word, accept_inv_chars=char)


def _encoding(parser: _Parser, word: str) -> None:
    parser.accept_word("AS")
    token = parser.next("an encoding name")
    if token.kind not in (Kind.WORD, Kind.STRING):
        raise CopySyntaxError(f"ENCODING expects a name, got {token.value!r}")
    parser.set(word, encoding=token.value.upper().replace("-", ""))


_HANDLERS: dict[str, Callable[[_Parser, str], None]] = {
    "FORMAT": _format,
    **{name: _format for name in _FORMATS},
    "QUOTE": _quote,
    "IAM_ROLE": _iam_role,
    "CREDENTIALS": _credentials,
    "ACCESS_KEY_ID": _access_key_part,
    "SECRET_ACCESS_KEY": _access_key_part,
    "SESSION_TOKEN": _access_key_part,
    "MASTER_SYMMETRIC_KEY": _access_key_part,
    "DELIMITER": _string_option("delimiter", char=True),
    "DATEFORMAT": _string_option("date_format"),
    "TIMEFORMAT": _string_option("time_format"),
    "REGION": _string_option("region"),
    "IGNOREHEADER": _int_option("ignore_header"),
    "MAXERROR": _int_option("max_error", upper=_MAX_MAXERROR),
    "NULL": _null_as,
    **{c.value: _compression for c in Compression},
    "ACCEPTINVCHARS": _accept_inv_chars,
    "ENCODING": _encoding,
    "COMPUPDATE": _switch("comp_update", "PRESET"),
    "STATUPDATE": _switch("stat_update"),
    "MANIFEST": _flag("manifest", "VERBOSE"),
    "ENCRYPTED": _flag("encrypted", "AUTO"),
    "EMPTYASNULL": _flag("empty_as_null"),
    "BLANKSASNULL": _flag("blanks_as_null"),
    "TRUNCATECOLUMNS": _flag("truncate_columns"),
    "REMOVEQUOTES": _flag("remove_quotes"),
    "ESCAPE": _flag("escape"),
    "FILLRECORD": _flag("fill_record"),
    "TRIMBLANKS": _flag("trim_blanks"),
    "IGNOREBLANKLINES": _flag("ignore_blank_lines"),
    "ROUNDEC": _flag("round_decimals"),
    "EXPLICIT_IDS": _flag("explicit_ids"),
    "SERIALIZETOJSON": _flag("serialize_to_json"),
}


def _options(parser: _Parser) -> None:
    while (token := parser.peek()) is not None:
        parser.pos += 1
        if token.is_word("WITH"):
            continue
        if token.kind is not Kind.WORD:
            raise CopySyntaxError(f"syntax error at or near {token.value!r}")
        word = token.value.upper()
        handler = _HANDLERS.get(word)
        if handler is None:
            raise UnsupportedCopyOptionError(token.value)
        handler(parser, word)


# -- cross-option rules (Redshift rejects these combinations too) -----------------------------
_TEXT_ONLY = ("delimiter", "remove_quotes", "escape", "fill_record", "null_as")
_COLUMNAR = (DataFormat.PARQUET, DataFormat.ORC)
# "Only the following COPY parameters are supported" (copy-usage_notes-copy-from-columnar.md),
# plus SERIALIZETOJSON, which exists for columnar formats only.
COLUMNAR_OPTIONS = frozenset(
    {
        "FORMAT",
        "AUTHORIZATION",
        "ACCESS_KEY_ID",
        "SECRET_ACCESS_KEY",
        "SESSION_TOKEN",
        "MANIFEST",
        "ACCEPTINVCHARS",
        "FILLRECORD",
        "STATUPDATE",
        "EXPLICIT_IDS",
        "SERIALIZETOJSON",
    }
)


def _validate(spec: CopySpec, seen: set[str]) -> None:
    fmt = spec.data_format
    if "QUOTE" in seen and fmt is not DataFormat.CSV:
        raise CopySyntaxError("QUOTE is only allowed with CSV")
    if fmt is DataFormat.CSV and (spec.escape or spec.remove_quotes):
        raise CopySyntaxError("CSV is not compatible with ESCAPE or REMOVEQUOTES")
    if fmt is DataFormat.FIXEDWIDTH and spec.delimiter is not None:
        raise CopySyntaxError("FIXEDWIDTH is not compatible with DELIMITER")
    if fmt in _COLUMNAR:
        _validate_columnar(spec, seen)
    elif "SERIALIZETOJSON" in seen:
        raise CopySyntaxError("SERIALIZETOJSON is only allowed with FORMAT PARQUET or ORC")
    if fmt in (DataFormat.JSON, DataFormat.AVRO):
        for field in _TEXT_ONLY:
            if getattr(spec, field) not in (None, False):
                raise CopySyntaxError(f"{field.upper()} is not allowed with {fmt.value}")
    if spec.delimiter is not None and spec.delimiter == spec.quote and fmt is DataFormat.CSV:
        raise CopySyntaxError("DELIMITER and QUOTE must differ")
    if "SECRET_ACCESS_KEY" in seen and "ACCESS_KEY_ID" not in seen:
        raise CopySyntaxError("SECRET_ACCESS_KEY requires ACCESS_KEY_ID")


def _validate_columnar(spec: CopySpec, seen: set[str]) -> None:
    spelled = {"NULL": "NULL AS", "COMPRESSION": spec.compression.value if spec.compression else ""}
    refused = sorted(spelled.get(name, name) for name in seen - COLUMNAR_OPTIONS)
    if refused:
        raise CopySyntaxError(
            f"{', '.join(refused)} is not supported with FORMAT {spec.data_format.value}: "
            "columnar COPY takes only "
            "ACCEPTINVCHARS, FILLRECORD, MANIFEST, STATUPDATE, EXPLICIT_IDS, SERIALIZETOJSON "
            "and authorization"
        )


def parse_copy(sql: str) -> CopySpec:
    """Parse one COPY statement (a trailing ';' is allowed)."""
    statements = split_statements(tokenize(sql))
    if len(statements) != 1:
        raise CopySyntaxError("expected exactly one COPY statement")
    parser = _Parser(statements[0])
    parser.expect_word("COPY")
    table = _table(parser)
    columns = _column_list(parser)
    parser.expect_word("FROM")
    source = parser.next("a quoted s3:// source")
    if source.kind is not Kind.STRING:
        raise NotEmulatedError(f"COPY FROM {source.value} is not emulated: only 's3://' sources")
    if not source.value.lower().startswith("s3://"):
        raise NotEmulatedError(f"COPY source {source.value!r} is not emulated: only s3:// URLs")
    _options(parser)
    spec = CopySpec(table=table, columns=columns, source=source.value, **parser.fields)
    _validate(spec, parser.seen)
    return spec


def is_s3_copy(statement: list[Token]) -> bool:
    """True for `COPY <target> FROM 's3://...' ...` (COPY TO and FROM STDIN are PostgreSQL's)."""
    if not statement or not statement[0].is_word("COPY"):
        return False
    for index, token in enumerate(statement[:-1]):
        if token.is_word("FROM"):
            source = statement[index + 1]
            return source.kind is Kind.STRING and source.value.lower().startswith("s3://")
    return False


def mask_secrets(sql: str) -> str:
    """The SQL with credential literals replaced by '***', safe to log."""
    try:
        tokens = tokenize(sql)
    except CopySyntaxError:
        return "<unparseable SQL withheld from the log>"
    spans: list[tuple[int, int]] = []
    for index, token in enumerate(tokens):
        if token.kind is Kind.WORD and token.value.upper() in SECRET_OPTIONS:
            following = tokens[index + 1 : index + 3]
            literal = next((t for t in following if t.kind is Kind.STRING), None)
            if literal is not None:
                spans.append((literal.start, literal.end))
    for start, end in reversed(spans):
        sql = sql[:start] + "'***'" + sql[end:]
    return sql
