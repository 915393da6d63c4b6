"""Exactly once on every path a file can take (issue 12): one regression test per path.

Each test replays a path on which the loader once loaded a file twice, loaded a version the
ledger did not record, or left a batch stuck. Moto plays AWS; a fake destination records what
each batch delivered (tests/support/fakes.py), so "loaded twice" is a count, not a mock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import ValidationError

from config.models import PrefixConfig, ReuploadPolicy
from loader.errors import TerminalError
from loader.events import OUTCOME_SCHEMA, parse_event
from loader.models import Batch, BatchStatus
from loader.ports import LoadContext, LoadResult
from support.aws import BUCKET, MANIFEST_BUCKET, Env, make_config
from support.events import s3_event, s3_record, sqs_event
from support.fakes import RecordingLoader

URL = f"s3://{BUCKET}/events/a.csv"


@pytest.fixture
def loader(env: Env) -> RecordingLoader:
    return RecordingLoader(env.session)


def upload(key: str, etag: str, sequencer: str, version: str | None = None) -> dict[str, Any]:
    record = s3_record(BUCKET, key, size=20, etag=etag, sequencer=sequencer)
    if version is not None:
        record["s3"]["object"]["versionId"] = version
    return record


def deliver(env: Env, loader: Any, *records: dict[str, Any], notifier: Any = None) -> None:
    env.service(loader=loader, notifier=notifier).handle(parse_event(s3_event(*records)))


def sweep(env: Env, loader: Any, notifier: Any = None) -> None:
    env.service(loader=loader, notifier=notifier).handle(parse_event({"loader": "sweep"}))


@dataclass
class Notices:
    """A notifier that keeps what it was asked to send (the failure notice is the outcome)."""

    sent: list[tuple[str, str | None]] = field(default_factory=list)

    def batch_finished(self, config: PrefixConfig, batch: Batch, result: LoadResult) -> None:
        self.sent.append((batch.batch_id, result.error))


# --- path 1: versioned bucket, `reupload: reload`, the re-upload's notice redelivered ----------


def test_path1_a_redelivered_reupload_in_a_versioned_bucket_loads_once(
    env: Env, loader: RecordingLoader
) -> None:
    env.put_config(make_config(thresholds={"max_files": 1}, reupload=ReuploadPolicy.RELOAD))
    deliver(env, loader, upload("events/a.csv", "e1", "0001", version="v1"))
    deliver(env, loader, upload("events/a.csv", "e2", "0002", version="v2"))

    for _ in range(3):  # S3 delivers at least once: the same notice again, and again
        deliver(env, loader, upload("events/a.csv", "e2", "0002", version="v2"))

    assert loader.loaded_count()[URL] == 2  # v1 once, v2 once
    [item] = env.ledger()
    assert item["version_id"] == "v2" and item["etag"] == "e2"


# --- path 2: `reload`, re-upload while the first version's batch is still open ----------------


def test_path2_a_reupload_into_a_still_open_batch_is_not_registered_again_later(
    env: Env, loader: RecordingLoader
) -> None:
    env.put_config(make_config(thresholds={"max_files": 2}, reupload=ReuploadPolicy.RELOAD))
    deliver(env, loader, upload("events/a.csv", "e1", "0001"))
    deliver(env, loader, upload("events/a.csv", "e2", "0002"))  # joins the same open batch
    deliver(env, loader, upload("events/b.csv", "b1", "0003"))  # seals and loads it

    deliver(env, loader, upload("events/a.csv", "e2", "0002"))  # the re-upload's notice again
    env.service(loader=loader).flush(make_config().prefix, env.clock() + 600)

    assert loader.loaded_count()[URL] == 1
    ledger = {i["url"]: i for i in env.ledger()}
    assert ledger[URL]["etag"] == "e2"
    [done] = env.batches(BatchStatus.COMPLETE)
    [member] = [m for m in env.deps.batches.members(done.batch_id) if m.url == URL]
    assert member.etag == "e2"


def test_path2_reconcile_after_a_reupload_into_an_open_batch_registers_nothing(
    env: Env, loader: RecordingLoader
) -> None:
    env.clock.now = time.time()  # reconcile's look-back compares with S3's LastModified
    env.put_config(make_config(thresholds={"max_files": 2}, reupload=ReuploadPolicy.RELOAD))
    s3 = env.session.client("s3")
    first = s3.put_object(Bucket=BUCKET, Key="events/a.csv", Body=b"1\n")["ETag"].strip('"')
    deliver(env, loader, upload("events/a.csv", first, "0001"))
    second = s3.put_object(Bucket=BUCKET, Key="events/a.csv", Body=b"2\n")["ETag"].strip('"')
    deliver(env, loader, upload("events/a.csv", second, "0002"))
    deliver(env, loader, upload("events/b.csv", "b1", "0003"))

    env.service(loader=loader).handle(parse_event({"loader": "reconcile"}))
    env.service(loader=loader).flush(make_config().prefix, env.clock() + 600)

    assert loader.loaded_count()[URL] == 1


# --- path 3: `reload`, fix the bad file, then reprocess the failed batch ----------------------


class FailsBatch(RecordingLoader):
    """Fails the batches named in `bad` terminally (bad data), loads the others."""

    def __init__(self, session: Any) -> None:
        super().__init__(session)
        self.bad: set[str] = set()

    def load(
        self, config: PrefixConfig, batch: Batch, manifest_url: str, context: LoadContext
    ) -> LoadResult:
        if batch.batch_id in self.bad or "*" in self.bad:
            self.bad.discard("*")
            raise TerminalError("Invalid digit, Value 'x', Pos 0, Type: Integer")
        return super().load(config, batch, manifest_url, context)


@pytest.mark.parametrize("how", ["operator", "failure_notice"])
def test_path3_fix_and_reupload_then_reprocess_loads_the_fixed_file_once(
    env: Env, how: str
) -> None:
    loader = FailsBatch(env.session)
    env.put_config(make_config(thresholds={"max_files": 2}, reupload=ReuploadPolicy.RELOAD))
    loader.bad.add("*")
    deliver(env, loader, upload("events/a.csv", "bad", "0001"), upload("events/b.csv", "b", "02"))
    [failed] = env.batches(BatchStatus.ERROR)

    # The documented recovery: fix the file in S3 (its notice registers and loads it), ...
    deliver(env, loader, upload("events/a.csv", "fixed", "0003"), upload("events/c.csv", "c", "4"))
    # ... then reprocess the failed batch.
    service = env.service(loader=loader)
    if how == "operator":
        service.retry_failed(failed, env.clock() + 600)
    else:
        notice = {"schema": OUTCOME_SCHEMA, "status": "error", "batch_id": failed.batch_id}
        service.handle(parse_event(sqs_event(notice)))

    assert loader.loaded_count()[URL] == 1
    assert loader.loaded_count()[f"s3://{BUCKET}/events/b.csv"] == 1
    done = env.deps.batches.get_batch(failed.batch_id)
    assert done.status is BatchStatus.COMPLETE and done.file_count == 1


# --- path 4: the failed-manifest copy fails; the sweep must still recover everything else ------


class FailsPrefix(RecordingLoader):
    """Fails the batches of one prefix terminally, loads the others."""

    def __init__(self, session: Any, prefix: str) -> None:
        super().__init__(session)
        self.prefix = prefix

    def load(
        self, config: PrefixConfig, batch: Batch, manifest_url: str, context: LoadContext
    ) -> LoadResult:
        if batch.prefix == self.prefix:
            raise TerminalError("permission denied for table events")
        return super().load(config, batch, manifest_url, context)


def test_path4_a_batch_whose_failed_manifest_cannot_be_copied_ends_error_and_blocks_no_other(
    env: Env,
) -> None:
    # GIVEN two prefixes whose batches are both loading with expired leases (their workers died)
    poisoned = env.put_config(make_config(thresholds={"max_files": 1}))
    healthy = env.put_config(make_config(f"{BUCKET}/other", thresholds={"max_files": 1}))
    for key in ("other/h.csv", "events/p.csv"):  # the poisoned one is the newest
        deliver(env, None, s3_record(BUCKET, key))  # no loader: left `loading`
        env.clock.advance(1)
    assert len(env.batches(BatchStatus.LOADING)) == 2
    # ... and the poisoned prefix's manifest bucket was changed while its batch was in flight
    env.session.client("s3").create_bucket(Bucket="new-manifests")
    env.put_config(
        PrefixConfig.model_validate(
            poisoned.model_dump() | {"manifest": {"bucket": "new-manifests"}}
        )
    )

    # WHEN the leases expire and the sweep runs; the poisoned batch's load fails for good
    env.clock.advance(env.settings.lease_seconds + 1)
    notices = Notices()
    sweep(env, FailsPrefix(env.session, poisoned.prefix), notices)

    # THEN the poisoned batch is visibly failed, with its notice, and the other one loaded
    by_prefix = {b.prefix: b for b in env.batches() if b.file_count}
    bad = by_prefix[poisoned.prefix]
    assert bad.status is BatchStatus.ERROR
    assert "permission denied" in (bad.error or "")
    assert [batch_id for batch_id, error in notices.sent if error] == [bad.batch_id]
    assert by_prefix[healthy.prefix].status is BatchStatus.COMPLETE
    assert bad.lease is None


def test_path4_a_failed_manifest_copy_that_is_denied_still_ends_the_batch_in_error(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied(*args: Any, **kwargs: Any) -> str:
        raise TerminalError("CopyObject failed: AccessDenied: Access Denied")

    monkeypatch.setattr(env.deps.s3, "copy", denied)  # a failed_prefix the stack does not grant
    broken = RecordingLoader(env.session, fail_with="terminal")
    env.put_config(make_config(thresholds={"max_files": 1}))
    notices = Notices()

    deliver(env, broken, s3_record(BUCKET, "events/a.csv"), notifier=notices)

    [batch] = env.batches(BatchStatus.ERROR)
    assert "permission denied" in (batch.error or "")
    assert "AccessDenied" in (batch.error or "")  # why there is no failed manifest
    assert batch.failed_manifest_url is None
    assert [batch_id for batch_id, _ in notices.sent] == [batch.batch_id]


def test_path4_a_failure_notice_that_cannot_be_sent_still_ends_the_batch_in_error(
    env: Env,
) -> None:
    class DeadTopic:
        def batch_finished(self, config: PrefixConfig, batch: Batch, result: LoadResult) -> None:
            raise TerminalError("topic does not exist")

    broken = RecordingLoader(env.session, fail_with="terminal")
    env.put_config(make_config(thresholds={"max_files": 1}))

    deliver(env, broken, s3_record(BUCKET, "events/a.csv"), notifier=DeadTopic())

    [batch] = env.batches(BatchStatus.ERROR)
    assert "permission denied" in (batch.error or "")


# --- path 5: wildcard prefixes and the "not inside the watched prefix" checks ------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"manifest": {"bucket": BUCKET, "prefix": "landing/dt=x/manifests"}},
        {"manifest": {"bucket": BUCKET, "prefix": "landing/dt=x"}},
        {"manifest": {"bucket": BUCKET, "prefix": "m", "failed_prefix": "landing/dt=failed"}},
        {"after_load": {"action": "archive", "archive_prefix": f"{BUCKET}/landing/dt=archive"}},
        {"after_load": {"action": "archive", "archive_prefix": f"{BUCKET}/landing/dt=a/old"}},
    ],
)
def test_path5_wildcard_prefixes_refuse_manifests_and_archives_they_would_match(
    overrides: dict[str, Any],
) -> None:
    with pytest.raises(ValidationError, match="inside the watched prefix"):
        make_config(f"{BUCKET}/landing/dt=*", **overrides)


@pytest.mark.parametrize(
    "overrides",
    [
        {"manifest": {"bucket": BUCKET, "prefix": "landing/manifests"}},  # dt= does not match
        {"manifest": {"bucket": MANIFEST_BUCKET, "prefix": "landing/dt=x"}},  # other bucket
        {"after_load": {"action": "archive", "archive_prefix": f"{BUCKET}/archive/dt=1"}},
    ],
)
def test_path5_locations_a_wildcard_cannot_match_are_accepted(overrides: dict[str, Any]) -> None:
    make_config(f"{BUCKET}/landing/dt=*", **overrides)


def test_path5_a_static_failed_manifest_prefix_inside_the_watched_prefix_is_refused() -> None:
    with pytest.raises(ValidationError, match="inside the watched prefix"):
        make_config(
            f"{BUCKET}/landing",
            manifest={"bucket": BUCKET, "prefix": "m", "failed_prefix": "landing/failed"},
        )


# --- path 7 (suspected items) --------------------------------------------------------------


def test_path7_an_older_notice_after_a_reconciled_file_is_not_a_reupload(
    env: Env, loader: RecordingLoader
) -> None:
    env.clock.now = time.time()  # reconcile's look-back compares with S3's LastModified
    # GIVEN a file registered by reconciliation (a listing carries no sequencer) and loaded
    env.put_config(make_config(thresholds={"max_files": 1}, reupload=ReuploadPolicy.RELOAD))
    s3 = env.session.client("s3")
    etag = s3.put_object(Bucket=BUCKET, Key="events/a.csv", Body=b"1\n")["ETag"].strip('"')
    env.service(loader=loader).handle(parse_event({"loader": "reconcile"}))
    assert loader.loaded_count()[URL] == 1

    # WHEN the upload's own notification arrives late
    deliver(env, loader, upload("events/a.csv", etag, "0001"))

    # THEN it is the same upload: not loaded again
    assert loader.loaded_count()[URL] == 1


def test_path7_one_prefix_failing_to_seal_fails_only_its_own_messages(
    env: Env, loader: RecordingLoader, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = env.put_config(make_config(thresholds={"max_files": 1}))
    env.put_config(make_config(f"{BUCKET}/other", thresholds={"max_files": 1}))
    store = env.deps.batches
    real_seal = store.seal

    def seal(batch_id: str, prefix: str, **kwargs: Any) -> Batch:
        if prefix != good.prefix:
            from loader.errors import RetryableError

            raise RetryableError("throttled")
        return real_seal(batch_id, prefix, **kwargs)

    monkeypatch.setattr(store, "seal", seal)
    event = sqs_event(
        s3_event(s3_record(BUCKET, "events/a.csv")), s3_event(s3_record(BUCKET, "other/b.csv"))
    )

    response = env.service(loader=loader).handle(parse_event(event)).as_response(True)

    assert response == {"batchItemFailures": [{"itemIdentifier": "msg-1"}]}
    assert loader.loaded_count()[URL] == 1


# --- path 7: a file overwritten between its registration and its load -----------------------
# COPY reads the latest content and a manifest entry names no version (loader/sources.py).


def put(env: Env, key: str, body: bytes) -> str:
    """Upload for real (the loader compares ETags with S3's); the ETag S3 gives it."""
    s3 = env.session.client("s3")
    return s3.put_object(Bucket=BUCKET, Key=key, Body=body)["ETag"].strip('"')


def test_path7_under_reload_a_file_overwritten_before_its_load_is_superseded_and_loads_once(
    env: Env, loader: RecordingLoader
) -> None:
    # GIVEN a file registered in an open batch, then overwritten before the batch loads
    env.put_config(make_config(thresholds={"max_files": 2}, reupload=ReuploadPolicy.RELOAD))
    deliver(env, loader, upload("events/a.csv", put(env, "events/a.csv", b"1\n"), "0001"))
    second = put(env, "events/a.csv", b"2\n")  # its notification is still on its way

    # WHEN the batch seals and loads, and then the overwrite's notification arrives
    deliver(env, loader, upload("events/b.csv", put(env, "events/b.csv", b"3\n"), "0002"))
    deliver(env, loader, upload("events/a.csv", second, "0003"))
    env.service(loader=loader).flush(make_config().prefix, env.clock() + 600)

    # THEN the first batch left the file out (its first version is gone from S3: COPY would
    # read the second), and the second version loads once, with its own notification
    assert sorted(loader.loaded.values()) == [[URL], [f"s3://{BUCKET}/events/b.csv"]]
    assert env.deps.batches.get_file(URL).etag == second


def test_path7_under_ignore_a_file_overwritten_before_its_load_loads_once_as_it_is_now(
    env: Env, loader: RecordingLoader
) -> None:
    # GIVEN a file registered, then overwritten before its batch loads (policy: ignore)
    env.put_config(make_config(thresholds={"max_files": 2}))
    deliver(env, loader, upload("events/a.csv", put(env, "events/a.csv", b"1\n"), "0001"))
    second = put(env, "events/a.csv", b"22\n")

    # WHEN the batch loads, and the overwrite's notification arrives afterwards
    deliver(env, loader, upload("events/b.csv", put(env, "events/b.csv", b"3\n"), "0002"))
    deliver(env, loader, upload("events/a.csv", second, "0003"))

    # THEN the file loaded once, and the ledger and the batch say which version: the current
    [done] = env.batches(BatchStatus.COMPLETE)
    assert loader.loaded_count()[URL] == 1
    ledger = env.deps.batches.get_file(URL)
    assert (ledger.etag, ledger.size) == (second, 3)
    [member] = [m for m in env.deps.batches.members(done.batch_id) if m.url == URL]
    assert (member.etag, member.size) == (second, 3)


def test_path7_a_batch_whose_every_file_was_overwritten_completes_without_loading(
    env: Env, loader: RecordingLoader
) -> None:
    env.put_config(make_config(thresholds={"max_files": 1}, reupload=ReuploadPolicy.RELOAD))
    first = put(env, "events/a.csv", b"1\n")
    put(env, "events/a.csv", b"2\n")  # overwritten before its first notice is even handled

    deliver(env, loader, upload("events/a.csv", first, "0001"))

    [done] = env.batches(BatchStatus.COMPLETE)
    assert done.file_count == 0 and loader.loaded.get(done.batch_id) is None


def test_path7_a_file_moved_on_under_reload_is_not_adopted_after_the_policy_becomes_ignore(
    env: Env, loader: RecordingLoader
) -> None:
    # Found by the model-based ledger test (larger run, 8 December 2026).
    # GIVEN a batch whose load failed transiently (a retry is scheduled), policy reload
    env.put_config(make_config(thresholds={"max_files": 2}, reupload=ReuploadPolicy.RELOAD))
    loader.fail_with = "retryable"
    deliver(
        env,
        loader,
        upload("events/a.csv", put(env, "events/a.csv", b"1\n"), "0001"),
        upload("events/b.csv", put(env, "events/b.csv", b"2\n"), "0002"),
    )
    # AND a.csv re-uploaded meanwhile: the ledger moves it to the next batch, which loads it
    deliver(env, loader, upload("events/a.csv", put(env, "events/a.csv", b"11\n"), "0003"))
    assert env.deps.batches.get_file(URL).batch_id != loader_batch_of_b(env)

    # WHEN the policy becomes ignore, the first batch is retried, and the next batch fills up
    env.put_config(make_config(thresholds={"max_files": 2}, reupload=ReuploadPolicy.IGNORE))
    loader.fail_with = None
    env.clock.advance(3600)
    sweep(env, loader)
    deliver(env, loader, upload("events/c.csv", put(env, "events/c.csv", b"3\n"), "0004"))

    # THEN a.csv loaded once, with the batch the ledger assigns it to: the retried batch left
    # it out (adopting its new version there would have loaded it twice)
    assert loader.loaded_count()[URL] == 1
    assert len(env.batches(BatchStatus.COMPLETE)) == 2
    record = env.deps.batches.get_file(URL)
    assert URL in loader.loaded[record.batch_id]


def loader_batch_of_b(env: Env) -> str:
    return env.deps.batches.get_file(f"s3://{BUCKET}/events/b.csv").batch_id
