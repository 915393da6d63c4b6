"""Cold start: import times in fresh interpreters, and the first invocation against moto.

Every figure is the median of N fresh processes, the kinds interleaved round by round so that
load on the (shared) machine hits them alike. Two bytecode situations:

- cached: every module has its .pyc (a developer machine; the fair comparison with boto3);
- packaged: as the artifact of scripts/package_lambda.py runs: every module has its .pyc (the
  artifact ships bytecode compiled by the runtime's Python version, hash-checked) and the
  function's environment disables pydantic's plugin scan (PYDANTIC_DISABLE_PLUGINS, template);
- no bytecode: only what the Lambda runtime provides (the standard library, boto3 and its
  dependencies) has .pyc; the artifact's own modules compile from source on every cold start,
  as they did before the artifact carried bytecode (kept to show what it saves).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench import common

# What a first invocation imports: the handler, then (lazily) the runtime, the service, the
# adapters a registration touches, boto3 (built on first use by Deps) and the loading package.
FIRST_INVOCATION_IMPORTS = [
    "loader.handler",
    "loader.runtime",
    "loader.service",
    "loader.adapters.batch_store",
    "loader.adapters.config_store",
    "loader.adapters.s3_store",
    "loader.adapters.timers",
    "loader.loading",
    "boto3",
]
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six"}

_IMPORT = """
import time
started = time.perf_counter()
import {modules}
elapsed = time.perf_counter() - started
import json, sys
print("BENCH_RESULT " + json.dumps({{"seconds": elapsed, "modules": len(sys.modules)}}))
"""

_INVOKE = """
import time
started = time.perf_counter()
from loader.handler import handler
imported = time.perf_counter()
import json, sys
first, second = json.loads(sys.argv[1])
handler(first, None)
invoked = time.perf_counter()
handler(second, None)
again = time.perf_counter()
print("BENCH_RESULT " + json.dumps({
    "import_s": imported - started,
    "first_handle_s": invoked - imported,
    "first_invocation_s": invoked - started,
    "warm_handle_s": again - invoked,
    "modules": len(sys.modules),
}))
"""


def _child(code: str, env: dict[str, str], *args: str) -> dict[str, Any]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=common.ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    wall = time.perf_counter() - started
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"child failed ({done.returncode}): {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1].removeprefix("BENCH_RESULT "))
    result["process_wall_s"] = wall
    return result


def _environments(cache: Path) -> dict[str, dict[str, str]]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    cached = {**base, "PYTHONPYCACHEPREFIX": str(cache / "all")}
    packaged = {
        **base,
        "PYTHONPYCACHEPREFIX": str(cache / "all"),
        "PYTHONDONTWRITEBYTECODE": "1",  # /var/task is read-only
        "PYDANTIC_DISABLE_PLUGINS": "__all__",  # template.yaml sets it
    }
    source_only = {
        **base,
        "PYTHONPYCACHEPREFIX": str(cache / "runtime"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    return {"cached": cached, "packaged": packaged, "no bytecode": source_only}


def _prepare_caches(cache: Path, envs: dict[str, dict[str, str]]) -> None:
    """Compile everything once into `all`; `runtime` is a copy without the artifact's modules."""
    _child(_IMPORT.format(modules=", ".join(FIRST_INVOCATION_IMPORTS)), envs["cached"])
    everything, runtime = cache / "all", cache / "runtime"
    shutil.copytree(everything, runtime)
    site = runtime / Path(sysconfig.get_paths()["purelib"]).relative_to("/")
    for entry in site.iterdir():
        if entry.name.split(".", 1)[0] not in RUNTIME_PROVIDED:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    for own in ("loader", "config"):
        shutil.rmtree(runtime / common.ROOT.relative_to("/") / own, ignore_errors=True)


def _events(index: int) -> str:
    [prefix] = common.prefixes(1)
    files = common.keys_for(prefix, 2 * index, 2)
    return json.dumps(common.s3_notifications(files))


def _import_breakdown(env: dict[str, str], runs: int) -> dict[str, float]:
    """Median self time (ms) per top-level package over the first invocation's imports."""
    code = "import " + ", ".join(FIRST_INVOCATION_IMPORTS)
    per_run: list[dict[str, float]] = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", code],
            cwd=common.ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        totals: dict[str, float] = defaultdict(float)
        for line in done.stderr.splitlines():
            parts = line.split("|")
            if len(parts) != 3 or not parts[0].strip().removeprefix("import time:").strip():
                continue
            self_us = parts[0].removeprefix("import time:").strip()
            if not self_us.isdigit():
                continue
            root = parts[2].strip().split(".", 1)[0]
            if root in sys.stdlib_module_names:
                root = "(standard library)"
            totals[root] += int(self_us) / 1000
        per_run.append(totals)
    roots = {root for totals in per_run for root in totals}
    medians = {root: common.median([t.get(root, 0.0) for t in per_run]) for root in roots}
    return dict(sorted(medians.items(), key=lambda kv: -kv[1]))


