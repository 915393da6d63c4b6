"""Rendering (Rich tables for people, JSON for scripts) and parsing of times and durations."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

# Markup is off: every value is printed as it is (`line 3 [amount]:` keeps its brackets);
# emphasis goes through `style=`. Piped output is not wrapped (see `_unwrapped`).
out = Console(highlight=False, soft_wrap=True, emoji=False, markup=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False, markup=False)
PIPE_WIDTH = 10_000
"""Columns of piped output: wide enough that no table row is ever broken (as `aws ... | grep`)."""

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.I)
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def examples(*lines: str) -> str:
    """An epilog listing example invocations, one paragraph each."""
    return "Examples:\n\n" + "\n\n".join(f"`{line}`" for line in lines)


def emit_json(data: Any) -> None:
    """JSON for scripts; times (`*_at` keys holding epoch seconds) in ISO 8601, as the AWS CLI."""
    typer.echo(json.dumps(iso_times(data), indent=2, default=str))


def iso_times(data: Any) -> Any:
    """`{"created_at": 1800000000.0}` -> `{"created_at": "2027-01-15T08:00:00+00:00"}`."""
    if isinstance(data, dict):
        return {
            key: iso(value) if _is_time(key, value) else iso_times(value)
            for key, value in data.items()
        }
    if isinstance(data, list | tuple):
        return [iso_times(value) for value in data]
    return data


def _is_time(key: Any, value: Any) -> bool:
    return (
        isinstance(key, str)
        and key.endswith("_at")
        and isinstance(value, int | float)
        and not isinstance(value, bool)
    )


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def _console_for_table(console: Console) -> Console:
    """On a terminal, its width; piped, wide enough never to wrap a row."""
    if not console.is_terminal and console.width < PIPE_WIDTH:
        console.width = PIPE_WIDTH
    return console


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A table whose number columns are right-aligned, as `aws --output table` does."""
    rows = [list(row) for row in rows]
    grid = Table(title=title, title_justify="left", show_lines=False)
    for index, column in enumerate(columns):
        values = [row[index] for row in rows if row[index] is not None]
        numeric = bool(values) and all(_is_number(v) for v in values)
        # The first column identifies the row (prefix, batch, url): never broken up.
        grid.add_column(
            column,
            overflow="fold",
            no_wrap=index == 0,
            justify="right" if numeric else "left",
        )
    for row in rows:
        grid.add_row(*("-" if v is None else str(v) for v in row))
    _console_for_table(out).print(grid)


def fields(pairs: Iterable[tuple[str, Any]]) -> None:
    """A two-column key/value listing."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for key, value in pairs:
        grid.add_row(key, "-" if value is None else str(value))
    _console_for_table(out).print(grid)


def ok(message: str) -> None:
    err.print(message, style="green")


def warn(message: str) -> None:
    err.print(message, style="yellow")


def when(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def age(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    days, rest = divmod(int(max(seconds, 0)), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"


def parse_duration(text: str) -> float:
    """`90s`, `15m`, `2h`, `7d`, `1w` -> seconds."""
    match = _DURATION.match(text)
    if not match:
        raise typer.BadParameter(f"{text!r}: use a number and a unit s, m, h, d or w (e.g. 7d)")
    return float(match.group(1)) * _UNIT[match.group(2).lower()]


def parse_time(text: str, now: float) -> float:
    """An ISO date or time (UTC unless it says otherwise), or a duration ago (`2h`: 2 hours ago)."""
    if _DURATION.match(text):
        return now - parse_duration(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r}: use ISO 8601 (2026-11-23T10:00) or e.g. 2h") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def validation_lines(exc: ValidationError) -> list[str]:
    """One `field.path: message` per problem (worded in one place: loader.errors)."""
    from loader.errors import validation_problems

    return validation_problems(exc)
