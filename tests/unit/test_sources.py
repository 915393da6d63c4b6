"""What the loader does with a batch's files that changed in S3 since they were registered."""

from __future__ import annotations

from config.models import ReuploadPolicy
from loader.models import BatchMember
from loader.sources import Current, changed_since, chunks, moved_on, plan_sources, same_etag


def member(name: str, etag: str | None = "e1", size: int = 10) -> BatchMember:
    return BatchMember(url=f"s3://b/{name}", size=size, etag=etag)


def test_etags_compare_without_the_quotes_head_and_list_put_around_them() -> None:
    assert same_etag("abc", '"abc"')
    assert not same_etag("abc", '"abd"')
    assert not same_etag(None, "abc")


def test_under_reload_an_overwritten_file_is_superseded() -> None:
    a, b = member("a"), member("b")
    current = {a.url: Current("e2", 12), b.url: Current('"e1"', 10)}

    plan = plan_sources([a, b], current, ReuploadPolicy.RELOAD)

    assert plan.superseded == [a] and plan.adopted == [] and plan.changed


def test_under_ignore_an_overwritten_file_is_adopted_as_it_is_now() -> None:
    a = member("a")
    plan = plan_sources([a], {a.url: Current("e2", 12)}, ReuploadPolicy.IGNORE)
    assert plan.adopted == [(a, Current("e2", 12))] and plan.superseded == []


def test_a_file_the_ledger_moved_to_another_batch_is_left_out_never_adopted() -> None:
    a, b, c = member("a"), member("b"), member("c")
    current = {m.url: Current("e2", 12) for m in (a, b, c)}
    plan = plan_sources([a, b, c], current, ReuploadPolicy.IGNORE)

    # a: still this batch's; b: moved on to a later batch; c: no ledger record any more
    plan = moved_on(plan, {a.url: "B1", b.url: "B2"}, "B1")

    assert plan.adopted == [(a, Current("e2", 12))]
    assert plan.superseded == [b, c]


def test_a_deleted_file_stays_in_its_batch_and_a_file_without_etag_is_not_compared() -> None:
    gone, unknown = member("gone"), member("unknown", etag=None)
    plan = plan_sources([gone, unknown], {gone.url: None}, ReuploadPolicy.RELOAD)
    assert plan.gone == [gone] and not plan.changed


def test_a_change_during_the_load_names_the_files_no_longer_as_read() -> None:
    expected = {"s3://b/a": "e1", "s3://b/b": "e1", "s3://b/c": None, "s3://b/d": "e1"}
    current = {"s3://b/a": Current("e2", 1), "s3://b/b": Current("e1", 1), "s3://b/d": None}
    assert changed_since(expected, current) == ["s3://b/a", "s3://b/d"]


def test_members_are_compared_in_runs_never_all_at_once() -> None:
    runs = list(chunks((member(f"k{i}") for i in range(25)), size=10))
    assert [len(r) for r in runs] == [10, 10, 5]
