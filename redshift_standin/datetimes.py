"""DATEFORMAT / TIMEFORMAT: turn Redshift datetime input into ISO text PostgreSQL reads exactly.

Supported: no option (Redshift's defaults, 'YYYY-MM-DD' and 'YYYY-MM-DD HH:MI:SS' with optional
fraction / 'T' / offset), 'auto', 'epochsecs', 'epochmillisecs', and format strings made of the
tokens YYYY YY MM MON MONTH DD HH24 HH12 HH MI SS[.S...] AM PM TZ/OF plus literal characters.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

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
)

Parser = Callable[[str], str]


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
        return lambda value: _auto_date(value).isoformat()
    pattern = to_strptime(fmt)
    return lambda value: datetime.strptime(value, pattern).date().isoformat()


def _iso_date(value: str) -> bool:
    return len(value) == 10 and value[4] == "-" and value[7] == "-"


def _bad(value: str) -> str:
    raise ValueError(value)


def _auto_date(value: str) -> date:
    try:
        return datetime.fromisoformat(value).date()
    except ValueError:
        return _first_match(value, _AUTO_DATES).date()


def timestamp_parser(fmt: str | None, *, with_zone: bool) -> Parser:
    """A function from a TIMESTAMP[TZ] field to ISO text; naive input is taken as UTC."""
    parse = _timestamp_reader(fmt)

    def convert(value: str) -> str:
        moment = parse(value)
        if with_zone:
            moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        elif moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        return moment.isoformat(sep=" ")

    return convert


def _timestamp_reader(fmt: str | None) -> Callable[[str], datetime]:
    if fmt is None:
        return datetime.fromisoformat
    lowered = fmt.lower()
    if lowered == "auto":
        return _auto_timestamp
    if lowered == "epochsecs":
        return lambda value: _EPOCH + timedelta(seconds=float(value))
    if lowered == "epochmillisecs":
        return lambda value: _EPOCH + timedelta(milliseconds=float(value))
    pattern = to_strptime(fmt)
    return lambda value: datetime.strptime(value, pattern)


def _auto_timestamp(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return _first_match(value, _AUTO_TIMES + _AUTO_DATES)
