"""Splitting a streamed body into S3 multipart parts (loader/manifest_parts.py), and the manifest's
pieces (loader/manifest.py) they are made from."""

from __future__ import annotations

import json

import pytest

from loader.errors import TerminalError
from loader.manifest import ManifestEntries, build_manifest
from loader.manifest_parts import MAX_PARTS, check_part_count, split_parts
from loader.models import BatchMember


def test_parts_are_full_size_but_the_last_and_join_back_to_the_body() -> None:
    pieces = [b"abc", b"defgh", b"", b"ij", b"k"]

    parts = list(split_parts(pieces, part_size=4))

    assert parts == [b"abcd", b"efgh", b"ijk"]
    assert b"".join(parts) == b"".join(pieces)


def test_a_piece_larger_than_a_part_is_cut_into_several() -> None:
    assert list(split_parts([b"x" * 10], part_size=3)) == [b"xxx", b"xxx", b"xxx", b"x"]


def test_a_body_of_whole_parts_has_no_empty_tail() -> None:
    assert list(split_parts([b"ab", b"cd"], part_size=2)) == [b"ab", b"cd"]


def test_a_body_smaller_than_a_part_is_one_part() -> None:
    assert list(split_parts([b"{", b"}"], part_size=100)) == [b"{}"]


def test_an_empty_body_is_one_empty_part() -> None:
    assert list(split_parts([], part_size=8)) == [b""]


def test_parts_are_produced_as_the_pieces_come_not_after_the_last() -> None:
    produced: list[str] = []

    def pieces():
        for piece in (b"aa", b"bb", b"cc"):
            produced.append(piece.decode())
            yield piece

    parts = split_parts(pieces(), part_size=4)

    assert next(parts) == b"aabb" and produced == ["aa", "bb"]


def test_a_part_size_below_one_byte_is_refused() -> None:
    with pytest.raises(ValueError):
        next(split_parts([b"a"], part_size=0))


def test_more_parts_than_s3_allows_is_a_terminal_error() -> None:
    check_part_count(MAX_PARTS)
    with pytest.raises(TerminalError):
        check_part_count(MAX_PARTS + 1)


def members(n: int) -> list[BatchMember]:
    return [BatchMember(url=f"s3://b/k/{i:04d}.csv", size=i, etag="e") for i in range(n)]


def test_the_manifest_in_parts_is_the_manifest_whole() -> None:
    entries = ManifestEntries()

    body = b"".join(split_parts(entries.pieces(members(50)), part_size=64))

    assert body == build_manifest(members(50)) and entries.count == 50
    assert [e["url"] for e in json.loads(body)["entries"]] == [m.url for m in members(50)]


def test_manifest_entries_are_the_json_of_their_fields_whatever_the_key() -> None:
    odd = BatchMember(url='s3://b/caf\u00e9 "quoted"\\x.csv', size=7)

    [entry] = json.loads(build_manifest([odd]))["entries"]

    assert entry == {"url": odd.url, "mandatory": True, "meta": {"content_length": 7}}
    assert build_manifest([odd]) == (
        b'{"entries":[' + json.dumps(entry, separators=(",", ":")).encode() + b"]}"
    )


def test_an_empty_batch_has_an_empty_manifest() -> None:
    assert json.loads(build_manifest([])) == {"entries": []}
