"""Redshift names: what a table, column or key name may hold, how a table name is split, how
names compare. Pure; shared by the configuration models and the SQL builder.

Redshift Database Developer Guide, "Names and identifiers" (r_names.html): "Identifiers must
consist of only UTF-8 printable characters", are "between 1 and 127 bytes in length, not
including quotes for delimited identifiers", and "ASCII letters in standard and delimited
identifiers are case-insensitive and are folded to lowercase in the database". A double quote
inside a delimited identifier is written twice.
"""

from __future__ import annotations

MAX_IDENTIFIER_BYTES = 127
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def check_identifier(name: str) -> str:
    """`name` if Redshift can hold it as one (delimited) identifier, else ValueError."""
    if not name:
        raise ValueError("a name must not be empty")
    bad = next((c for c in name if not c.isprintable()), None)
    if bad is not None:
        raise ValueError(
            f"{name[:40]!r}: {bad!r} is a control or non-printable character; "
            "Redshift identifiers hold printable characters only"
        )
    if len(name.encode()) > MAX_IDENTIFIER_BYTES:
        raise ValueError(f"{name[:40]!r}... is longer than {MAX_IDENTIFIER_BYTES} bytes")
    return name


def folded(name: str) -> str:
    """The identifier Redshift stores: ASCII letters lowercased, everything else kept."""
    return name.translate(_ASCII_LOWER)


def duplicates(names: list[str]) -> list[str]:
    """Names that fold to an identifier an earlier name already has (`Id` after `id`)."""
    seen: set[str] = set()
    repeated = []
    for name in names:
        key = folded(name)
        if key in seen:
            repeated.append(name)
        seen.add(key)
    return repeated


def split_table_name(text: str) -> tuple[str | None, str]:
    """`table`, `schema.table` or their double-quoted forms -> (schema or None, table).

    A quoted part is one identifier even when it holds a dot: `"my.table"` is the table
    `my.table`, `s."a.b"` the table `a.b` in schema `s`. Inside quotes `""` is one `"`.
    Unquoted parts are taken as written (a quote inside one is kept as a character). Raises
    ValueError for anything else.
    """
    parts: list[str] = []
    pos, end = 0, len(text)
    while True:
        part, pos = _read_part(text, pos)
        parts.append(check_identifier(part))
        if pos == end:
            break
        if text[pos] != ".":
            raise ValueError(f"{text!r}: unexpected {text[pos]!r} after a quoted name")
        pos += 1
    if len(parts) > 2:
        raise ValueError(f"expected 'table' or 'schema.table', got {text!r}")
    return (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])


def _read_part(text: str, pos: int) -> tuple[str, int]:
    if text.startswith('"', pos):
        chars, pos = [], pos + 1
        while pos < len(text):
            if text[pos] == '"':
                if text.startswith('""', pos):
                    chars.append('"')
                    pos += 2
                    continue
                return "".join(chars), pos + 1
            chars.append(text[pos])
            pos += 1
        raise ValueError(f"{text!r}: a quoted name is not closed")
    stop = text.find(".", pos)
    stop = len(text) if stop < 0 else stop
    part = text[pos:stop]
    if not part:
        raise ValueError(f"expected 'table' or 'schema.table', got {text!r}")
    return part, stop
