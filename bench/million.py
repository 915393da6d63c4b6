"""Seal + member query + manifest of one batch of 100,000 to 1,000,000 files (issue 17, target 5).

Per size, a fresh moto server; the batch is seeded as bench/seal_path.py does (members written
straight into moto's in-memory table) and sealed, queried and manifested by a fresh warm child
process through `LoaderService.flush`. Reported per size: wall time, the loader's CPU (the
child's), moto's CPU (this process, which runs the server, during the child's run), peak RSS of
the child (VmHWM reset just before the flush), the calls, and the manifest's bytes and parts.

moto's Query re-sorts the whole partition for every page (hours at 1,000,000 members), so this
bench windows it (bench/moto_query.py); the wall time is still moto-bound, hence the estimate on
AWS from the page and call counts (`aws_estimate`).
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

from bench import common, moto_query, seal_path

LAMBDA_MEMORY_MB = 256
TEMPLATE_TIMEOUT_S = 900
"""template.yaml FunctionTimeout's default (and maximum)."""

# Typical latencies for the estimate (in-region, warm connections): assumptions, not measured.
QUERY_PAGE_S = 0.060
"""A strongly consistent Query page of ~1 MB."""
LIST_PAGE_S = 0.060
"""ListObjectsV2, 1,000 keys: the source check lists the members' folders before the manifest."""
UPLOAD_PART_S = 0.250
"""UploadPart of 8 MiB from Lambda."""
VCPU_AT = {256: 256 / 1769, 512: 512 / 1769}
"""Lambda's CPU share at a memory size (1,769 MB = one vCPU)."""


def aws_estimate(files: int, child: dict[str, Any]) -> dict[str, Any]:
    calls = child["calls"]["calls"]
    pages = calls.get("dynamodb.Query", 0)
    lists = math.ceil(files / 1000)  # in AWS the folder holds the members; moto's S3 holds none
    parts = child["manifest_parts"]
    io_s = pages * QUERY_PAGE_S + lists * LIST_PAGE_S + parts * UPLOAD_PART_S
    cpu = child["cpu_seconds"]
    return {
        "query_pages": pages,
        "list_calls": lists,
        "upload_parts": parts,
        "io_seconds": io_s,
        **{f"seconds_at_{mb}mb": io_s + cpu / share for mb, share in VCPU_AT.items()},
        "timeout_seconds": TEMPLATE_TIMEOUT_S,
    }


def run(*, sizes: list[int], params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every size in turn; with `params`, the results so far are written after each size (a
    1,000,000-file run takes most of an hour here)."""
    runs: list[dict[str, Any]] = []
    for files in sizes:
        with common.moto_server() as server:
            moto_query.apply()
            common.quiet_loader_logs()
            server.reset()
            load = os.getloadavg()
            started = time.perf_counter()
            measured = seal_path.measure(common.provision(), files)
            child = measured["seal_and_manifest"]
            runs.append(
                {
                    "files": files,
                    "load_average_at_start": load,
                    "load_average_at_end": os.getloadavg(),
                    "bench_seconds": time.perf_counter() - started,
                    "seconds": child["seconds"],
                    "loader_cpu_seconds": child["cpu_seconds"],
                    "moto_cpu_seconds": child["moto_cpu_seconds"],
                    "loader_cpu_us_per_file": 1e6 * child["cpu_seconds"] / files,
                    "peak_rss_mb": child["peak_rss_mb"],
                    "rss_before_mb": child["rss_before_mb"],
                    "peak_growth_mb": child["peak_growth_mb"],
                    "growth_bytes_per_file": (child["peak_growth_mb"] or 0) * 2**20 / files,
                    "headroom_mb": LAMBDA_MEMORY_MB
                    - (child["peak_rss_mb"] or child["process_peak_rss_mb"]),
                    "manifest_bytes": child["manifest_bytes"],
                    "manifest_parts": child["manifest_parts"],
                    "calls": child["calls"]["calls"],
                    "aws_estimate": aws_estimate(files, child),
                    "measured": measured,
                }
            )
        if params is not None:
            common.write_result("million", params, _results(sizes, runs))
    return _results(sizes, runs)


def _results(sizes: list[int], runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"sizes": sizes, "lambda_memory_mb": LAMBDA_MEMORY_MB, "runs": runs}


def report(results: dict[str, Any]) -> None:
    rows = []
    for r in results["runs"]:
        est = r["aws_estimate"]
        rows.append(
            [
                f"{r['files']:,}",
                r["seconds"],
                r["loader_cpu_seconds"],
                r["moto_cpu_seconds"],
                r["loader_cpu_us_per_file"],
                r["peak_rss_mb"],
                r["peak_growth_mb"],
                r["manifest_bytes"] / 2**20,
                r["manifest_parts"],
                est["query_pages"],
                est["seconds_at_256mb"],
                est["seconds_at_512mb"],
            ]
        )
    common.print_table(
        "Seal + member query + manifest of one batch (fresh warm child; moto query windowed)",
        [
            "files",
            "wall s",
            "loader CPU s",
            "moto CPU s",
            "loader CPU us/file",
            "peak RSS MB",
            "peak growth MB",
            "manifest MiB",
            "parts",
            "query pages",
            "AWS est. s @256MB",
            "@512MB",
        ],
        rows,
    )


def main(argv: list[str] | None = None) -> None:
    args = common.parser(__doc__)
    args.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    ns = args.parse_args(argv)
    results = run(sizes=ns.sizes, params=vars(ns))
    report(results)


if __name__ == "__main__":
    main()
