"""Seal + manifest of one large batch, measured in a fresh process through the loader's code.

Registering 100,000 files through moto takes minutes, so the batch is seeded: its first files
are registered by the loader (that creates the prefix's state and the batch header), most of the
members are then written straight into moto's in-memory table with the loader's own item
encoding (codec.encode of a BatchMember, the item `FileLedger._member_put` writes), the header's
counters are raised to match with one UpdateItem, and the last files are registered by the
loader again (measured: registration cost into an already large batch). The ledger (files
table) is not seeded: sealing and manifesting never read it.

The seal + manifest then runs in a child process (clean peak RSS, not moto's memory) as an
operator flush: `LoaderService.flush` -> BatchStore.seal -> BatchLifecycle writes the manifest from
the member query and moves the batch to `loading`. No destination is configured.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

from bench import common
from bench.calls import CallCounter

if TYPE_CHECKING:
    from loader.settings import Settings

REGISTER_CHUNK = 1000
"""Notifications per invocation while registering (an SQS event source delivers up to 10,000)."""


def _seed_members(settings: Settings, batch_id: str, prefix: str, start: int, count: int) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    from loader.adapters.codec import encode
    from loader.models import BatchMember

    table = dynamodb_backends[DEFAULT_ACCOUNT_ID][common.REGION].get_table(settings.tables.batches)
    for bucket, key in common.keys_for(prefix, start, count):
        url = f"s3://{bucket}/{key}"
        member = BatchMember(url=url, size=1000, etag=f"{start:032x}")
        table.put_item(
            encode({"pk": f"batch#{batch_id}", "sk": f"file#{url}", **member.model_dump()})
        )
    common.session().client("dynamodb").update_item(
        TableName=settings.tables.batches,
        Key=encode({"pk": f"batch#{batch_id}", "sk": "header"}),
        UpdateExpression="ADD #n :n, #b :b",
        ExpressionAttributeNames={"#n": "file_count", "#b": "total_bytes"},
        ExpressionAttributeValues={":n": {"N": str(count)}, ":b": {"N": str(1000 * count)}},
    )


def prepare(settings: Settings, files: int) -> dict[str, Any]:
    """A batch of `files` open files; returns its ids and the measured tail registration."""
    [prefix] = common.prefixes(1)
    # Never reached (the bench seals by flush); max_files tops out at 1,000,000, which a
    # 1,000,000-file batch would reach while its last files register.
    common.put_configs(settings, [prefix], thresholds={"max_bytes": 1 << 50})
    counter = CallCounter()
    deps = common.container(settings, counter)
    head = min(49, files)
    tail = min(REGISTER_CHUNK, (files - head) // 2)
    seeded = files - head - tail

    def register(start: int, count: int) -> None:
        for first in range(start, start + count, REGISTER_CHUNK):
            n = min(REGISTER_CHUNK, start + count - first)
            notices = common.s3_notifications(common.keys_for(prefix, first, n), size=1000)
            common.invoke(deps, common.sqs_batch(notices))

    register(0, head)
    batch = deps.batches.open_batch(prefix)
    assert batch is not None
    if seeded:
        _seed_members(settings, batch.batch_id, prefix, head, seeded)
    started, cpu = time.perf_counter(), time.process_time()
    with counter.measure() as calls:
        register(head + seeded, tail)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    batch = deps.batches.get_batch(batch.batch_id)
    assert batch is not None and batch.file_count == files, batch
    return {
        "prefix": prefix,
        "batch_id": batch.batch_id,
        "files": files,
        "seeded_directly": seeded,
        "registered_by_loader": head + tail,
        "tail_registration": {
            "files": tail,
            "batch_size_before": head + seeded,
            "ms_per_file": 1000 * elapsed / tail if tail else None,
            "cpu_ms_per_file_incl_moto": 1000 * cpu / tail if tail else None,
            "calls_per_file": calls.total() / tail if tail else None,
            "calls": calls.as_dict(),
        },
    }


def measure(settings: Settings, files: int, *, trace: bool = False) -> dict[str, Any]:
    """Prepare a batch here (the moto process), seal + manifest it in a fresh child."""
    batch = prepare(settings, files)
    env = {**os.environ, **common.settings_env(settings)}
    args = [batch["prefix"], batch["batch_id"], str(files), "1" if trace else "0"]
    # This process is idle but for the moto server's thread while the child runs: its CPU
    # over the child's run is moto's (the loader's own CPU is the child's).
    moto_cpu = time.process_time()
    done = subprocess.run(
        [sys.executable, "-m", "bench.seal_path", *args],
        cwd=common.ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=3600,
    )
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"seal child failed ({done.returncode}): {done.stderr[-3000:]}")
    child = json.loads(lines[-1].removeprefix("BENCH_RESULT "))
    child["moto_cpu_seconds"] = time.process_time() - moto_cpu
    child.update(_manifest(child["manifest_url"]))
    if child["manifest_entries"] != files:
        raise RuntimeError(f"manifest lists {child['manifest_entries']} of {files} files")
    return {**batch, "seal_and_manifest": child}


def _manifest(url: str) -> dict[str, Any]:
    """Its entries, bytes and parts (a multipart object's ETag ends in "-<parts>")."""
    bucket, _, key = url.removeprefix("s3://").partition("/")
    got = common.session().client("s3").get_object(Bucket=bucket, Key=key)
    body = got["Body"].read()
    _, _, parts = str(got["ETag"]).strip('"').partition("-")
    return {
        "manifest_entries": len(json.loads(body)["entries"]),  # valid JSON, every entry
        "manifest_bytes": len(body),
        "manifest_parts": int(parts or 1),
    }


def _child(prefix: str, batch_id: str, files: int, trace: bool) -> dict[str, Any]:
    """Runs in the fresh process: a warm container seals and manifests the batch."""
    import tracemalloc

    from loader.service import LoaderService
    from loader.settings import Settings

    common.quiet_loader_logs()
    counter = CallCounter()
    deps = common.container(Settings.from_env(), counter)
    deps.configs.current(time.time())  # warm: clients built, configuration cached
    deps.client("s3")
    assert deps.batches.get_batch(batch_id) is not None
    before = common.memory_mb()
    peak_reset = common.reset_peak_rss()
    if trace:
        tracemalloc.start()
    service = LoaderService(deps)
    started, cpu = time.perf_counter(), time.process_time()
    with counter.measure() as calls:
        sealed = service.flush(prefix, time.time() + 840)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    traced_peak = tracemalloc.get_traced_memory()[1] / 2**20 if trace else None
    after = common.memory_mb()
    if sealed is None or sealed.batch_id != batch_id or not sealed.manifest_url:
        raise RuntimeError(f"flush of {batch_id} gave {sealed!r}")
    assert sealed.file_count == files, sealed
    return {
        "seconds": elapsed,
        "cpu_seconds": cpu,
        "ms_per_file": 1000 * elapsed / files,
        "cpu_ms_per_file": 1000 * cpu / files,
        "rss_before_mb": before["rss"],
        "peak_rss_mb": after["peak"] if peak_reset else None,
        "peak_growth_mb": after["peak"] - before["rss"] if peak_reset else None,
        "process_peak_rss_mb": max(before["peak"], after["peak"]),
        "rss_after_mb": after["rss"],
        "tracemalloc_peak_mb": traced_peak,
        "calls": calls.as_dict(),
        "calls_per_file": calls.total() / files,
        "status": sealed.status.value,
        "manifest_url": sealed.manifest_url,
    }


if __name__ == "__main__":
    prefix_arg, batch_arg, files_arg, trace_arg = sys.argv[1:5]
    result = _child(prefix_arg, batch_arg, int(files_arg), trace_arg == "1")
    common.say("BENCH_RESULT " + json.dumps(result))
