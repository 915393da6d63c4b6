"""The documented cases: DDL, data, COPY, and the outcome the Redshift documentation states.

Each case cites a page of awsdocs/amazon-redshift-developer-guide (doc_source/<page>.md) and the
sentence it relies on. `choice` records the reading taken where the documentation is ambiguous.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pyarrow as pa
from fidelity.case import Case, Failure, LoadError
from fidelity.columnar_files import orc_file, parquet

EXAMPLES = "doc_source/r_COPY_command_examples.md"
CONVERSION = "doc_source/copy-parameters-data-conversion.md"
DATA_FORMAT = "doc_source/copy-parameters-data-format.md"
DATETIME = "doc_source/r_DATEFORMAT_and_TIMEFORMAT_strings.md"
AUTO = "doc_source/automatic-recognition.md"
MULTIBYTE = "doc_source/multi-byte-character-load-errors.md"
JSON_NOTES = "doc_source/copy-usage_notes-copy-from-json.md"
COLUMNAR = "doc_source/copy-usage_notes-copy-from-columnar.md"
ERRORS = "doc_source/r_Load_Error_Reference.md"
COMMITS = "doc_source/r_STL_LOAD_COMMITS.md"
LOAD_DETAIL = "doc_source/SYS_LOAD_DETAIL.md"
ERROR_DETAIL = "doc_source/SYS_LOAD_ERROR_DETAIL.md"
CREATE_TABLE = "doc_source/r_CREATE_TABLE_NEW.md"

CATEGORY = (
    "CREATE TABLE {table} (catid smallint, catgroup varchar(10), catname varchar(10),"
    " catdesc varchar(50))"
)
VENUE_NEW = (
    "CREATE TABLE {table} (venueid smallint not null, venuename varchar(100) not null,"
    " venuecity varchar(30), venuestate char(2), venueseats integer not null default '1000')"
)
TWO = "CREATE TABLE {table} (id int, name varchar(20))"
CHAR4 = "CREATE TABLE {table} (a char(6), b char(6), c char(6), d char(6))"
ONE_TS = "CREATE TABLE {table} (c1 timestamp)"
ONE_TSTZ = "CREATE TABLE {table} (c1 timestamptz)"
ONE_DATE = "CREATE TABLE {table} (c1 date)"
TSTZ_UTC = "SELECT to_char(c1 AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') FROM {table}"


def copy(options: str, source: str = "{s3}data") -> tuple[str, ...]:
    return (f"COPY {{table}} FROM '{source}' {options}".strip(),)


def manifest(*names: str, mandatory: bool | None = None) -> str:
    entries = []
    for name in names:
        entry: dict[str, object] = {"url": "{s3}" + name}
        if mandatory is not None:
            entry["mandatory"] = mandatory
        entries.append(entry)
    return json.dumps({"entries": entries})


CATEGORY_ROWS = [
    (12, "Shows", "Musicals", "Musical theatre"),
    (13, "Shows", "Plays", 'All "non-musical" theatre'),
    (14, "Shows", "Opera", 'All opera, light, and "rock" opera'),
    (15, "Concerts", "Classical", "All symphony, concerto, and choir concerts"),
]

TEXT_CASES = [
    Case(
        id="csv-category-doubled-quotes",
        theme="baseline",
        doc=EXAMPLES,
        quote="If the quote character appears within a quoted string, you need to escape it by "
        "doubling the quote character.",
        ddl=CATEGORY,
        files={
            "data": "12,Shows,Musicals,Musical theatre\n"
            '13,Shows,Plays,"All ""non-musical"" theatre"\n'
            '14,Shows,Opera,"All opera, light, and ""rock"" opera"\n'
            '15,Concerts,Classical,"All symphony, concerto, and choir concerts"\n'
        },
        copy=copy("csv"),
        rows=CATEGORY_ROWS,
    ),
    Case(
        id="csv-quote-as-percent",
        theme="baseline",
        doc=EXAMPLES,
        quote="you can specify a different quote character by using the QUOTE AS parameter",
        ddl=CATEGORY,
        files={
            "data": "12,Shows,Musicals,Musical theatre\n"
            '13,Shows,Plays,%All "non-musical" theatre%\n'
            '14,Shows,Opera,%All opera, light, and "rock" opera%\n'
            "15,Concerts,Classical,%All symphony, concerto, and choir concerts%\n"
        },
        copy=copy("csv quote as '%'"),
        rows=CATEGORY_ROWS,
    ),
    Case(
        id="csv-blanks-around-quoted-field",
        theme="wrong-value",
        doc=DATA_FORMAT,
        quote="When a field is enclosed in quotes, white space between the delimiters and the "
        "quote characters is ignored.",
        ddl=TWO,
        files={"data": '1,  "alpha"  \n2, "beta" \n3,gamma  \n'},
        copy=copy("csv"),
        rows=[(1, "alpha"), (2, "beta"), (3, "gamma  ")],
    ),
    Case(
        id="pipe-default-delimiter",
        theme="baseline",
        doc=EXAMPLES,
        quote="no options are specified and the input file contains the default delimiter, a "
        "pipe character ('|')",
        ddl=TWO,
        files={"data": "1|alpha\n2|beta\n"},
        copy=copy(""),
        rows=[(1, "alpha"), (2, "beta")],
    ),
    Case(
        id="escape-pipe-in-field",
        theme="baseline",
        doc=EXAMPLES,
        quote="make sure that all of the pipe characters (|) that you want to load are escaped "
        "with the backslash character (\\). Then load the file with the ESCAPE parameter.",
        ddl="CREATE TABLE {table} (infoid int, tableinfo varchar(50))",
        files={"data": "1|public\\|event\\|dwuser\n2|public\\|sales\\|dwuser\n"},
        copy=copy("delimiter '|' escape"),
        rows=[(1, "public|event|dwuser"), (2, "public|sales|dwuser")],
    ),
    Case(
        id="no-escape-extra-columns",
        theme="baseline",
        doc=EXAMPLES,
        quote="Without the ESCAPE parameter, this COPY command fails with an `Extra column(s) "
        "found` error.",
        ddl="CREATE TABLE {table} (infoid int, tableinfo varchar(50))",
        files={"data": "1|public\\|event\\|dwuser\n"},
        copy=copy("delimiter '|'"),
        failure=Failure(
            "XX000",
            "Check 'stl_load_errors'",
            LoadError(1202, line=1, reason="Extra column(s) found"),
        ),
    ),
    Case(
        id="event-removequotes-emptyasnull-blanksasnull",
        theme="baseline",
        doc=EXAMPLES,
        quote="If pairs of quotation marks are used to surround any character strings, they are "
        "removed. Both empty strings and strings that contain blanks are loaded as NULL values.",
        ddl="CREATE TABLE {table} (id int, a varchar(10), b varchar(10), c varchar(10))",
        files={"data": "1|\"quoted\"||   \n2|'single'|x|y\n"},
        copy=copy("removequotes emptyasnull blanksasnull maxerror 5 delimiter '|'"),
        rows=[(1, "quoted", None, None), (2, "single", "x", "y")],
    ),
    Case(
        id="fixedwidth-venue",
        theme="baseline",
        doc=EXAMPLES,
        quote="spaces act as placeholders so that all of the columns are the same width as noted "
        "in the specification",
        ddl="CREATE TABLE {table} (venueid smallint, venuename varchar(100), venuecity "
        "varchar(30), venuestate char(2), venueseats integer)",
        files={
            "data": "1  Toyota Park              Bridgeview  IL0\n"
            "5  Gillette Stadium         Foxborough  MA68756\n"
        },
        copy=copy("fixedwidth 'venueid:3,venuename:25,venuecity:12,venuestate:2,venueseats:6'"),
        select="SELECT venueid, trim(venuename), trim(venuecity), venuestate, venueseats"
        " FROM {table} ORDER BY 1",
        rows=[
            (1, "Toyota Park", "Bridgeview", "IL", 0),
            (5, "Gillette Stadium", "Foxborough", "MA", 68756),
        ],
    ),
    Case(
        id="venue-noseats-trailing-delimiter-default",
        theme="false-red",
        doc=EXAMPLES,
        quote="The following COPY statement will successfully load the table from the file and "
        "apply the DEFAULT value ('1000') to the omitted column",
        ddl=VENUE_NEW,
        files={"data": "1|Toyota Park|Bridgeview|IL|\n2|Columbus Crew Stadium|Columbus|OH|\n"},
        copy=(
            "COPY {table} (venueid, venuename, venuecity, venuestate) FROM '{s3}data' "
            "delimiter '|'",
        ),
        rows=[
            (1, "Toyota Park", "Bridgeview", "IL", 1000),
            (2, "Columbus Crew Stadium", "Columbus", "OH", 1000),
        ],
        choice="A record ending in the delimiter has one empty field more than the column list; "
        "the documented example loads it, so one trailing empty field beyond the last column is "
        "ignored (text and CSV). Any other extra field is still 1202.",
    ),
    Case(
        id="venue-missing-not-null-column-fails",
        theme="baseline",
        doc=EXAMPLES,
        quote="the following COPY statement will fail because no DEFAULT value was specified "
        "for VENUENAME, and VENUENAME is a NOT NULL column",
        ddl=VENUE_NEW,
        files={"data": "1|Bridgeview|IL\n"},
        copy=("COPY {table} (venueid, venuecity, venuestate) FROM '{s3}data' delimiter '|'",),
        failure=Failure(None),
    ),
    Case(
        id="identity-ddl-explicit-ids",
        theme="system-tables",
        doc=EXAMPLES,
        quote="create table venue_identity( venueid int identity(1,1), ... The following COPY "
        "statement will successfully load the table, including the predefined IDENTITY data "
        "values",
        ddl="CREATE TABLE {table} (venueid int identity(1,1), venuename varchar(100) not null,"
        " venuecity varchar(30), venuestate char(2), venueseats integer not null default '1000')",
        files={"data": "7|BMO Field|Toronto|ON\n9|Pizza Hut Park|Frisco|TX\n"},
        copy=(
            "COPY {table} (venueid, venuename, venuecity, venuestate) FROM '{s3}data' "
            "delimiter '|' explicit_ids",
        ),
        rows=[(7, "BMO Field", "Toronto", "ON", 1000), (9, "Pizza Hut Park", "Frisco", "TX", 1000)],
    ),
    Case(
        id="identity-generated-without-explicit-ids",
        theme="system-tables",
        doc=CREATE_TABLE,
        quote="IDENTITY(seed, step) Clause that specifies that the column is an IDENTITY column.",
        ddl="CREATE TABLE {table} (id bigint identity(100,10), name varchar(20))",
        files={"data": "alpha\nbeta\n"},
        copy=copy(""),
        rows=[(100, "alpha"), (110, "beta")],
    ),
    Case(
        id="identity-column-list-without-explicit-ids-fails",
        theme="baseline",
        doc=EXAMPLES,
        quote="This statement fails because it does not include an EXPLICIT_IDS parameter",
        ddl="CREATE TABLE {table} (venueid int identity(1,1), venuename varchar(100))",
        files={"data": "1|Toyota Park\n"},
        copy=("COPY {table} (venueid, venuename) FROM '{s3}data' delimiter '|'",),
        failure=Failure(None),
    ),
    Case(
        id="timestamp-fractional-seconds",
        theme="false-red",
        doc=EXAMPLES,
        quote="The TIMEFORMAT of HH:MI:SS can also support fractional seconds beyond the SS to a "
        "microsecond level of detail.",
        ddl=ONE_TS,
        files={"data": "2009-01-12 14:15:57.119568\n"},
        copy=copy("timeformat 'YYYY-MM-DD HH:MI:SS'"),
        rows=[(dt.datetime(2009, 1, 12, 14, 15, 57, 119568),)],
    ),
    Case(
        id="emptyasnull-varchar",
        theme="baseline",
        doc=CONVERSION,
        quote="Indicates that Amazon Redshift should load empty CHAR and VARCHAR fields as NULL.",
        ddl=TWO,
        files={"data": "1|\n2|x\n"},
        copy=copy("emptyasnull"),
        rows=[(1, None), (2, "x")],
    ),
    Case(
        id="empty-varchar-without-option",
        theme="baseline",
        doc=CONVERSION,
        quote="Empty fields occur when data contains two delimiters in succession with no "
        "characters between the delimiters.",
        ddl=TWO,
        files={"data": "1|\n"},
        copy=copy(""),
        rows=[(1, "")],
        choice="Without EMPTYASNULL an empty VARCHAR field loads as a zero-length string.",
    ),
    Case(
        id="empty-int-is-null",
        theme="baseline",
        doc=CONVERSION,
        quote="Empty fields for other data types, such as INT, are always loaded with NULL.",
        ddl=TWO,
        files={"data": "|a\n"},
        copy=copy(""),
        select="SELECT id, name FROM {table}",
        rows=[(None, "a")],
    ),
    Case(
        id="blanksasnull",
        theme="baseline",
        doc=CONVERSION,
        quote="Loads blank fields, which consist of only white space characters, as NULL.",
        ddl=TWO,
        files={"data": "1|   \n"},
        copy=copy("blanksasnull"),
        rows=[(1, None)],
    ),
    Case(
        id="blanks-kept-without-option",
        theme="baseline",
        doc=CONVERSION,
        quote="The default behavior, without this option, is to load the space characters as is.",
        ddl=TWO,
        files={"data": "1|   \n"},
        copy=copy(""),
        rows=[(1, "   ")],
    ),
    Case(
        id="decimal-truncated-by-default",
        theme="baseline",
        doc=CONVERSION,
        quote="if a value of 20.259 is loaded into a DECIMAL(8,2) column, COPY truncates the "
        "value to 20.25 by default.",
        ddl="CREATE TABLE {table} (d decimal(8,2))",
        files={"data": "20.259\n"},
        copy=copy(""),
        rows=[(Decimal("20.25"),)],
    ),
    Case(
        id="decimal-roundec",
        theme="baseline",
        doc=CONVERSION,
        quote="If ROUNDEC is specified, COPY rounds the value to 20.26.",
        ddl="CREATE TABLE {table} (d decimal(8,2))",
        files={"data": "20.259\n"},
        copy=copy("roundec"),
        rows=[(Decimal("20.26"),)],
    ),
    Case(
        id="fillrecord-char-null",
        theme="wrong-value",
        doc=CONVERSION,
        quote="if the table definition contains four nullable CHAR columns, and a record "
        "contains the values apple, orange, banana, mango, the COPY command could load and fill "
        "in a record that contains only the values apple, orange. The missing CHAR values would "
        "be loaded as NULL values.",
        ddl=CHAR4,
        files={"data": "apple,orange,banana,mango\napple,orange\n"},
        copy=copy("delimiter ',' fillrecord"),
        select="SELECT * FROM {table} ORDER BY c NULLS LAST",
        rows=[("apple ", "orange", "banana", "mango "), ("apple ", "orange", None, None)],
        choice="The page says VARCHAR gets zero-length strings without EMPTYASNULL and its "
        "example says CHAR gets NULL: missing CHAR and non-character columns load NULL, missing "
        "VARCHAR columns '' (NULL with EMPTYASNULL).",
    ),
    Case(
        id="fillrecord-varchar-empty",
        theme="baseline",
        doc=CONVERSION,
        quote="if EMPTYASNULL is not present and the column is a VARCHAR, zero-length strings "
        "are loaded.",
        ddl="CREATE TABLE {table} (id int, name varchar(20), n int)",
        files={"data": "1\n"},
        copy=copy("fillrecord"),
        rows=[(1, "", None)],
    ),
    Case(
        id="fillrecord-varchar-emptyasnull",
        theme="baseline",
        doc=CONVERSION,
        quote="If the EMPTYASNULL parameter is present in the COPY command and the missing "
        "column is a VARCHAR column, NULLs are loaded",
        ddl="CREATE TABLE {table} (id int, name varchar(20))",
        files={"data": "1\n"},
        copy=copy("fillrecord emptyasnull"),
        rows=[(1, None)],
    ),
    Case(
        id="missing-field-without-fillrecord",
        theme="baseline",
        doc=ERRORS,
        quote="1214 | Delimiter not found.",
        ddl=TWO,
        files={"data": "1\n"},
        copy=copy(""),
        failure=Failure("XX000", "Check 'stl_load_errors'", LoadError(1214, line=1)),
    ),
    Case(
        id="ignoreblanklines",
        theme="baseline",
        doc=CONVERSION,
        quote="Ignores blank lines that only contain a line feed in a data file and does not try "
        "to load them.",
        ddl=TWO,
        files={"data": "1|a\n\n2|b\n"},
        copy=copy("ignoreblanklines"),
        rows=[(1, "a"), (2, "b")],
    ),
    Case(
        id="ignoreheader",
        theme="baseline",
        doc=CONVERSION,
        quote="Treats the specified number_rows as a file header and does not load them.",
        ddl=TWO,
        files={"data": "id|name\n1|a\n"},
        copy=copy("ignoreheader 1"),
        rows=[(1, "a")],
    ),
    Case(
        id="null-as-string",
        theme="baseline",
        doc=CONVERSION,
        quote="Loads fields that match null_string as NULL, where null_string can be any string.",
        ddl=TWO,
        files={"data": "1|NULL\n2|x\n"},
        copy=copy("null as 'NULL'"),
        rows=[(1, None), (2, "x")],
    ),
    Case(
        id="null-as-backslash-0",
        theme="false-red",
        doc=CONVERSION,
        quote="If a field contains only NUL, you can use NULL AS to replace the null terminator "
        "with NULL by specifying '\\0' or '\\000'",
        ddl=TWO,
        files={"data": b"1|\x00\n2|x\n"},
        copy=copy("null as '\\0'"),
        rows=[(1, None), (2, "x")],
    ),
    Case(
        id="null-as-backslash-000",
        theme="false-red",
        doc=CONVERSION,
        quote="for example, NULL AS '\\0' or NULL AS '\\000'",
        ddl=TWO,
        files={"data": b"1|\x00\n2|x\n"},
        copy=copy("null as '\\000'"),
        rows=[(1, None), (2, "x")],
    ),
    Case(
        id="nul-in-longer-field-with-null-as",
        theme="system-tables",
        doc=ERRORS,
        quote="1218 | When using NULL AS '\\0', a field containing a null terminator (NUL, or "
        "UTF-8 0000) contained more than one byte.",
        ddl=TWO,
        files={"data": b"1|ab\x00\n"},
        copy=copy("null as '\\0'"),
        failure=Failure("XX000", "Check 'stl_load_errors'", LoadError(1218, column="name")),
    ),
    Case(
        id="nul-without-null-as-fails",
        theme="system-tables",
        doc="doc_source/t_preparing-input-data.md",
        quote="If you do not use NULL AS, null terminators will cause your COPY to fail.",
        ddl=TWO,
        files={"data": b"1|a\x00b\n"},
        copy=copy(""),
        failure=Failure("XX000", "Check 'stl_load_errors'", LoadError(1218, column="name")),
        choice="The documented failure has no documented code; the stand-in records 1218 (the "
        "code of a field that holds NUL and more), with the reason naming the NUL byte.",
    ),
    Case(
        id="char-multibyte-1220",
        theme="false-green",
        doc=MULTIBYTE,
        quote="If a line in your load data contains a character that is not valid for the column "
        "data type, COPY returns an error and logs a row in the STL_LOAD_ERRORS system log table "
        "with error number 1220.",
        ddl="CREATE TABLE {table} (id int, c char(10))",
        files={"data": "1|café\n"},
        copy=copy(""),
        failure=Failure(
            "XX000",
            "Check 'stl_load_errors'",
            LoadError(1220, column="c", reason="Multibyte character not supported for CHAR"),
        ),
    ),
    Case(
        id="varchar-multibyte-loads",
        theme="baseline",
        doc=MULTIBYTE,
        quote="VARCHAR columns accept multibyte UTF-8 characters, to a maximum of four bytes.",
        ddl=TWO,
        files={"data": "1|café €\n"},
        copy=copy(""),
        rows=[(1, "café €")],
    ),
    Case(
        id="varchar-invalid-utf8-1220",
        theme="system-tables",
        doc=MULTIBYTE,
        quote="String contains invalid or unsupported UTF-8 codepoints. Bad UTF-8 hex sequence: "
        "a4 (error 3)",
        ddl=TWO,
        files={"data": b"1|a\xa4b\n"},
        copy=copy(""),
        failure=Failure(
            "XX000",
            "Check 'stl_load_errors'",
            LoadError(
                1220,
                column="name",
                type="varchar",
                reason="String contains invalid or unsupported UTF8 codepoints",
            ),
        ),
    ),
    Case(
        id="acceptinvchars-replacement",
        theme="baseline",
        doc=CONVERSION,
        quote="COPY replaces each invalid UTF-8 character with a string of equal length "
        "consisting of the character specified by replacement_char.",
        ddl=TWO,
        files={"data": b"1|a\xa4b\n"},
        copy=copy("acceptinvchars as '^'"),
        rows=[(1, "a^b")],
    ),
    Case(
        id="invalid-digit-int4",
        theme="system-tables",
        doc=ERROR_DETAIL,
        quote="| id | int4 | Invalid digit, Value 'a', Pos 0, Type: Integer",
        ddl=TWO,
        files={"data": "a|x\n"},
        copy=copy(""),
        failure=Failure(
            "XX000",
            "Check 'stl_load_errors'",
            LoadError(
                1207,
                column="id",
                line=1,
                type="int4",
                reason="Invalid digit, Value 'a', Pos 0, Type: Integer",
            ),
        ),
        checks=(
            (
                "SELECT trim(column_name), trim(column_type), trim(error_message), error_code"
                " FROM sys_load_error_detail WHERE file_name LIKE '{s3}%'",
                [("id", "int4", "Invalid digit, Value 'a', Pos 0, Type: Integer", 1207)],
            ),
        ),
    ),
]


def _auto(case_id: str, ddl: str, value: str, expected: object, quote: str, **kw: object) -> Case:
    """One row of the 'auto' recognition table."""
    option = "dateformat 'auto'" if "date)" in ddl else "timeformat 'auto'"
    return Case(
        id=case_id,
        theme="false-red",
        doc=AUTO,
        quote=quote,
        ddl=ddl,
        files={"data": value + "\n"},
        copy=copy(option),
        rows=[(expected,)],
        **kw,  # type: ignore[arg-type]
    )


def _auto_tz(case_id: str, value: str, utc: str, quote: str) -> Case:
    return Case(
        id=case_id,
        theme="false-red",
        doc=AUTO,
        quote=quote,
        ddl=ONE_TSTZ,
        files={"data": value + "\n"},
        copy=copy("timeformat 'auto'"),
        select=TSTZ_UTC,
        rows=[(utc,)],
    )


DATETIME_CASES = [
    Case(
        id="dateformat-mon-dd-yyyy",
        theme="baseline",
        doc=DATETIME,
        quote="a COPY command loading source data with the date value Jan-01-1999 must include "
        "the following DATEFORMAT string",
        ddl=ONE_DATE,
        files={"data": "Jan-01-1999\n"},
        copy=copy("dateformat 'MON-DD-YYYY'"),
        rows=[(dt.date(1999, 1, 1),)],
    ),
    Case(
        id="dateformat-mon-full-month-name",
        theme="false-red",
        doc=DATETIME,
        quote="MON: month name, abbreviated or full (the datepart table of this page, rendered "
        "on the website only)",
        ddl=ONE_DATE,
        files={"data": "January-01-1999\nSeptember-30-2001\n"},
        copy=copy("dateformat 'MON-DD-YYYY'"),
        rows=[(dt.date(1999, 1, 1),), (dt.date(2001, 9, 30),)],
        choice="The datepart table is not in the markdown source; MON accepting the full month "
        "name follows the website's table.",
    ),
    Case(
        id="timeformat-default-fraction",
        theme="baseline",
        doc=DATETIME,
        quote="The seconds (SS) field also supports fractional seconds up to a microsecond "
        "level of detail.",
        ddl=ONE_TS,
        files={"data": "2019-02-11 05:09:12.195\n"},
        copy=copy(""),
        rows=[(dt.datetime(2019, 2, 11, 5, 9, 12, 195000),)],
    ),
    Case(
        id="timeformat-custom-with-fraction",
        theme="false-red",
        doc=DATETIME,
        quote="The seconds (SS) field also supports fractional seconds up to a microsecond "
        "level of detail.",
        ddl=ONE_TS,
        files={"data": "12/17/1997 07:37:16.25\n"},
        copy=copy("timeformat 'MM/DD/YYYY HH24:MI:SS'"),
        rows=[(dt.datetime(1997, 12, 17, 7, 37, 16, 250000),)],
    ),
    Case(
        id="timestamptz-default-offset",
        theme="baseline",
        doc=DATETIME,
        quote="The default timestamp with time zone (TIMESTAMPTZ) format is YYYY-MM-DD "
        "HH:MI:SSOF, where OF is the offset from UTC",
        ddl=ONE_TSTZ,
        files={"data": "2019-02-11 05:09:12-08\n"},
        copy=copy(""),
        select=TSTZ_UTC,
        rows=[("2019-02-11 13:09:12.000000",)],
    ),
    Case(
        id="timeformat-epochsecs",
        theme="baseline",
        doc=CONVERSION,
        quote="TIMEFORMAT [AS] {'timeformat_string' | 'auto' | 'epochsecs' | 'epochmillisecs' }",
        ddl=ONE_TS,
        files={"data": "1549861752\n"},
        copy=copy("timeformat 'epochsecs'"),
        rows=[(dt.datetime(2019, 2, 11, 5, 9, 12),)],
    ),
    Case(
        id="bad-date-1205",
        theme="baseline",
        doc=ERRORS,
        quote="1205 | Date format is not valid.",
        ddl=ONE_DATE,
        files={"data": "1999-13-45\n"},
        copy=copy(""),
        failure=Failure("XX000", "Check 'stl_load_errors'", LoadError(1205, column="c1", line=1)),
    ),
    _auto(
        "auto-iso8601",
        ONE_TS,
        "2019-02-11T05:09:12.195Z",
        dt.datetime(2019, 2, 11, 5, 9, 12, 195000),
        "ISO 8601 | 2019-02-11T05:09:12.195Z",
    ),
    _auto("auto-julian", ONE_DATE, "J2451187", dt.date(1999, 1, 8), "Julian | J2451187"),
    _auto(
        "auto-bc",
        ONE_DATE,
        "Jan-08-95 BC",
        "0095-01-08 BC",
        "BC | Jan-08-95 BC",
        select="SELECT c1::text FROM {table}",
        choice="Year '95' with BC is taken as the year 95 BC, as PostgreSQL's input routine "
        "(which Redshift's CAST test on this page mirrors) reads it.",
    ),
    _auto(
        "auto-yyyymmdd-hhmiss",
        ONE_TS,
        "19960108 040809",
        dt.datetime(1996, 1, 8, 4, 8, 9),
        "YYYYMMDD HHMISS | 19960108 040809",
    ),
    _auto(
        "auto-yymmdd-hhmiss",
        ONE_TS,
        "960108 040809",
        dt.datetime(1996, 1, 8, 4, 8, 9),
        "YYMMDD HHMISS | 960108 040809",
    ),
    _auto("auto-yyyy-ddd", ONE_DATE, "1996.008", dt.date(1996, 1, 8), "YYYY.DDD | 1996.008"),
    _auto(
        "auto-fraction-milliseconds",
        ONE_TS,
        "1996-01-08 04:05:06.789",
        dt.datetime(1996, 1, 8, 4, 5, 6, 789000),
        "YYYY-MM-DD HH:MI:SS.SSS | 1996-01-08 04:05:06.789",
    ),
    _auto_tz(
        "auto-dd-mon-time-yyyy-tz",
        "17 Dec 07:37:16 1997 PST",
        "1997-12-17 15:37:16.000000",
        "DD Mon HH:MI:SS YYYY TZ | 17 Dec 07:37:16 1997 PST",
    ),
    _auto_tz(
        "auto-mm-dd-yyyy-fraction-tz",
        "12/17/1997 07:37:16.00 PST",
        "1997-12-17 15:37:16.000000",
        "MM/DD/YYYY HH:MI:SS.SS TZ | 12/17/1997 07:37:16.00 PST",
    ),
    _auto_tz(
        "auto-offset-hours",
        "1997-12-17 07:37:16-08",
        "1997-12-17 15:37:16.000000",
        "YYYY-MM-DD HH:MI:SS+/-TZ | 1997-12-17 07:37:16-08",
    ),
    _auto_tz(
        "auto-dotted-tz",
        "12.17.1997 07:37:16.00 PST",
        "1997-12-17 15:37:16.000000",
        "DD.MM.YYYY HH:MI:SS TZ | 12.17.1997 07:37:16.00 PST",
    ),
    _auto(
        "auto-date-drops-time",
        ONE_DATE,
        "1996-01-08 04:05:06",
        dt.date(1996, 1, 8),
        "If the source data for a DATE column includes time information, the time component "
        "is truncated.",
    ),
    _auto(
        "auto-timestamp-midnight",
        ONE_TS,
        "1996-01-08",
        dt.datetime(1996, 1, 8),
        "If the source data for a TIMESTAMP column omits time information, 00:00:00 is used "
        "for the time component.",
    ),
    _auto(
        "auto-mon-dd-yyyy",
        ONE_DATE,
        "Jan-08-1995",
        dt.date(1995, 1, 8),
        "When used with the 'auto' argument for DATEFORMAT and TIMEFORMAT, COPY recognizes "
        "and converts the date and time formats listed in the table in DATEFORMAT and "
        "TIMEFORMAT Strings.",
    ),
]

CATEGORY_JSON_ROWS = [
    (1, "Sports", "MLB", "Major League Baseball"),
    (2, "Sports", "NHL", "National Hockey League"),
]

JSON_CASES = [
    Case(
        id="json-auto-category",
        theme="baseline",
        doc=EXAMPLES,
        quote="The key names must match the column names, but in this case, order does not matter.",
        ddl=CATEGORY,
        files={
            "data": '{\n  "catdesc": "Major League Baseball",\n  "catid": 1,\n'
            '  "catgroup": "Sports",\n  "catname": "MLB"\n}\n'
            '{"bogus": "x", "catgroup": "Sports", "catid": 2, "catname": "NHL",'
            ' "catdesc": "National Hockey League"}'
        },
        copy=copy("json 'auto'"),
        rows=CATEGORY_JSON_ROWS,
    ),
    Case(
        id="json-jsonpaths-bracket",
        theme="baseline",
        doc=EXAMPLES,
        quote="If the JSON data objects don't correspond directly to column names, you can use "
        "a JSONPaths file to map the JSON elements to columns.",
        ddl=CATEGORY,
        files={
            "data": '{"one": 1, "two": "Sports", "three": "MLB", "four": "Major League Baseball"}'
            '\n{"three": "NHL", "four": "National Hockey League", "one": 2, "two": "Sports"}\n',
            "paths.json": '{"jsonpaths": ["$[\'one\']", "$[\'two\']", "$[\'three\']",'
            " \"$['four']\"]}",
        },
        copy=copy("json '{s3}paths.json'"),
        rows=CATEGORY_JSON_ROWS,
    ),
    Case(
        id="json-arrays-jsonpaths",
        theme="baseline",
        doc=EXAMPLES,
        quote="To load from JSON data that consists of a set of arrays, you must use a JSONPaths "
        "file to map the array elements to columns.",
        ddl=CATEGORY,
        files={
            "data": '[1,"Sports","MLB","Major League Baseball"]\n'
            '[2,"Sports","NHL","National Hockey League"]\n',
            "paths.json": '{"jsonpaths": ["$[0]", "$[1]", "$[2]", "$[3]"]}',
        },
        copy=copy("json '{s3}paths.json'"),
        rows=CATEGORY_JSON_ROWS,
    ),
    Case(
        id="json-escapes",
        theme="baseline",
        doc=JSON_NOTES,
        quote="COPY loads \\n as a newline character and loads \\t as a tab character. To load "
        "a backslash, escape it with a backslash ( \\\\ ).",
        ddl="CREATE TABLE {table} (backslash varchar(25), newline varchar(35), tab varchar(35))",
        files={
            "data": '{"backslash": "This is a backslash: \\\\", "newline": "This sentence\\n is'
            ' on two lines.", "tab": "This sentence \\t contains a tab."}'
        },
        copy=copy("format as json 'auto'"),
        rows=[
            (
                "This is a backslash: \\",
                "This sentence\n is on two lines.",
                "This sentence \t contains a tab.",
            )
        ],
    ),
    Case(
        id="json-nested-array-as-string",
        theme="baseline",
        doc=JSON_NOTES,
        quote="If the value in the name/value pair referenced by a JSONPath expression is an "
        "object or an array, the entire object or array is loaded as a string",
        ddl="CREATE TABLE {table} (id int, tags varchar(100))",
        files={
            "data": '{"id": 0, "tags": ["nisi", "culpa"]}\n',
            "paths.json": '{"jsonpaths": ["$.id", "$.tags"]}',
        },
        copy=copy("json '{s3}paths.json'"),
        rows=[(0, '["nisi","culpa"]')],
    ),
    Case(
        id="json-missing-element-null",
        theme="baseline",
        doc=DATA_FORMAT,
        quote="If an object element referenced by a JSONPath expression is not found in the JSON "
        "data, COPY attempts to load a NULL value.",
        ddl=TWO,
        files={
            "data": '{"id": 1}\n',
            "paths.json": '{"jsonpaths": ["$.id", "$.store.name"]}',
        },
        copy=copy("json '{s3}paths.json'"),
        rows=[(1, None)],
    ),
    Case(
        id="json-index-out-of-range",
        theme="false-green",
        doc=DATA_FORMAT,
        quote="If an array element referenced by a JSONPath expression is not found in the JSON "
        "or Avro data, COPY fails with the following error: Invalid JSONPath format: Not an "
        "array or index out of range.",
        ddl=TWO,
        files={
            "data": '{"id": 1, "names": ["a"]}\n',
            "paths.json": '{"jsonpaths": ["$.id", "$.names[3]"]}',
        },
        copy=copy("json '{s3}paths.json'"),
        failure=Failure(
            "XX000",
            "Check 'stl_load_errors'",
            LoadError(
                1216, line=1, reason="Invalid JSONPath format: Not an array or index out of range."
            ),
        ),
        choice="The failure is recorded as a bad row (code 1216) so it appears in "
        "stl_load_errors; with MAXERROR it counts like any other bad row.",
    ),
    Case(
        id="jsonpaths-file-in-data-prefix",
        theme="false-green",
        doc=DATA_FORMAT,
        quote="If the file specified by jsonpaths_file has the same prefix as the path specified "
        "by copy_from_s3_objectpath for the data files, COPY reads the JSONPaths file as a data "
        "file and returns errors.",
        ddl="CREATE TABLE {table} (id int not null, name varchar(20))",
        files={
            "my_data.json": '{"id": 1, "name": "a"}\n',
            "my_data.jsonpaths": '{"jsonpaths": ["$.id", "$.name"]}',
        },
        copy=copy("json '{s3}my_data.jsonpaths'", source="{s3}my_data"),
        failure=Failure("XX000", "Check 'stl_load_errors'", LoadError(1213, column="id")),
    ),
    Case(
        id="json-emptyasnull",
        theme="baseline",
        doc=DATA_FORMAT,
        quote="If EMPTYASNULL is specified, COPY loads empty strings for CHAR and VARCHAR fields "
        "as NULL.",
        ddl=TWO,
        files={"data": '{"id": 1, "name": ""}\n'},
        copy=copy("json 'auto' emptyasnull"),
        rows=[(1, None)],
    ),
    Case(
        id="json-empty-string-int-null",
        theme="baseline",
        doc=DATA_FORMAT,
        quote="Empty strings for other data types, such as INT, are always loaded with NULL.",
        ddl=TWO,
        files={"data": '{"id": "", "name": "x"}\n'},
        copy=copy("json 'auto'"),
        select="SELECT id, name FROM {table}",
        rows=[(None, "x")],
    ),
    Case(
        id="json-refuses-delimiter",
        theme="baseline",
        doc=DATA_FORMAT,
        quote="The following options are not supported with JSON: CSV DELIMITER ESCAPE "
        "FILLRECORD FIXEDWIDTH IGNOREBLANKLINES NULL AS READRATIO REMOVEQUOTES",
        ddl=TWO,
        files={"data": '{"id": 1}\n'},
        copy=copy("json 'auto' delimiter ','"),
        failure=Failure("42601"),
    ),
]

MANIFEST_CASES = [
    Case(
        id="manifest-mandatory-missing-fails",
        theme="baseline",
        doc=EXAMPLES,
        quote="In this example, COPY will return an error if any of the files is not found.",
        ddl=TWO,
        files={"a.txt": "1|a\n", "cust.manifest": manifest("a.txt", "b.txt", mandatory=True)},
        copy=copy("manifest", source="{s3}cust.manifest"),
        failure=Failure("XX000", "The specified key does not exist"),
    ),
    Case(
        id="manifest-optional-missing-skipped",
        theme="baseline",
        doc=EXAMPLES,
        quote="The optional mandatory flag indicates whether COPY should terminate if the file "
        "does not exist. The default is false.",
        ddl=TWO,
        files={"a.txt": "1|a\n", "cust.manifest": manifest("a.txt", "b.txt")},
        copy=copy("manifest", source="{s3}cust.manifest"),
        rows=[(1, "a")],
    ),
    Case(
        id="manifest-all-entries-missing-fails",
        theme="false-green",
        doc=EXAMPLES,
        quote="Regardless of any mandatory settings, COPY will terminate if no files are found.",
        ddl=TWO,
        files={"cust.manifest": manifest("a.txt", "b.txt", mandatory=False)},
        copy=copy("manifest", source="{s3}cust.manifest"),
        failure=Failure("XX000", "The specified key does not exist"),
        choice="The error names the first missing entry, as for a missing mandatory entry.",
    ),
    Case(
        id="prefix-loads-every-matching-key",
        theme="baseline",
        doc=EXAMPLES,
        quote="If the bucket also contains an unwanted file that happens to use the same prefix, "
        "such as a file named custdata.backup for example, COPY will load that file as well",
        ddl=TWO,
        files={"custdata.1": "1|a\n", "custdata.backup": "9|old\n"},
        copy=copy("", source="{s3}custdata"),
        rows=[(1, "a"), (9, "old")],
    ),
]

HISTORY_CASES = [
    Case(
        id="stl-load-commits-survive-rollback",
        theme="system-tables",
        doc=COMMITS,
        quote="The fact that a record is written to the log file for this system view does not "
        "mean that the load committed successfully as part of its containing transaction.",
        ddl=TWO,
        files={"data": "1|a\n"},
        copy=("BEGIN", "COPY {table} FROM '{s3}data'", "ROLLBACK"),
        rows=[],
        checks=(
            (
                "SELECT trim(filename), lines_scanned FROM stl_load_commits"
                " WHERE filename LIKE '{s3}%'",
                [("{s3}data", 1)],
            ),
        ),
    ),
    Case(
        id="sys-load-detail-last-copy",
        theme="system-tables",
        doc=LOAD_DETAIL,
        quote="This view records the progress of each data file as it is loaded into a database "
        "table.",
        ddl=TWO,
        files={"a": "1|a\n2|b\n", "b": "3|c\n"},
        copy=copy("", source="{s3}"),
        rows=[(1, "a"), (2, "b"), (3, "c")],
        checks=(
            (
                "SELECT trim(file_name), lines_scanned FROM sys_load_detail"
                " WHERE file_name LIKE '{s3}%' ORDER BY 1",
                [("{s3}a", 2), ("{s3}b", 1)],
            ),
        ),
    ),
]


def _people_parquet() -> bytes:
    return parquet({"id": [1, 2], "name": ["alpha", "beta"]})


def _typed_columns() -> dict[str, object]:
    return {
        "i": pa.array([1, None], pa.int64()),
        "d": pa.array([Decimal("12.34"), Decimal("-0.50")], pa.decimal128(6, 2)),
        "f": pa.array([1.5, 2.25], pa.float64()),
        "b": pa.array([True, False]),
        "day": pa.array([dt.date(2020, 2, 29), dt.date(1999, 12, 31)], pa.date32()),
        "ts": pa.array(
            [dt.datetime(2020, 2, 29, 12, 30, 1, 5), dt.datetime(1999, 12, 31)], pa.timestamp("us")
        ),
        "s": pa.array(["é", None], pa.string()),
    }


TYPED_DDL = (
    "CREATE TABLE {table} (i bigint, d decimal(6,2), f float8, b boolean, day date,"
    " ts timestamp, s varchar(10))"
)
TYPED_ROWS = [
    (
        1,
        Decimal("12.34"),
        1.5,
        True,
        dt.date(2020, 2, 29),
        dt.datetime(2020, 2, 29, 12, 30, 1, 5),
        "é",
    ),
    (None, Decimal("-0.50"), 2.25, False, dt.date(1999, 12, 31), dt.datetime(1999, 12, 31), None),
]
COLUMN_ORDER = (
    "COPY inserts values into the target table's columns in the same order as the columns occur "
    "in the columnar data files."
)
COLUMN_COUNT = (
    "The number of columns in the target table and the number of columns in the data file must "
    "match."
)
ONLY_PARAMETERS = "Only the following COPY parameters are supported:"

COLUMNAR_CASES = [
    Case(
        id="parquet-basic",
        theme="columnar",
        doc=COLUMNAR,
        quote="COPY can load data from Amazon S3 in the following columnar formats: ORC Parquet",
        ddl=TWO,
        files={"data.parquet": _people_parquet},
        copy=copy("format as parquet", source="{s3}data.parquet"),
        rows=[(1, "alpha"), (2, "beta")],
    ),
    Case(
        id="parquet-by-position-not-name",
        theme="columnar",
        doc=COLUMNAR,
        quote=COLUMN_ORDER,
        ddl="CREATE TABLE {table} (a varchar(10), b int)",
        files={"data.parquet": lambda: parquet({"zzz": ["x", "y"], "aaa": [1, 2]})},
        copy=copy("parquet", source="{s3}data.parquet"),
        rows=[("x", 1), ("y", 2)],
    ),
    Case(
        id="parquet-types",
        theme="columnar",
        doc=COLUMNAR,
        quote=COLUMN_ORDER,
        ddl=TYPED_DDL,
        files={"data.parquet": lambda: parquet(_typed_columns())},
        copy=copy("format as parquet", source="{s3}data.parquet"),
        rows=TYPED_ROWS,
        choice="Type mapping: integers to SMALLINT/INTEGER/BIGINT/DECIMAL (range checked), "
        "floating point to REAL/DOUBLE PRECISION, decimal to DECIMAL, boolean to BOOLEAN, "
        "string to CHAR/VARCHAR, date to DATE, timestamp to TIMESTAMP/TIMESTAMPTZ; any other "
        "pairing is an incompatible schema.",
    ),
    Case(
        id="parquet-column-count-mismatch",
        theme="columnar",
        doc=COLUMNAR,
        quote=COLUMN_COUNT,
        ddl="CREATE TABLE {table} (id int, name varchar(20), extra int)",
        files={"data.parquet": _people_parquet},
        copy=copy("format as parquet", source="{s3}data.parquet"),
        failure=Failure("XX000", "Unmatched number of columns between table and file"),
    ),
    Case(
        id="parquet-incompatible-type",
        theme="columnar",
        doc=COLUMNAR,
        quote="If COPY encounters an error while loading, the command fails.",
        ddl="CREATE TABLE {table} (id int, name int)",
        files={"data.parquet": _people_parquet},
        copy=copy("format as parquet", source="{s3}data.parquet"),
        failure=Failure("XX000", "incompatible Parquet schema for column"),
    ),
    Case(
        id="parquet-int-overflow",
        theme="columnar",
        doc=COLUMNAR,
        quote="If COPY encounters an error while loading, the command fails.",
        ddl="CREATE TABLE {table} (id smallint, name varchar(20))",
        files={"data.parquet": lambda: parquet({"id": [70000], "name": ["x"]})},
        copy=copy("format as parquet", source="{s3}data.parquet"),
        failure=Failure("XX000", "Check 'stl_load_errors'", LoadError(1216, column="id")),
    ),
    Case(
        id="parquet-string-too-long",
        theme="columnar",
        doc=COLUMNAR,
        quote="Error messages are sent to the SQL client. Some errors are logged in "
        "STL_LOAD_ERRORS and STL_ERROR.",
        ddl="CREATE TABLE {table} (id int, name varchar(3))",
        files={"data.parquet": _people_parquet},
        copy=copy("format as parquet", source="{s3}data.parquet"),
        failure=Failure(
            "XX000",
            "Check 'stl_load_errors'",
            LoadError(1204, column="name", reason="String length exceeds DDL length"),
        ),
    ),
    Case(
        id="parquet-refuses-maxerror",
        theme="columnar",
        doc=COLUMNAR,
        quote="ACCEPTANYDATE and MAXERROR aren't supported for columnar data types.",
        ddl=TWO,
        files={"data.parquet": _people_parquet},
        copy=copy("format as parquet maxerror 10", source="{s3}data.parquet"),
        failure=Failure("42601", "MAXERROR"),
    ),
    Case(
        id="parquet-refuses-delimiter",
        theme="columnar",
        doc=COLUMNAR,
        quote=ONLY_PARAMETERS + " ACCEPTINVCHARS ... FILLRECORD ... FROM ... IAM_ROLE ... "
        "CREDENTIALS ... STATUPDATE ... MANIFEST ... ACCESS_KEY_ID ... EXPLICIT_IDS",
        ddl=TWO,
        files={"data.parquet": _people_parquet},
        copy=copy("format as parquet delimiter ','", source="{s3}data.parquet"),
        failure=Failure("42601", "DELIMITER"),
    ),
    Case(
        id="parquet-refuses-ignoreheader",
        theme="columnar",
        doc=COLUMNAR,
        quote=ONLY_PARAMETERS,
        ddl=TWO,
        files={"data.parquet": _people_parquet},
        copy=copy("format as parquet ignoreheader 1", source="{s3}data.parquet"),
        failure=Failure("42601", "IGNOREHEADER"),
    ),
    Case(
        id="parquet-refuses-gzip",
        theme="columnar",
        doc=COLUMNAR,
        quote="If the file you specify for the COPY operation includes one of the following "
        "extensions, we decompress the data without the need for adding any parameters",
        ddl=TWO,
        files={"data.parquet": _people_parquet},
        copy=copy("format as parquet gzip", source="{s3}data.parquet"),
        failure=Failure("42601", "GZIP"),
        choice="GZIP is not in the list of supported parameters, so it is refused.",
    ),
    Case(
        id="parquet-fillrecord-fewer-columns",
        theme="columnar",
        doc=COLUMNAR,
        quote=ONLY_PARAMETERS + " ... FILLRECORD",
        ddl="CREATE TABLE {table} (id int, name varchar(20), extra int)",
        files={"data.parquet": _people_parquet},
        copy=copy("format as parquet fillrecord", source="{s3}data.parquet"),
        rows=[(1, "alpha", None), (2, "beta", None)],
        choice="With FILLRECORD a file with fewer columns than the table loads NULL into the "
        "missing trailing columns (the page lists FILLRECORD without saying more).",
    ),
    Case(
        id="parquet-manifest",
        theme="columnar",
        doc=COLUMNAR,
        quote=ONLY_PARAMETERS + " ... MANIFEST",
        ddl=TWO,
        files={
            "a.parquet": _people_parquet,
            "load.manifest": manifest("a.parquet", mandatory=True),
        },
        copy=copy("format as parquet manifest", source="{s3}load.manifest"),
        rows=[(1, "alpha"), (2, "beta")],
        checks=(
            (
                "SELECT trim(filename), lines_scanned FROM stl_load_commits"
                " WHERE filename LIKE '{s3}%'",
                [("{s3}a.parquet", 2)],
            ),
        ),
    ),
    Case(
        id="parquet-nested-needs-serializetojson",
        theme="columnar",
        doc=DATA_FORMAT,
        quote="SERIALIZETOJSON (website version of this page): nested columnar data is loaded "
        "into VARCHAR or SUPER columns as JSON only with SERIALIZETOJSON",
        ddl="CREATE TABLE {table} (id int, tags varchar(100))",
        files={"data.parquet": lambda: parquet({"id": [1], "tags": [["a", "b"]]})},
        copy=copy("format as parquet", source="{s3}data.parquet"),
        failure=Failure("XX000", "incompatible Parquet schema for column"),
        choice="SERIALIZETOJSON is not in the stored markdown; without it a nested column into "
        "VARCHAR is an incompatible schema.",
    ),
    Case(
        id="parquet-serializetojson",
        theme="columnar",
        doc=DATA_FORMAT,
        quote="SERIALIZETOJSON (website version of this page): nested columnar data is loaded "
        "into VARCHAR or SUPER columns as JSON",
        ddl="CREATE TABLE {table} (id int, tags varchar(100), attrs varchar(100))",
        files={
            "data.parquet": lambda: parquet({"id": [1], "tags": [["a", "b"]], "attrs": [{"k": 1}]})
        },
        copy=copy("format as parquet serializetojson", source="{s3}data.parquet"),
        rows=[(1, '["a","b"]', '{"k":1}')],
    ),
    Case(
        id="orc-basic",
        theme="columnar",
        doc=COLUMNAR,
        quote="COPY can load data from Amazon S3 in the following columnar formats: ORC Parquet",
        ddl=TWO,
        files={"data.orc": lambda: orc_file({"id": [1, 2], "name": ["alpha", "beta"]})},
        copy=copy("format as orc", source="{s3}data.orc"),
        rows=[(1, "alpha"), (2, "beta")],
    ),
    Case(
        id="orc-types",
        theme="columnar",
        doc=COLUMNAR,
        quote=COLUMN_ORDER,
        ddl=TYPED_DDL,
        files={"data.orc": lambda: orc_file(_typed_columns())},
        copy=copy("format as orc", source="{s3}data.orc"),
        rows=TYPED_ROWS,
    ),
    Case(
        id="orc-column-count-mismatch",
        theme="columnar",
        doc=COLUMNAR,
        quote=COLUMN_COUNT,
        ddl="CREATE TABLE {table} (id int)",
        files={"data.orc": lambda: orc_file({"id": [1], "name": ["a"]})},
        copy=copy("format as orc", source="{s3}data.orc"),
        failure=Failure("XX000", "Unmatched number of columns between table and file"),
    ),
    Case(
        id="orc-incompatible-type",
        theme="columnar",
        doc=COLUMNAR,
        quote="If COPY encounters an error while loading, the command fails.",
        ddl="CREATE TABLE {table} (id date, name varchar(10))",
        files={"data.orc": lambda: orc_file({"id": [1], "name": ["a"]})},
        copy=copy("format as orc", source="{s3}data.orc"),
        failure=Failure("XX000", "incompatible"),
    ),
]

CASES = TEXT_CASES + DATETIME_CASES + JSON_CASES + MANIFEST_CASES + HISTORY_CASES + COLUMNAR_CASES
