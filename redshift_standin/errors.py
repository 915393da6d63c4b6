"""Errors of the stand-in. Each carries the SQLSTATE the proxy answers with.

`code` and `context` mirror the `code:` / `context:` lines of the DETAIL block Redshift adds to
its COPY errors; the proxy formats that block (it also knows the query id).
"""

from __future__ import annotations


class StandInError(Exception):
    """Base class of every error the proxy turns into an ErrorResponse."""

    sqlstate = "XX000"

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        context: str | None = None,
        sqlstate: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.context = context
        if sqlstate is not None:
            self.sqlstate = sqlstate


class CopySyntaxError(StandInError):
    """The COPY text does not parse, or its options contradict each other."""

    sqlstate = "42601"


class UnsupportedCopyOptionError(CopySyntaxError):
    """An option Redshift's COPY grammar (as the stand-in knows it) does not have."""

    def __init__(self, option: str, *, reason: str | None = None) -> None:
        text = f"unsupported COPY option {option!r}"
        super().__init__(f"{text}: {reason}" if reason else text)
        self.option = option


class NotEmulatedError(StandInError):
    """A valid Redshift option the stand-in does not emulate (AVRO, PARQUET, ENCRYPTED, ...)."""

    sqlstate = "0A000"


class S3SourceError(StandInError):
    """Reading the manifest or a data object failed (missing key or prefix, bad manifest)."""


class LoadFailedError(StandInError):
    """Too many bad rows (more than MAXERROR); the rows are in `stl_load_errors`."""

    def __init__(self, table: str, *, code: int | None = None, context: str | None = None) -> None:
        super().__init__(
            f"Load into table '{table}' failed.  Check 'stl_load_errors' system table for details.",
            code=code,
            context=context,
        )
        self.table = table
