"""DynamoDB attribute-value conversion; the only place that knows the wire format."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from enum import Enum
from typing import Any

from boto3.dynamodb.types import DYNAMODB_CONTEXT, TypeDeserializer, TypeSerializer

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


def _number(value: int | Decimal) -> str:
    number = str(DYNAMODB_CONTEXT.create_decimal(value))
    if number in ("Infinity", "NaN"):
        raise TypeError("Infinity and NaN not supported")
    return number


_SCALARS: dict[type, Callable[[Any], dict[str, Any]]] = {
    str: lambda v: {"S": v},
    int: lambda v: {"N": _number(v)},
    float: lambda v: {"N": _number(Decimal(repr(v)))},
    bool: lambda v: {"BOOL": v},
}


def _wire(value: Any) -> dict[str, Any]:
    """One attribute value. The types every registration writes (str, int, float, bool, plain
    dicts and lists) are converted here directly: TypeSerializer's isinstance chain cost more CPU
    than the rest of an SQS batch's registration. Anything else (enums, Decimal, sets, bytes,
    None in a list) takes the general path; the result is the same either way
    (tests/unit/test_codec.py)."""
    kind = type(value)
    scalar = _SCALARS.get(kind)
    if scalar is not None:
        return scalar(value)
    if kind is dict:
        return {"M": {k: _wire(v) for k, v in value.items() if v is not None}}
    if kind is list or kind is tuple:
        return {"L": [_wire(v) for v in value]}
    return dict(_serializer.serialize(_to_wire_value(value)))


def encode(item: dict[str, Any]) -> dict[str, Any]:
    """Plain dict -> DynamoDB item; None values are left out."""
    return {k: _wire(v) for k, v in item.items() if v is not None}


def encode_value(value: Any) -> dict[str, Any]:
    return _wire(value)


def decode(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _from_wire_value(_deserializer.deserialize(v)) for k, v in item.items()}


def values(**named: Any) -> dict[str, Any]:
    """ExpressionAttributeValues from keyword arguments: values(now=1.0) -> {':now': {...}}."""
    return {f":{k}": encode_value(v) for k, v in named.items()}


def names(*attrs: str) -> dict[str, str]:
    """ExpressionAttributeNames: every attribute is aliased (#status, #size, ...)."""
    return {f"#{a}": a for a in attrs}
