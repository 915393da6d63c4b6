"""An independent checker of Redshift COPY statements, written from the documentation only.

It shares no code with the builder (`loader/copy_sql.py`, `config/`): a statement is lexed, parsed
against the documented COPY syntax and checked against the documented rules, each rule citing its
page of the Amazon Redshift Database Developer Guide (https://docs.aws.amazon.com/redshift/latest/
dg/<page>). `check_copy` returns the violations; an empty list means the statement conforms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# --- lexing: Redshift reads backslash escapes inside '...' and doubles quotes in both kinds ------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<literal>'(?:[^'\\]|''|\\.)*')
      | (?P<ident>"(?:[^"]|"")*")
      | (?P<number>[0-9]+(?:\.[0-9]+)?)
      | (?P<word>[A-Za-z_][A-Za-z0-9_$]*)
      | (?P<punct>[(),.])
    )""",
    re.S | re.X,
)
_ESCAPE = re.compile(r"''|\\([0-7]{1,3}|.)", re.S)
_C_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str

    @property
    def value(self) -> str:
        if self.kind == "literal":
            return _ESCAPE.sub(_unescape, self.text[1:-1])
        if self.kind == "ident":
            return self.text[1:-1].replace('""', '"')
        return self.text


def _unescape(match: re.Match[str]) -> str:
    code = match.group(1)
    if code is None:
        return "'"
    if code[0] in "01234567":
        return chr(int(code, 8))
    return _C_ESCAPES.get(code, code)


def lex(sql: str) -> list[Token]:
    tokens, pos = [], 0
    while pos < len(sql.rstrip()):
        match = _TOKEN.match(sql, pos)
        if match is None:
            raise SyntaxError(f"cannot read {sql[pos : pos + 20]!r}")
        kind = match.lastgroup or ""
        tokens.append(Token(kind, match.group(kind)))
        pos = match.end()
    return tokens


# --- the documented parameters -------------------------------------------------------------
# Argument shapes: flag, literal ([AS] '...'), opt_literal, number ([AS] n), word ([AS] WORD),
# switch (optional ON/TRUE/OFF/FALSE[/PRESET]).

FORMATS = {"CSV", "JSON", "AVRO", "PARQUET", "ORC", "FIXEDWIDTH", "SHAPEFILE"}
PARAMETERS: dict[str, str] = {
    # copy-parameters-data-format.html
    "DELIMITER": "literal",
    "QUOTE": "literal",
    # copy-parameters-file-compression.html
    "BZIP2": "flag",
    "GZIP": "flag",
    "LZOP": "flag",
    "ZSTD": "flag",
    # copy-parameters-data-conversion.html
    "ACCEPTANYDATE": "flag",
    "ACCEPTINVCHARS": "opt_literal",
    "BLANKSASNULL": "flag",
    "DATEFORMAT": "literal",
    "EMPTYASNULL": "flag",
    "ENCODING": "word",
    "ESCAPE": "flag",
    "EXPLICIT_IDS": "flag",
    "FILLRECORD": "flag",
    "IGNOREBLANKLINES": "flag",
    "IGNOREHEADER": "number",
    "NULL": "literal",  # NULL AS 'null_string'
    "REMOVEQUOTES": "flag",
    "ROUNDEC": "flag",
    "TIMEFORMAT": "literal",
    "TRIMBLANKS": "flag",
    "TRUNCATECOLUMNS": "flag",
    # copy-parameters-data-load.html
    "COMPROWS": "number",
    "COMPUPDATE": "switch",
    "IGNOREALLERRORS": "flag",
    "MAXERROR": "number",
    "NOLOAD": "flag",
    "STATUPDATE": "switch",
    # copy-parameters-data-source-s3.html
    "MANIFEST": "flag",
    "ENCRYPTED": "flag",
    "REGION": "literal",
    # copy-parameters-authorization.html
    "MASTER_SYMMETRIC_KEY": "literal",
    # ingest-super.html: FORMAT PARQUET SERIALIZETOJSON
    "SERIALIZETOJSON": "flag",
}
# Parameters of COPY from other sources (copy-parameters-data-source-dynamodb.html, -ssh.html).
NOT_FROM_S3 = {"READRATIO", "SSH"}
# copy-parameters-data-load.html: ranges.
RANGES = {"MAXERROR": (0, 100_000), "COMPROWS": (1000, 2_147_483_647)}
# copy-parameters-data-format.html, JSON: "The following options aren't supported with JSON".
NOT_WITH_JSON = {
    "CSV",
    "DELIMITER",
    "ESCAPE",
    "FILLRECORD",
    "FIXEDWIDTH",
    "IGNOREBLANKLINES",
    "NULL",
    "READRATIO",
    "REMOVEQUOTES",
}
# copy-usage_notes-copy-from-columnar.html: "Only the following COPY parameters are supported"
# (plus SERIALIZETOJSON, ingest-super.html).
COLUMNAR_ONLY = {"ACCEPTINVCHARS", "FILLRECORD", "STATUPDATE", "MANIFEST", "EXPLICIT_IDS"}
COLUMNAR_ONLY.add("SERIALIZETOJSON")
ENCODINGS = {"UTF8", "UTF16", "UTF16LE", "UTF16BE"}
JSON_OPTIONS = {"auto", "auto ignorecase", "noshred"}
DATE_KEYWORDS = {"auto"}
TIME_KEYWORDS = {"auto", "epochsecs", "epochmillisecs"}
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}")
_ROLE = re.compile(r"arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9_+=,.@/-]+")
_KEY_ID = re.compile(r"[A-Za-z0-9_]{16,128}")
_S3_URL = re.compile(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](?:/[^\x00-\x1f]*)?")
_FIXEDWIDTH = re.compile(r"[^:,]+:[0-9]+(?:,[^:,]+:[0-9]+)*")


