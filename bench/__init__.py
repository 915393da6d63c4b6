"""Benchmarks of the loader against moto in server mode on loopback.

Each module runs on its own (`python -m bench.api_calls`) and prints a table and writes
`bench/results/<name>.json` (or `$BENCH_RESULTS_DIR/<name>.json`); `python -m bench` runs them all.
The figures and how to read them live in docs/performance.md.
"""
