"""Shared plumbing: moto on loopback, the loader wired to it, output as a table and as JSON."""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import boto3

    from loader.deps import Deps
    from loader.settings import Settings
    from local_aws.moto_server import MotoServer

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"

# Keys that can never reach a real account; every client is pointed at moto on top of that.
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
}


# --- environment -----------------------------------------------------------------------------


def use_endpoint(endpoint: str) -> None:
    """Point every boto3 client of this process, and of the processes it starts, at moto."""
    os.environ.update(FAKE_AWS)
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    os.environ.pop("AWS_PROFILE", None)


_OUT = sys.stdout
"""The bench's own output: tables and progress (the loader's lines go to /dev/null)."""


def say(*parts: object) -> None:
    print(*parts, file=_OUT, flush=True)


def quiet_loader_logs() -> None:
    """Keep the loader's log lines and EMF metric lines (writing them is part of the per-file
    cost) but send them to /dev/null, so the tables stay readable: the logger's handler holds
    the original stdout, Powertools Metrics prints to the current one."""
    from loader.log import logger

    sink = Path(os.devnull).open("w")  # noqa: SIM115 - lives as long as the process
    handler = logger.registered_handler
    if hasattr(handler, "setStream"):
        handler.setStream(sink)
    sys.stdout = sink


@contextmanager
def moto_server() -> Iterator[MotoServer]:
    """A serialized moto server on 127.0.0.1 (local_aws/moto_server.py); every boto3 client of
    this process points at it. local_aws.moto_patches makes moto's TransactWriteItems back up
    the items it touches instead of deep-copying whole tables once per item: without it,
    registering 10,000 files through moto is quadratic and the figures would measure moto."""
    from local_aws import moto_patches
    from local_aws.moto_server import MotoServer

    moto_patches.apply()
    server = MotoServer().start()
    try:
        use_endpoint(server.endpoint)
        yield server
    finally:
        server.stop()


def session() -> boto3.Session:
    import boto3

    return boto3.Session(region_name=REGION)


def provision() -> Settings:
    """Tables, buckets and the flush queue as the template creates them; production settings
    (config cached 60 s, 15-minute leases), unlike the tests' zero TTL."""
    from loader.settings import Settings
    from tests.support.aws import provision as provision_resources

    test_settings = provision_resources(session())
    return Settings.from_env({"LOADER_FLUSH_QUEUE_URL": test_settings.flush_queue_url or ""})


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment a Lambda with these settings would have (for the real handler)."""
    env = {
        "LOADER_CONFIG_TABLE": settings.tables.config,
        "LOADER_BATCHES_TABLE": settings.tables.batches,
        "LOADER_FILES_TABLE": settings.tables.files,
    }
    if settings.flush_queue_url:
        env["LOADER_FLUSH_QUEUE_URL"] = settings.flush_queue_url
    return env


def put_configs(settings: Settings, prefixes: Sequence[str], **overrides: Any) -> None:
    from loader.deps import Deps
    from tests.support.aws import make_config

    deps = Deps(settings, session())
    for prefix in prefixes:
        deps.configs.put(make_config(prefix, **overrides), time.time())


def container(settings: Settings, counter: Any = None) -> Deps:
    """A warm Lambda container's dependencies: its own session (with the counter's hooks)."""
    from loader.deps import Deps

    own = session()
    if counter is not None:
        counter.attach(own)
    return Deps(settings, own)


def prefixes(count: int) -> list[str]:
    from tests.support.aws import BUCKET

    return [f"{BUCKET}/events-{i:03d}" for i in range(count)]


# --- output ----------------------------------------------------------------------------------


def results_dir() -> Path:
    return Path(os.environ.get("BENCH_RESULTS_DIR") or ROOT / "bench" / "results")


def machine() -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": cpu,
        "python": platform.python_version(),
        "moto": version("moto"),
        "boto3": version("boto3"),
        "platform": platform.platform(),
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }


def write_result(name: str, params: dict[str, Any], results: Any) -> Path:
    directory = results_dir()
    directory.mkdir(parents=True, exist_ok=True)
    payload = {
        "bench": name,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "params": params,
        "results": results,
    }
    path = directory / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    say(f"\nwrote {path}")
    return path


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    say(f"\n{title}")
    say("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    say("  ".join("-" * w for w in widths))
    for row in cells:
        say("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    if value is None:
        return "-"
    return str(value)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def parser(description: str | None) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(description=(description or "").strip().splitlines()[0])


def memory_mb() -> dict[str, float]:
    """Resident set size now and at its peak (VmRSS / VmHWM, MiB) of this process.

    Not getrusage: on Linux ru_maxrss survives fork + exec, so a child started by a big parent
    (the moto server) reports the parent's peak."""
    status = Path("/proc/self/status").read_text()
    found = dict(re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", status, re.MULTILINE))
    return {"rss": int(found["VmRSS"]) / 1024, "peak": int(found["VmHWM"]) / 1024}


def reset_peak_rss() -> bool:
    """Start VmHWM again from the current RSS (Linux >= 4.0), to measure one step's peak."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


# --- driving the loader ----------------------------------------------------------------------


def keys_for(prefix: str, start: int, count: int) -> list[tuple[str, str]]:
    """(bucket, key) of `count` new files under a configured prefix."""
    bucket, _, folder = prefix.partition("/")
    return [(bucket, f"{folder}/part-{i:07d}.csv") for i in range(start, start + count)]


def s3_notifications(files: Sequence[tuple[str, str]], size: int = 1000) -> list[dict[str, Any]]:
    """One S3 notification (one record) per file, as S3 sends them to SQS or to Lambda."""
    from tests.support.events import s3_event, s3_record

    return [s3_event(s3_record(bucket, key, size=size)) for bucket, key in files]


def sqs_batch(notifications: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The Lambda event of an SQS event source: one SQS message per S3 notification."""
    from tests.support.events import sqs_event

    return sqs_event(*notifications)


def invoke(
    deps: Deps,
    event: dict[str, Any],
    *,
    clock: Any = time.time,
    loader: Any = None,
    notifier: Any = None,
) -> Any:
    """What loader.runtime.handle does with one event (parse, handle, flush the invocation's
    metrics), on a given container (`deps`) and with a given destination."""
    from loader import metrics
    from loader.events import parse_event
    from loader.service import LoaderService, new_owner_id

    service = LoaderService(
        deps, loader=loader, notifier=notifier, clock=clock, owner=new_owner_id()
    )
    try:
        result = service.handle(parse_event(event), deadline=clock() + 840)
    finally:
        metrics.flush()
    if result.failed_message_ids:
        raise RuntimeError(f"{len(result.failed_message_ids)} messages failed")
    return result
