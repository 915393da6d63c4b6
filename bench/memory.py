"""Memory while sealing and manifesting one large batch (default 100,000 files).

Peak RSS of a fresh, warm process (its clients built, configuration cached) across the seal and
the manifest, and, in a second run, the peak of Python allocations under tracemalloc. How the
batch is seeded and why RSS is read from /proc: see bench/seal_path.py and bench/common.py.
"""

from __future__ import annotations

from typing import Any

from bench import common, seal_path

LAMBDA_MEMORY_MB = 256


def run(*, files: int, trace: bool) -> dict[str, Any]:
    runs: dict[str, Any] = {}
    with common.moto_server() as server:
        common.quiet_loader_logs()
        for name, traced in (("rss", False), ("tracemalloc", True)):
            if traced and not trace:
                continue
            server.reset()
            runs[name] = seal_path.measure(common.provision(), files, trace=traced)
    rss = runs["rss"]["seal_and_manifest"]
    return {
        "files": files,
        "seeding": {k: runs["rss"][k] for k in ("seeded_directly", "registered_by_loader")},
        "rss_before_mb": rss["rss_before_mb"],
        "peak_rss_mb": rss["peak_rss_mb"],
        "peak_growth_mb": rss["peak_growth_mb"],
        "growth_bytes_per_file": (rss["peak_growth_mb"] or 0) * 2**20 / files,
        "lambda_memory_mb": LAMBDA_MEMORY_MB,
        "headroom_mb": LAMBDA_MEMORY_MB - (rss["peak_rss_mb"] or rss["process_peak_rss_mb"]),
        "tracemalloc_peak_mb": (
            runs["tracemalloc"]["seal_and_manifest"]["tracemalloc_peak_mb"]
            if "tracemalloc" in runs
            else None
        ),
        "seconds": rss["seconds"],
        "loader_cpu_seconds": rss["cpu_seconds"],
        "runs": runs,
    }


def report(results: dict[str, Any]) -> None:
    common.print_table(
        f"Seal + manifest of a {results['files']:,}-file batch (fresh warm process)",
        ["measure", "value"],
        [
            ["RSS before (warm container), MB", results["rss_before_mb"]],
            ["peak RSS during seal + manifest, MB", results["peak_rss_mb"]],
            ["peak growth, MB", results["peak_growth_mb"]],
            ["growth per file, bytes", results["growth_bytes_per_file"]],
            ["tracemalloc peak (Python heap), MB", results["tracemalloc_peak_mb"]],
            [f"headroom in a {LAMBDA_MEMORY_MB} MB Lambda, MB", results["headroom_mb"]],
            ["wall seconds (moto's query dominates)", results["seconds"]],
            ["loader CPU seconds", results["loader_cpu_seconds"]],
        ],
    )


def main(argv: list[str] | None = None) -> None:
    args = common.parser(__doc__)
    args.add_argument("--files", type=int, default=100_000)
    args.add_argument("--no-trace", dest="trace", action="store_false")
    ns = args.parse_args(argv)
    results = run(files=ns.files, trace=ns.trace)
    report(results)
    common.write_result("memory", vars(ns), results)


if __name__ == "__main__":
    main()