@dataclass
class Statement:
    """What was read from one COPY statement."""

    table: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    source: str = ""
    data_format: str | None = None
    format_argument: str | None = None
    order: list[str] = field(default_factory=list)
    """Parameter keywords in the order they appear."""
    arguments: dict[str, Token | None] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


class _Reader:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens, self.pos = tokens, 0

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, kind: str | None = None, words: set[str] | None = None) -> Token | None:
        token = self.peek()
        if token is None or (kind and token.kind != kind):
            return None
        if words is not None and token.text.upper() not in words:
            return None
        self.pos += 1
        return token

    def need(self, kind: str, what: str) -> Token:
        token = self.take(kind)
        if token is None:
            raise SyntaxError(f"expected {what} at {self.peek()}")
        return token


def parse(sql: str) -> Statement:
    reader, st = _Reader(lex(sql)), Statement()
    reader.take("word", {"COPY"}) or _fail("a statement starts with COPY")
    st.table.append(_identifier(reader))
    if reader.take("punct", {"."}):
        st.table.append(_identifier(reader))
    if reader.take("punct", {"("}):
        st.columns.append(_identifier(reader))
        while reader.take("punct", {","}):
            st.columns.append(_identifier(reader))
        reader.need("punct", "')' after the column list")
    reader.take("word", {"FROM"}) or _fail("FROM must follow the table")
    st.source = reader.need("literal", "the data source").value
    _authorization(reader, st)
    while reader.peek() is not None:
        _parameter(reader, st)
    return st


def _fail(message: str) -> bool:
    raise SyntaxError(message)


def _identifier(reader: _Reader) -> str:
    token = reader.take("ident") or reader.need("word", "a name")
    return token.value


def _authorization(reader: _Reader, st: Statement) -> None:
    if reader.take("word", {"IAM_ROLE"}):
        if reader.take("word", {"DEFAULT"}):
            return
        roles = reader.need("literal", "IAM_ROLE 'arn'").value.split(",")
        st.problems += [f"not an IAM role ARN: {r!r}" for r in roles if not _ROLE.fullmatch(r)]
        return
    if reader.take("word", {"ACCESS_KEY_ID"}):
        key_id = reader.need("literal", "ACCESS_KEY_ID 'id'").value
        if not _KEY_ID.fullmatch(key_id):
            st.problems.append(f"not an access key id: {key_id!r}")
        reader.take("word", {"SECRET_ACCESS_KEY"}) or _fail("SECRET_ACCESS_KEY must follow")
        reader.need("literal", "the secret access key")
        if reader.take("word", {"SESSION_TOKEN"}):
            reader.need("literal", "the session token")
        return
    if reader.take("word", {"CREDENTIALS"}):
        reader.take("word", {"AS"})
        reader.need("literal", "CREDENTIALS 'string'")
        return
    st.problems.append("no authorization (copy-parameters-authorization.html)")


