"""Unknown configuration fields name the field that was probably meant.

pydantic says `Extra inputs are not permitted` for a typo'd key; `SuggestingModel` adds, for keys
of its own level, `; did you mean 'filename_filter'?`, so every caller that prints `error["msg"]`
with the error's path (the CLI among them) shows the suggestion. `did_you_mean` is
the same lookup for callers with a name and a list of candidates.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any, get_args

from pydantic import BaseModel, ValidationError, ValidatorFunctionWrapHandler, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_core.core_schema import ErrorType

UNKNOWN_FIELD = "unknown_field"
_KNOWN_TYPES = frozenset(get_args(ErrorType))


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to `name` (a typo or another spelling), if one is close enough."""
    names = list(candidates)
    lowered = {c.lower().replace("-", "_"): c for c in names}
    key = name.lower().replace("-", "_")
    if key in lowered:
        return lowered[key]
    close = difflib.get_close_matches(key, list(lowered), n=1, cutoff=0.7)
    return lowered[close[0]] if close else None


def unknown_field_message(name: str, candidates: Iterable[str]) -> str:
    """pydantic's wording, with the suggestion when there is one (the path names the key)."""
    guess = did_you_mean(name, [c for c in candidates if c != "type"])
    hint = f"; did you mean '{guess}'?" if guess else ""
    return f"Extra inputs are not permitted{hint}"


class SuggestingModel(BaseModel):
    """Base of the configuration models: a typo'd key says which field was probably meant."""

    @model_validator(mode="wrap")
    @classmethod
    def _suggest_fields(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(data)
        except ValidationError as exc:
            errors = exc.errors()
            if not any(_own_extra(e) for e in errors):
                raise
            raise ValidationError.from_exception_data(
                exc.title, [_rewritten(cls, e) for e in errors]
            ) from None


def _own_extra(error: Any) -> bool:
    return bool(error["type"] == "extra_forbidden" and len(error["loc"]) == 1)


def _rewritten(model: type[BaseModel], error: Any) -> InitErrorDetails:
    """The error as pydantic-core takes it back; our own extra-field errors reworded."""
    details: dict[str, Any] = {"loc": error["loc"], "input": error["input"]}
    if _own_extra(error):
        message = unknown_field_message(str(error["loc"][0]), model.model_fields)
        details["type"] = PydanticCustomError(UNKNOWN_FIELD, "{message}", {"message": message})
    elif error["type"] not in _KNOWN_TYPES:  # custom: reworded by a nested model already
        details["type"] = PydanticCustomError(error["type"], "{message}", {"message": error["msg"]})
    else:
        details["type"] = error["type"]
        if "ctx" in error:
            details["ctx"] = error["ctx"]
    return details  # type: ignore[return-value]
