"""DynamoDB attribute-value conversion; the only place that knows the wire format."""

from __future__ import annotations

from decimal import Decimal
from enum import Enum
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _to_wire_value(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _to_wire_value(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_to_wire_value(v) for v in value]
    return value


def _from_wire_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_wire_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_wire_value(v) for v in value]
    if isinstance(value, set):
        return {_from_wire_value(v) for v in value}
    return value


def encode(item: dict[str, Any]) -> dict[str, Any]:
    """Plain dict -> DynamoDB item; None values are left out."""
    return {k: _serializer.serialize(_to_wire_value(v)) for k, v in item.items() if v is not None}


def encode_value(value: Any) -> dict[str, Any]:
    return dict(_serializer.serialize(_to_wire_value(value)))


def decode(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _from_wire_value(_deserializer.deserialize(v)) for k, v in item.items()}


def values(**named: Any) -> dict[str, Any]:
    """ExpressionAttributeValues from keyword arguments: values(now=1.0) -> {':now': {...}}."""
    return {f":{k}": encode_value(v) for k, v in named.items()}


def names(*attrs: str) -> dict[str, str]:
    """ExpressionAttributeNames: every attribute is aliased (#status, #size, ...)."""
    return {f"#{a}": a for a in attrs}
