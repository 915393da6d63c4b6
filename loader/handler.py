"""Lambda entry point: event in, response out.

Only the standard library is imported here; the rest loads on the first invocation, so the
module imports fast and tests can import it before setting the environment.
"""

from __future__ import annotations

from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from loader.runtime import handle

    return handle(event, context)