def _parameter(reader: _Reader, st: Statement) -> None:
    word = reader.need("word", "a parameter").text.upper()
    if word == "FORMAT":
        reader.take("word", {"AS"})
        word = reader.need("word", "a data format after FORMAT").text.upper()
        if word not in FORMATS:
            st.problems.append(f"FORMAT {word} is not a data format")
            return
    if word in st.order:
        st.problems.append(f"{word} given twice")
    st.order.append(word)
    if word in FORMATS:
        _format(reader, st, word)
        return
    if word in NOT_FROM_S3:
        st.problems.append(f"{word} is not a parameter of COPY from Amazon S3")
        reader.take("number")  # READRATIO ratio
        return
    shape = PARAMETERS.get(word)
    if shape is None:
        st.problems.append(f"{word} is not a documented COPY parameter")
        return
    if word == "NULL":
        reader.take("word", {"AS"}) or st.problems.append("NULL needs AS")
    elif shape != "flag":
        reader.take("word", {"AS"})
    st.arguments[word] = _argument(reader, st, word, shape)


def _argument(reader: _Reader, st: Statement, word: str, shape: str) -> Token | None:
    if shape == "literal":
        return reader.need("literal", f"{word}'s '...'")
    if shape == "opt_literal":
        return reader.take("literal")
    if shape == "number":
        token = reader.need("number", f"{word}'s number")
        low, high = RANGES.get(word, (0, 2**63))
        if "." in token.text or not low <= int(token.text) <= high:
            st.problems.append(f"{word} {token.text} is outside {low}..{high}")
        return token
    if shape == "word":
        return reader.need("word", f"{word}'s value")
    if shape == "switch":
        words = {"ON", "TRUE", "OFF", "FALSE"} | ({"PRESET"} if word == "COMPUPDATE" else set())
        return reader.take("word", words)
    return None


def _format(reader: _Reader, st: Statement, word: str) -> None:
    if st.data_format is not None:
        st.problems.append(f"a second data format: {word} after {st.data_format}")
    st.data_format = word
    if word in {"JSON", "AVRO"}:
        reader.take("word", {"AS"})
        argument = reader.take("literal")
        st.format_argument = argument.value if argument else "auto"
    elif word == "FIXEDWIDTH":
        st.format_argument = reader.need("literal", "the fixedwidth spec").value
    elif word == "CSV" and reader.take("word", {"QUOTE"}):
        st.order.append("QUOTE")
        reader.take("word", {"AS"})
        st.arguments["QUOTE"] = reader.need("literal", "QUOTE's character")


# --- the documented rules ------------------------------------------------------------------


def check_copy(sql: str) -> list[str]:
    """Every documented rule the statement breaks; [] when it conforms."""
    try:
        st = parse(sql)
    except SyntaxError as exc:
        return [f"syntax: {exc}"]
    problems = list(st.problems)
    problems += _names(st)
    if not _S3_URL.fullmatch(st.source):
        problems.append(f"not an s3:// source: {st.source!r}")
    problems += _format_rules(st)
    problems += _value_rules(st)
    return problems


