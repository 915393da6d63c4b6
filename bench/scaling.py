"""How calls, time and memory per file grow with the batch size (default 1k / 10k / 100k).

For each size, one batch is prepared as in bench/seal_path.py; reported per file:
- registering the last files into the already large batch (calls, wall time);
- sealing + manifesting the whole batch in a fresh process (calls, wall time, the loader's own
  CPU time, peak RSS growth).
"""

from __future__ import annotations

from typing import Any

from bench import common, seal_path


def run(*, sizes: list[int]) -> list[dict[str, Any]]:
    rows = []
    with common.moto_server() as server:
        common.quiet_loader_logs()
        for files in sizes:
            server.reset()
            measured = seal_path.measure(common.provision(), files)
            seal, tail = measured["seal_and_manifest"], measured["tail_registration"]
            rows.append(
                {
                    "files": files,
                    "registration": {
                        "files": tail["files"],
                        "batch_size_before": tail["batch_size_before"],
                        "calls_per_file": tail["calls_per_file"],
                        "ms_per_file": tail["ms_per_file"],
                    },
                    "seal_and_manifest": {
                        "calls": seal["calls"]["calls"],
                        "calls_per_file": seal["calls_per_file"],
                        "ms_per_file": seal["ms_per_file"],
                        "loader_cpu_ms_per_file": seal["cpu_ms_per_file"],
                        "peak_growth_mb": seal["peak_growth_mb"],
                        "peak_growth_bytes_per_file": (seal["peak_growth_mb"] or 0) * 2**20 / files,
                        "peak_rss_mb": seal["peak_rss_mb"],
                    },
                    "seeding": {
                        "seeded_directly": measured["seeded_directly"],
                        "registered_by_loader": measured["registered_by_loader"],
                    },
                }
            )
            common.say(f"  {files:>7,} files done")
    return rows


def report(rows: list[dict[str, Any]]) -> None:
    common.print_table(
        "Scaling with batch size (per file)",
        [
            "batch files",
            "register calls",
            "register ms",
            "seal+manifest calls",
            "seal+manifest ms (wall)",
            "loader CPU ms",
            "peak RSS growth MB",
            "growth B/file",
        ],
        [
            [
                r["files"],
                r["registration"]["calls_per_file"],
                r["registration"]["ms_per_file"],
                r["seal_and_manifest"]["calls_per_file"],
                r["seal_and_manifest"]["ms_per_file"],
                r["seal_and_manifest"]["loader_cpu_ms_per_file"],
                r["seal_and_manifest"]["peak_growth_mb"],
                r["seal_and_manifest"]["peak_growth_bytes_per_file"],
            ]
            for r in rows
        ],
    )


def main(argv: list[str] | None = None) -> None:
    args = common.parser(__doc__)
    args.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    ns = args.parse_args(argv)
    rows = run(sizes=ns.sizes)
    report(rows)
    common.write_result("scaling", vars(ns), rows)


if __name__ == "__main__":
    main()
