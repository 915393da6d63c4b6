"""The benches `python -m bench` runs, in order, and the sizes of its three modes."""

from __future__ import annotations

SCRIPTS = (
    "api_calls",
    "throughput",
    "end_to_end",
    "cold_start",
    "memory",
    "million",
    "scaling",
    "flush_latency",
    "cost",  # after api_calls: it reads its results
)

FULL: dict[str, list[str]] = {
    "throughput": ["--files", "10000"],
    "end_to_end": ["--files", "2000"],
    "cold_start": ["--rounds", "15", "--breakdown-runs", "5"],
    "flush_latency": ["--trials", "10"],
    "cost": ["--sqs-sizes", "10", "100", "1000"],
    "million": ["--sizes", "100000", "300000", "1000000"],  # issue 17, target 5: ~1 hour here
}
"""`--full`: what docs/performance.md reports. Scripts not named run at their defaults."""

SMOKE: dict[str, list[str]] = {
    "api_calls": [
        "--single-files",
        "3",
        "--sqs-sizes",
        "10",
        "--rounds",
        "1",
        "--batch-sizes",
        "20",
    ],
    "throughput": ["--files", "20", "--prefixes", "2", "--processes", "2"],
    "end_to_end": ["--files", "4", "--rows", "5", "--max-files", "2", "--timeout", "120"],
    "cold_start": ["--rounds", "1", "--breakdown-runs", "1"],
    "memory": ["--files", "120"],
    "million": ["--sizes", "150"],
    "scaling": ["--sizes", "100", "200"],
    "flush_latency": ["--trials", "1", "--max-age", "1"],
    "cost": ["--batch-files", "20", "--sqs-sizes", "10"],  # api_calls' smoke shapes
}
"""`--smoke`: seconds per script; proves the benches run (tests/functional/test_bench_smoke.py)."""