def _names(st: Statement) -> list[str]:
    # r_names.html: "Identifiers must consist of only UTF-8 printable characters", 1 to 127 bytes;
    # ASCII letters "are folded to lowercase".
    problems = [
        f"bad identifier {name!r}"
        for name in st.table + st.columns
        if not name or not name.isprintable() or len(name.encode()) > 127
    ]
    folded = [
        c.translate(str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"))
        for c in st.columns
    ]
    if len(set(folded)) != len(folded):
        problems.append(f"the column list names one column twice: {st.columns}")
    return problems


def _format_rules(st: Statement) -> list[str]:
    fmt, used, problems = st.data_format, set(st.order), []
    if fmt == "CSV" and used & {"FIXEDWIDTH", "REMOVEQUOTES", "ESCAPE"}:
        problems.append("CSV can't be used with FIXEDWIDTH, REMOVEQUOTES, or ESCAPE")
    if "QUOTE" in used and fmt != "CSV":
        problems.append("QUOTE can be used only with CSV")
    if fmt == "FIXEDWIDTH" and used & {"DELIMITER", "ESCAPE"}:
        problems.append("FIXEDWIDTH can't be used with DELIMITER or ESCAPE")
    if fmt == "JSON" and used & NOT_WITH_JSON:
        problems.append(f"not supported with JSON: {sorted(used & NOT_WITH_JSON)}")
    if fmt in {"JSON", "AVRO"}:
        arg = st.format_argument or ""
        if arg not in JSON_OPTIONS and not _S3_URL.fullmatch(arg):
            problems.append(
                f"{fmt} option {arg!r} is not 'auto', 'auto ignorecase', 'noshred' or s3"
            )
    if fmt in {"PARQUET", "ORC"}:
        extra = used - COLUMNAR_ONLY - {fmt}
        if extra:
            problems.append(f"not supported for columnar data: {sorted(extra)}")
    if "SERIALIZETOJSON" in used:
        at = st.order.index("SERIALIZETOJSON")
        if fmt not in {"PARQUET", "ORC"} or at == 0 or st.order[at - 1] != fmt:
            problems.append("SERIALIZETOJSON goes right after FORMAT PARQUET or ORC")
    if fmt == "FIXEDWIDTH":
        if not _FIXEDWIDTH.fullmatch(st.format_argument or ""):
            problems.append(f"bad fixedwidth spec {st.format_argument!r}")
        encoding = st.arguments.get("ENCODING")
        if encoding is not None and encoding.text.upper() != "UTF8":
            problems.append("Fixed-width data files must use UTF-8 encoding")
    if "IGNOREALLERRORS" in used and "MAXERROR" in used:
        problems.append("IGNOREALLERRORS can't be combined with MAXERROR")
    if ("ENCRYPTED" in used) != ("MASTER_SYMMETRIC_KEY" in used):
        problems.append("ENCRYPTED goes with MASTER_SYMMETRIC_KEY")
    if fmt is None and "QUOTE" in used:
        problems.append("QUOTE without CSV")
    return problems


def _value_rules(st: Statement) -> list[str]:
    args, problems = st.arguments, []

    def value(word: str) -> str | None:
        token = args.get(word)
        return token.value if token is not None else None

    # copy-parameters-data-conversion.html: the keywords are case-sensitive.
    date, time = value("DATEFORMAT"), value("TIMEFORMAT")
    if date is not None and date.lower() in TIME_KEYWORDS and date not in DATE_KEYWORDS:
        problems.append(f"DATEFORMAT {date!r}: it takes 'auto' (lowercase) or a format string")
    if time is not None and time.lower() in TIME_KEYWORDS and time not in TIME_KEYWORDS:
        problems.append(f"TIMEFORMAT {time!r}: the keywords are lowercase only")
    # r_DATEFORMAT_and_TIMEFORMAT_strings.html: "You can't include a time zone specifier (TZ, tz,
    # or OF) in the timeformat_string."
    if time is not None and any(zone in time for zone in ("TZ", "tz", "OF")):
        problems.append(f"TIMEFORMAT {time!r} names a time zone")
    null = value("NULL")
    if null is not None and "\n" in null:
        problems.append("NULL AS: Amazon Redshift reserves '\\n' for use as a line delimiter")
    delimiter = value("DELIMITER")
    if delimiter is not None and (not delimiter or set(delimiter) & {"\x00", "\n", "\r"}):
        problems.append(f"unusable DELIMITER {delimiter!r}")
    quote = value("QUOTE")
    if quote is not None and (len(quote) != 1 or (delimiter and quote in delimiter)):
        problems.append(f"QUOTE {quote!r} must be one character, not part of the delimiter")
    inv = value("ACCEPTINVCHARS")
    if inv is not None and not (len(inv) == 1 and "\x00" < inv < "\x80"):
        problems.append("ACCEPTINVCHARS: the replacement is one ASCII character except NULL")
    encoding = args.get("ENCODING")
    if encoding is not None and encoding.text.upper() not in ENCODINGS:
        problems.append(f"ENCODING {encoding.text} is not UTF8, UTF16, UTF16LE or UTF16BE")
    region = value("REGION")
    if region is not None and not _REGION.fullmatch(region):
        problems.append(f"REGION {region!r} is not a region name")
    if "ESCAPE" in args and delimiter and "\\" in delimiter:
        problems.append("with ESCAPE the backslash is the escape character, not a delimiter")
    return problems
