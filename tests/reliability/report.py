"""Sizes of the scenarios, and the counts of a run (what docs/reliability.md quotes)."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

PATHS = "paths taken by the model-based ledger test"


def scale() -> float:
    """`LOADER_TEST_SCALE` (default 1) multiplies files, deliveries and hypothesis examples."""
    return float(os.environ.get("LOADER_TEST_SCALE", "1"))


def scaled(n: int) -> int:
    return max(1, round(n * scale()))


@dataclass
class Row:
    runs: int = 0
    files: int = 0
    faults: int = 0
    lost: int = 0
    duplicated: int = 0
    stuck: int = 0
    error_batches: int = 0
    notes: set[str] = field(default_factory=set)


class Report:
    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}
        self.paths: Counter[str] = Counter()
        """How often the model-based test took each path (rules and outcomes)."""

    def add(self, scenario: str, *, note: str | None = None, **counts: int) -> None:
        row = self.rows.setdefault(scenario, Row())
        row.runs += counts.pop("runs", 1)
        for name, value in counts.items():
            setattr(row, name, getattr(row, name) + value)
        if note:
            row.notes.add(note)

    def table(self) -> list[str]:
        head = (
            f"{'scenario':<52} {'runs':>5} {'files':>7} {'faults':>6} {'lost':>5} "
            f"{'dup':>5} {'stuck':>5} {'error':>5}"
        )
        lines = [head, "-" * len(head)]
        for name, r in sorted(self.rows.items()):
            lines.append(
                f"{name:<52} {r.runs:>5} {r.files:>7} {r.faults:>6} {r.lost:>5} "
                f"{r.duplicated:>5} {r.stuck:>5} {r.error_batches:>5}"
            )
        return lines

    def dump(self) -> dict[str, dict[str, object]]:
        rows = {k: {**vars(v), "notes": sorted(v.notes)} for k, v in self.rows.items()}
        if self.paths:
            rows[PATHS] = dict(self.paths)
        return rows

    def merge(self, rows: dict[str, dict[str, object]]) -> None:
        """Rows from another process (an xdist worker)."""
        for name, values in rows.items():
            if name == PATHS:
                self.paths.update(values)  # type: ignore[arg-type]
                continue
            row = self.rows.setdefault(name, Row())
            for key, value in values.items():
                if key == "notes":
                    row.notes.update(value)  # type: ignore[arg-type]
                else:
                    setattr(row, key, getattr(row, key) + value)
