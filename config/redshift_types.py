"""Redshift column types as a configuration may name them: parsed, checked and spelled one way.

Pure. From the Redshift Database Developer Guide, "Data types" (c_Supported_data_types.md) and
its pages on numeric (r_Numeric_types201.md) and character types (r_Character_types.md):

- aliases: INT2 = SMALLINT, INT/INT4 = INTEGER, INT8 = BIGINT, NUMERIC = DECIMAL, FLOAT4 = REAL,
  FLOAT/FLOAT8 = DOUBLE PRECISION, BOOL = BOOLEAN, CHARACTER/NCHAR/BPCHAR = CHAR,
  CHARACTER VARYING/NVARCHAR/TEXT = VARCHAR, TIMESTAMP WITHOUT TIME ZONE = TIMESTAMP,
  TIMESTAMP WITH TIME ZONE = TIMESTAMPTZ, TIME WITHOUT / WITH TIME ZONE = TIME / TIMETZ;
- DECIMAL(precision, scale): "The maximum precision is 38", scale from 0 to the precision; the
  default precision is 18 and scale 0;
- CHAR(n) up to 4,096 bytes, VARCHAR(n) up to 65,535 bytes, `MAX` allowed for both; TEXT is a
  VARCHAR(256), BPCHAR a CHAR(256); CHAR without a length is CHAR(1), VARCHAR without one 256;
  VARBYTE (r_VARBYTE_type.md) defaults to 64,000 bytes, at most 1,024,000.

PostgreSQL targets create and extend tables with the same spellings: every canonical type above
is valid PostgreSQL DDL (TIMETZ included) except SUPER and VARBYTE, which PostgreSQL lacks
(tests/integration/test_postgres_types.py creates each one on a real server).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_VARCHAR = 65535
MAX_CHAR = 4096
MAX_PRECISION = 38

_ALIASES = {
    "SMALLINT": "SMALLINT",
    "INT2": "SMALLINT",
    "INTEGER": "INTEGER",
    "INT": "INTEGER",
    "INT4": "INTEGER",
    "BIGINT": "BIGINT",
    "INT8": "BIGINT",
    "DECIMAL": "DECIMAL",
    "NUMERIC": "DECIMAL",
    "REAL": "REAL",
    "FLOAT4": "REAL",
    "DOUBLE PRECISION": "DOUBLE PRECISION",
    "FLOAT8": "DOUBLE PRECISION",
    "FLOAT": "DOUBLE PRECISION",
    "BOOLEAN": "BOOLEAN",
    "BOOL": "BOOLEAN",
    "CHAR": "CHAR",
    "CHARACTER": "CHAR",
    "NCHAR": "CHAR",
    "BPCHAR": "CHAR",
    "VARCHAR": "VARCHAR",
    "CHARACTER VARYING": "VARCHAR",
    "NVARCHAR": "VARCHAR",
    "TEXT": "VARCHAR",
    "DATE": "DATE",
    "TIMESTAMP": "TIMESTAMP",
    "TIMESTAMP WITHOUT TIME ZONE": "TIMESTAMP",
    "TIMESTAMPTZ": "TIMESTAMPTZ",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ",
    "TIME": "TIME",
    "TIME WITHOUT TIME ZONE": "TIME",
    "TIMETZ": "TIMETZ",
    "TIME WITH TIME ZONE": "TIMETZ",
    "SUPER": "SUPER",
    "VARBYTE": "VARBYTE",
}
CANONICAL_NAMES = frozenset(_ALIASES.values())
# Lengths fixed by the alias itself (TEXT and BPCHAR take none).
_FIXED_LENGTH = {"TEXT": 256, "BPCHAR": 256}
# r_VARBYTE_type.md: "The default length is 64,000"; the maximum 1,024,000 bytes.
_LIMITS = {"CHAR": MAX_CHAR, "VARCHAR": MAX_VARCHAR, "VARBYTE": 1_024_000}
_DEFAULT_LENGTHS = {"CHAR": 1, "VARCHAR": 256, "VARBYTE": 64_000}
# No PostgreSQL type loads the same text the same way: JSONB would refuse the scalars SUPER takes
# from text, BYTEA reads `\\x`-prefixed hex where VARBYTE reads bare hex. Refused, not mapped.
_NOT_IN_POSTGRES = {
    "SUPER": "SUPER has no PostgreSQL counterpart (use VARCHAR, or JSON text)",
    "VARBYTE": "VARBYTE has no PostgreSQL counterpart (BYTEA reads other input)",
}
_SHAPE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9 ]*?)\s*(?:\(\s*([^)]*?)\s*\))?\s*$")


@dataclass(frozen=True)
class RedshiftType:
    """One column type, canonical: `name` from the table above, with its parameters."""

    name: str
    length: int | None = None
    """CHAR / VARCHAR / VARBYTE length in bytes."""
    precision: int | None = None
    scale: int | None = None

    def sql(self) -> str:
        if self.name == "DECIMAL":
            return f"DECIMAL({self.precision},{self.scale})"
        if self.length is not None:
            return f"{self.name}({self.length})"
        return self.name

    @property
    def is_text(self) -> bool:
        return self.name in ("CHAR", "VARCHAR")


def parse_type(text: str) -> RedshiftType:
    """`varchar(20)` -> VARCHAR(20), `numeric` -> DECIMAL(18,0), `int4` -> INTEGER; ValueError
    for a type Redshift does not have or parameters out of its bounds."""
    match = _SHAPE.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a Redshift column type such as VARCHAR(64)")
    spelled = " ".join(match.group(1).upper().split())
    name = _ALIASES.get(spelled)
    if name is None:
        raise ValueError(f"{text!r} is not a Redshift column type (c_Supported_data_types)")
    arguments = match.group(2)
    if spelled in _FIXED_LENGTH:
        if arguments is not None:
            raise ValueError(f"{spelled} takes no length (it is {name}({_FIXED_LENGTH[spelled]}))")
        return RedshiftType(name, length=_FIXED_LENGTH[spelled])
    if name == "DECIMAL":
        return _decimal(text, arguments)
    if name in ("CHAR", "VARCHAR", "VARBYTE"):
        return RedshiftType(name, length=_length(text, name, arguments))
    if arguments is not None:
        raise ValueError(f"{text!r}: {name} takes no parameters")
    return RedshiftType(name)


def normalize_type(text: str) -> str:
    """The canonical spelling of a type (what configurations store and DDL uses)."""
    return parse_type(text).sql()


def postgres_problem(canonical: str) -> str | None:
    """Why a PostgreSQL table cannot have a column of this canonical type (None: it can)."""
    return _NOT_IN_POSTGRES.get(parse_type(canonical).name)


def _decimal(text: str, arguments: str | None) -> RedshiftType:
    if arguments is None:
        return RedshiftType("DECIMAL", precision=18, scale=0)
    parts = [p.strip() for p in arguments.split(",")]
    if len(parts) > 2 or not all(p.isdigit() for p in parts):
        raise ValueError(f"{text!r}: DECIMAL takes (precision) or (precision, scale)")
    precision = int(parts[0])
    scale = int(parts[1]) if len(parts) == 2 else 0
    if not 1 <= precision <= MAX_PRECISION:
        raise ValueError(f"{text!r}: DECIMAL precision must be 1 to {MAX_PRECISION}")
    if scale > precision:
        raise ValueError(f"{text!r}: DECIMAL scale must not exceed its precision")
    return RedshiftType("DECIMAL", precision=precision, scale=scale)


def _length(text: str, name: str, arguments: str | None) -> int:
    limit = _LIMITS[name]
    if arguments is None:
        return _DEFAULT_LENGTHS[name]
    if arguments.upper() == "MAX":
        return limit
    if not arguments.isdigit() or not 1 <= int(arguments) <= limit:
        raise ValueError(f"{text!r}: {name} length must be 1 to {limit} bytes, or MAX")
    return int(arguments)
