"""Several worker processes, thousands of files, duplicated and reordered deliveries: every file
ends in exactly one manifest. Against moto in server mode with requests serialized (moto is not
atomic per request otherwise; real DynamoDB is atomic per item)."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
from collections import Counter
from typing import Any

import boto3
import pytest

from local_aws.moto_server import MotoServer
from support.aws import BUCKET, make_config, provision
from support.events import s3_event, s3_record, sqs_event

FILES = int(os.environ.get("LOADER_TEST_CONCURRENCY_FILES", "1500"))
WORKERS = 4
DUPLICATE_SHARE = 0.15


def _worker(endpoint: str, settings_env: dict[str, str], events: list[dict[str, Any]]) -> int:
    os.environ.update(settings_env, AWS_ENDPOINT_URL=endpoint)
    from loader.deps import Deps
    from loader.events import parse_event
    from loader.service import LoaderService
    from loader.settings import Settings

    service = LoaderService(Deps(Settings.from_env()))  # no destination: stop at the manifest
    failed = 0
    for event in events:
        result = service.handle(parse_event(event))
        failed += len(result.failed_message_ids)
    return failed


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Any:
    from local_aws import moto_patches

    moto_patches.apply()
    with MotoServer() as moto:
        monkeypatch.setenv("AWS_ENDPOINT_URL", moto.endpoint)
        yield moto


def deliveries(n: int, seed: int) -> list[list[dict[str, Any]]]:
    """Every file once, 15% of them again, shuffled, dealt to workers in SQS batches of 10."""
    rng = random.Random(seed)
    records = [s3_record(BUCKET, f"events/f-{i:05d}.csv", size=10) for i in range(n)]
    stream = records + rng.sample(records, int(n * DUPLICATE_SHARE))
    rng.shuffle(stream)
    per_worker: list[list[dict[str, Any]]] = [[] for _ in range(WORKERS)]
    for i in range(0, len(stream), 10):
        bodies = [s3_event(r) for r in stream[i : i + 10]]
        per_worker[(i // 10) % WORKERS].append(sqs_event(*bodies))
    return per_worker


def test_concurrent_workers_put_every_file_in_exactly_one_manifest(server: MotoServer) -> None:
    session = boto3.Session(region_name="us-east-1")
    settings = provision(session, flush_queue=False)
    from loader.deps import Deps
    from loader.service import LoaderService

    deps = Deps(settings, session)
    config = make_config(thresholds={"max_files": 40})
    deps.configs.put(config, 0.0)
    env = {"LOADER_LEASE_SECONDS": "300", "LOADER_CONFIG_TTL_SECONDS": "0"}

    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(WORKERS) as pool:
        failures = pool.starmap(
            _worker, [(server.endpoint, env, events) for events in deliveries(FILES, seed=7)]
        )
    LoaderService(deps).flush(config.prefix, deadline=1e12)  # the last, partial batch

    assert sum(failures) == 0
    s3 = session.client("s3")
    listed = s3.list_objects_v2(Bucket="loader-manifests", Prefix="manifests/")
    in_manifests: Counter[str] = Counter()
    for obj in listed.get("Contents", []):
        body = s3.get_object(Bucket="loader-manifests", Key=obj["Key"])["Body"].read()
        in_manifests.update(entry["url"] for entry in json.loads(body)["entries"])
    expected = {f"s3://{BUCKET}/events/f-{i:05d}.csv" for i in range(FILES)}
    assert set(in_manifests) == expected, "files lost"
    assert [u for u, c in in_manifests.items() if c > 1] == [], "files in two manifests"
    assert listed.get("IsTruncated") is False
