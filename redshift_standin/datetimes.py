"""DATEFORMAT / TIMEFORMAT: turn Redshift datetime input into ISO text PostgreSQL reads exactly.

Supported: no option (Redshift's defaults, 'YYYY-MM-DD' and 'YYYY-MM-DD HH:MI:SS' with optional
fraction / 'T' / offset / zone abbreviation), 'auto' (automatic-recognition.md's table:
ISO 8601, Julian, BC, YYYYMMDD HHMISS, YYMMDD HHMISS, YYYY.DDD, zone abbreviations, ...),
'epochsecs', 'epochmillisecs', and format strings made of the tokens YYYY YY MM MON MONTH DD HH24
HH12 HH MI SS[.S...] AM PM TZ/OF plus literal characters. SS also takes a fraction ("The seconds
(SS) field also supports fractional seconds") and MON also a full month name.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, timezone

_EPOCH = datetime(1970, 1, 1)
_TOKEN = re.compile(
    r"YYYY|YY|MONTH|MON|MM|DD|HH24|HH12|HH|MI|SS(?:\.S+)?|AM|PM|TZH:TZM|TZ|OF", re.IGNORECASE
)
_STRPTIME = {
    "YYYY": "%Y",
    "YY": "%y",
    "MONTH": "%B",
    "MON": "%b",
    "MM": "%m",
    "DD": "%d",
    "HH24": "%H",
    "HH12": "%I",
    "HH": "%H",
    "MI": "%M",
    "SS": "%S",
    "AM": "%p",
    "PM": "%p",
    "TZH:TZM": "%z",
    "TZ": "%z",
    "OF": "%z",
}
_AUTO_DATES = (
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y%m%d",
    "%m/%d/%Y",
    "%m-%d-%Y",
    "%m.%d.%Y",
    "%d-%b-%Y",
    "%d %b %Y",
    "%b %d %Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%d %B %Y",
    "%m/%d/%y",
    "%Y-%b-%d",
    "%b-%d-%Y",
    "%b-%d-%y",
    "%d.%m.%Y",
)
_AUTO_TIMES = (
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %I:%M:%S %p",
    "%Y/%m/%d %H:%M:%S",
    "%Y%m%d %H%M%S",
    "%Y%m%d %H:%M:%S",
    "%d-%b-%Y %H:%M:%S",
    "%d %b %Y %H:%M:%S",
    "%b %d %Y %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %I:%M:%S %p",
    "%Y%m%d %H%M%S",
    "%y%m%d %H%M%S",
    "%d %b %H:%M:%S %Y",
    "%d %b %H:%M:%S.%f %Y",
    "%m/%d/%Y %H:%M:%S.%f",
    "%m.%d.%Y %H:%M:%S",
    "%m.%d.%Y %H:%M:%S.%f",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M:%S.%f",
)
# Zone abbreviations Redshift (like PostgreSQL) reads by default, hours east of UTC.
ZONE_ABBREVIATIONS = {
    "UTC": 0.0, "UT": 0.0, "GMT": 0.0, "Z": 0.0, "ZULU": 0.0,
    "PST": -8.0, "PDT": -7.0, "MST": -7.0, "MDT": -6.0, "CST": -6.0, "CDT": -5.0,
    "EST": -5.0, "EDT": -4.0, "AKST": -9.0, "AKDT": -8.0, "HST": -10.0,
    "WET": 0.0, "WEST": 1.0, "BST": 1.0, "CET": 1.0, "CEST": 2.0, "MET": 1.0, "MEST": 2.0,
    "EET": 2.0, "EEST": 3.0, "MSK": 3.0, "JST": 9.0, "KST": 9.0, "HKT": 8.0,
    "AWST": 8.0, "ACST": 9.5, "AEST": 10.0, "AEDT": 11.0, "NZST": 12.0, "NZDT": 13.0,
}  # fmt: skip
_ZONE_SUFFIX = re.compile(r"^(.*\S)\s+([A-Za-z]{1,5})$")
_JULIAN = re.compile(r"^[Jj](\d+)(?:\s+(\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?$")
_JULIAN_OFFSET = 1721425  # Julian day number of 0001-01-01, minus one
_YEAR_DAY = re.compile(r"^(\d{4})\.(\d{3})$")
_TWO_DIGIT_YEAR = re.compile(r"(?<![\d:.])(\d{2})$")
_BC = re.compile(r"^(.*\S)\s+BC$", re.IGNORECASE)

Parser = Callable[[str], str]


def strptime_variants(redshift_format: str) -> tuple[str, ...]:
    """The strptime patterns a format string accepts: SS with or without a fraction, MON as an
    abbreviated or full month name."""
    base = to_strptime(redshift_format)
    variants = [base]
    if "%S" in base and "%S.%f" not in base:
        variants.append(base.replace("%S", "%S.%f"))
    if "%b" in base:
        variants += [v.replace("%b", "%B") for v in variants]
    return tuple(variants)


def to_strptime(redshift_format: str) -> str:
    """'YYYY-MM-DD HH24:MI:SS.SSS' -> '%Y-%m-%d %H:%M:%S.%f'."""
    out: list[str] = []
    pos = 0
    for match in _TOKEN.finditer(redshift_format):
        out.append(redshift_format[pos : match.start()].replace("%", "%%"))
        token = match.group().upper()
        out.append("%S.%f" if token.startswith("SS.") else _STRPTIME[token])
        pos = match.end()
    out.append(redshift_format[pos:].replace("%", "%%"))
    return "".join(out)


def _first_match(value: str, formats: tuple[str, ...]) -> datetime:
    for fmt in formats:
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    raise ValueError(value)


def date_parser(fmt: str | None) -> Parser:
    """A function from a DATE field (stripped, non-empty) to 'YYYY-MM-DD'; ValueError if bad."""
    if fmt is None:
        return lambda value: (
            date.fromisoformat(value[:10]).isoformat() if _iso_date(value) else _bad(value)
        )
    if fmt.lower() == "auto":
        return _auto_date_text
    patterns = strptime_variants(fmt)
    return lambda value: _first_match(value, patterns).date().isoformat()


def _auto_date_text(value: str) -> str:
    bc = _BC.match(value)
    if bc:  # datetime has no years BC: PostgreSQL reads 'YYYY-MM-DD BC'
        return f"{_auto_date(_literal_year(bc.group(1))).isoformat()} BC"
    return _auto_date(value).isoformat()


def _literal_year(value: str) -> str:
    """A two-digit year before BC is that year (95 BC), not 1995: pad it to four digits."""
    return _TWO_DIGIT_YEAR.sub(lambda m: "00" + m.group(1), value)


def _iso_date(value: str) -> bool:
    return len(value) == 10 and value[4] == "-" and value[7] == "-"


def _bad(value: str) -> str:
    raise ValueError(value)


def _auto_date(value: str) -> date:
    return _auto_timestamp(value).date()


def timestamp_parser(fmt: str | None, *, with_zone: bool) -> Parser:
    """A function from a TIMESTAMP[TZ] field to ISO text; naive input is taken as UTC."""
    parse = _timestamp_reader(fmt)

    def convert(value: str) -> str:
        bc = _BC.match(value) if fmt is not None and fmt.lower() == "auto" else None
        if bc:
            moment = parse(_literal_year(bc.group(1))).replace(tzinfo=None)
            return f"{moment.isoformat(sep=' ')} BC"
        moment = parse(value)
        if with_zone:
            moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        elif moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        return moment.isoformat(sep=" ")

    return convert


def _timestamp_reader(fmt: str | None) -> Callable[[str], datetime]:
    if fmt is None:
        return _default_timestamp
    lowered = fmt.lower()
    if lowered == "auto":
        return _auto_timestamp
    if lowered == "epochsecs":
        return lambda value: _EPOCH + timedelta(seconds=float(value))
    if lowered == "epochmillisecs":
        return lambda value: _EPOCH + timedelta(milliseconds=float(value))
    patterns = strptime_variants(fmt)
    return lambda value: _first_match(value, patterns)


def _default_timestamp(value: str) -> datetime:
    """'YYYY-MM-DD HH:MI:SS[.ffffff][OF]', or the same followed by a zone abbreviation."""
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return _with_zone_abbreviation(value, datetime.fromisoformat)


def _with_zone_abbreviation(value: str, parse: Callable[[str], datetime]) -> datetime:
    match = _ZONE_SUFFIX.match(value)
    hours = ZONE_ABBREVIATIONS.get(match.group(2).upper()) if match else None
    if match is None or hours is None:
        raise ValueError(value)
    moment = parse(match.group(1))
    if moment.tzinfo is not None:
        raise ValueError(value)
    return moment.replace(tzinfo=timezone(timedelta(hours=hours)))


def _auto_timestamp(value: str) -> datetime:
    """automatic-recognition.md: the formats of the DATEFORMAT/TIMEFORMAT table and its own."""
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        pass
    special = _julian(value) or _year_day(value)
    if special is not None:
        return special
    try:
        return _first_match(value, _AUTO_TIMES + _AUTO_DATES)
    except ValueError:
        return _with_zone_abbreviation(value, _auto_timestamp)


def _julian(value: str) -> datetime | None:
    match = _JULIAN.match(value)
    if match is None:
        return None
    day = datetime.combine(date.fromordinal(int(match.group(1)) - _JULIAN_OFFSET), time())
    if match.group(2):
        clock = datetime.strptime(
            match.group(2).split(".")[0], "%H:%M:%S" if match.group(2).count(":") == 2 else "%H:%M"
        )
        fraction = match.group(2).partition(".")[2]
        day = day.replace(
            hour=clock.hour,
            minute=clock.minute,
            second=clock.second,
            microsecond=int((fraction + "000000")[:6]) if fraction else 0,
        )
    return day


def _year_day(value: str) -> datetime | None:
    match = _YEAR_DAY.match(value)
    if match is None:
        return None
    return datetime(int(match.group(1)), 1, 1) + timedelta(days=int(match.group(2)) - 1)