def run(*, rounds: int, breakdown_runs: int) -> dict[str, Any]:
    cache = Path(tempfile.mkdtemp(prefix="bench-pycache-"))
    try:
        with common.moto_server():
            settings = common.provision()
            [prefix] = common.prefixes(1)
            common.put_configs(settings, [prefix], thresholds={"max_files": 1_000_000})
            # The prefix already has an open batch: a cold container usually joins one.
            deps = common.container(settings)
            common.invoke(deps, common.s3_notifications(common.keys_for(prefix, 10**6, 1))[0])
            envs = _environments(cache)
            for env in envs.values():
                env.update(common.settings_env(settings))
            _prepare_caches(cache, envs)
            samples: dict[str, list[dict[str, Any]]] = defaultdict(list)
            kinds = {
                "python -c pass": ("pass", envs["cached"]),
                "import boto3": (_IMPORT.format(modules="boto3"), envs["cached"]),
                "import loader.handler": (_IMPORT.format(modules="loader.handler"), envs["cached"]),
                "first-invocation imports (cached)": (
                    _IMPORT.format(modules=", ".join(FIRST_INVOCATION_IMPORTS)),
                    envs["cached"],
                ),
                "first-invocation imports (packaged)": (
                    _IMPORT.format(modules=", ".join(FIRST_INVOCATION_IMPORTS)),
                    envs["packaged"],
                ),
                "first-invocation imports (no bytecode)": (
                    _IMPORT.format(modules=", ".join(FIRST_INVOCATION_IMPORTS)),
                    envs["no bytecode"],
                ),
            }
            index = 0
            for _ in range(rounds):
                for kind, (code, env) in kinds.items():
                    if kind == "python -c pass":
                        started = time.perf_counter()
                        subprocess.run([sys.executable, "-c", code], env=env, check=True)
                        samples[kind].append({"process_wall_s": time.perf_counter() - started})
                    else:
                        samples[kind].append(_child(code, env))
                for mode in ("cached", "packaged", "no bytecode"):
                    index += 1
                    samples[f"first invocation ({mode})"].append(
                        _child(_INVOKE, envs[mode], _events(index))
                    )
            breakdown = _import_breakdown(envs["cached"], breakdown_runs)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    medians = {
        kind: {key: common.median([s[key] for s in runs]) for key in runs[0]}
        for kind, runs in samples.items()
    }
    boto3_s = medians["import boto3"]["seconds"]
    return {
        "medians": medians,
        "ratios_to_import_boto3": {
            "loader.handler": medians["import loader.handler"]["seconds"] / boto3_s,
            "first-invocation imports (cached)": medians["first-invocation imports (cached)"][
                "seconds"
            ]
            / boto3_s,
            "first-invocation imports (packaged)": medians["first-invocation imports (packaged)"][
                "seconds"
            ]
            / boto3_s,
            "first-invocation imports (no bytecode)": medians[
                "first-invocation imports (no bytecode)"
            ]["seconds"]
            / boto3_s,
        },
        "import_self_ms_by_package": breakdown,
        "samples": samples,
    }


def report(results: dict[str, Any]) -> None:
    rows = []
    for kind, m in results["medians"].items():
        rows.append(
            [
                kind,
                1000 * m["seconds"] if "seconds" in m else None,
                1000 * m["first_invocation_s"] if "first_invocation_s" in m else None,
                1000 * m["warm_handle_s"] if "warm_handle_s" in m else None,
                1000 * m["process_wall_s"],
            ]
        )
    common.print_table(
        "Cold start (medians, ms)",
        ["what", "import", "first invocation", "2nd (warm) invocation", "process wall"],
        rows,
    )
    common.print_table(
        "Ratio to a bare `import boto3` (target < 1.5x)",
        ["import", "ratio"],
        list(results["ratios_to_import_boto3"].items()),
    )
    top = list(results["import_self_ms_by_package"].items())[:12]
    common.print_table("Where first-invocation import time goes (self ms)", ["package", "ms"], top)


def main(argv: list[str] | None = None) -> None:
    args = common.parser(__doc__)
    args.add_argument("--rounds", type=int, default=7, help="fresh processes per figure")
    args.add_argument("--breakdown-runs", type=int, default=3)
    ns = args.parse_args(argv)
    results = run(rounds=ns.rounds, breakdown_runs=ns.breakdown_runs)
    report(results)
    common.write_result("cold_start", vars(ns), results)


if __name__ == "__main__":
    main()
