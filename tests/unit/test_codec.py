"""The DynamoDB codec's direct conversion gives exactly what boto3's TypeSerializer gives, and
registration's items built without models are what the models would have written."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Any

import pytest
from boto3.dynamodb.types import Binary, TypeSerializer

from loader.adapters.codec import _to_wire_value, decode, encode, encode_value
from loader.adapters.items import file_from_item, member_key, new_ledger_item, new_member_item
from loader.models import BatchMember, FileRecord, S3Object


class Colour(StrEnum):
    RED = "red"


def reference(item: dict[str, Any]) -> dict[str, Any]:
    """The general path: TypeSerializer over the loader's wire values."""
    serializer = TypeSerializer()
    return {k: serializer.serialize(_to_wire_value(v)) for k, v in item.items() if v is not None}


ITEM: dict[str, Any] = {
    "s": "s3://bucket/a b+c.csv",
    "empty": "",
    "i": 1_700_000_000,
    "negative": -3,
    "big": 10**37,
    "f": 1700000000.123456,
    "tiny": 1e-7,
    "t": True,
    "no": False,
    "none": None,
    "enum": Colour.RED,
    "decimal": Decimal("1.50"),
    "bytes": b"\x00\x01",
    "binary": Binary(b"x"),
    "strings": {"a", "b"},
    "numbers": {1, 2},
    "list": ["x", 1, 2.5, None, [True], {"k": "v"}],
    "tuple": ("a", 1),
    "map": {"a": 1, "skip": None, "nested": {"f": 0.1, "e": Colour.RED, "l": []}},
}


def test_every_value_the_loader_writes_encodes_as_type_serializer_does() -> None:
    assert encode(ITEM) == reference(ITEM)


@pytest.mark.parametrize("value", [float("inf"), float("nan"), 10**40])
def test_numbers_dynamodb_cannot_hold_are_refused_as_before(value: Any) -> None:
    with pytest.raises(Exception) as direct:  # the same error either way
        encode_value(value)
    with pytest.raises(type(direct.value)):
        reference({"v": value})


def test_an_item_round_trips() -> None:
    item = {"url": "s3://b/k", "size": 10, "at": 1.5, "flags": {"armed": True}, "ids": ["a"]}

    assert decode(encode(item)) == item


@pytest.mark.parametrize(
    "obj",
    [
        S3Object(bucket="b", key="events/a b.csv", size=10, etag='"e"', sequencer="00A"),
        S3Object(bucket="b", key="k", size=0, version_id="v1", event_time="2026-12-08T00:00:00Z"),
    ],
)
def test_registration_items_are_the_dumps_of_a_new_member_and_ledger_record(obj: S3Object) -> None:
    record = FileRecord(
        url=obj.url,
        prefix="b/events",
        batch_id="batch-1",
        size=obj.size,
        etag=obj.etag,
        version_id=obj.version_id,
        sequencer=obj.sequencer,
        first_received_at=1.5,
        last_received_at=1.5,
    )
    member = BatchMember(url=obj.url, size=obj.size, etag=obj.etag, version_id=obj.version_id)

    ledger = new_ledger_item(obj, "b/events", "batch-1", 1.5)
    joined = new_member_item("batch-1", obj)

    assert ledger == encode(record.model_dump(exclude={"previous_batches"}))
    assert joined == {**member_key("batch-1", obj.url), **encode(member.model_dump())}
    assert file_from_item(ledger) == record
