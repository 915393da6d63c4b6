"""Loading sealed batches into their targets.

`build_loader` is what the Lambda runtime calls once per container: which targets a batch loads
into is decided per batch from its prefix configuration. Nothing here imports psycopg2, tenacity
or the target modules until a batch is actually loaded.

Modules: runner (the BatchLoader), job / timing / outcome (what an attempt is asked and answers,
pure), credentials (secrets per load), checks (load problems for `config put`), table_prep and
file_samples (the table before the load), load_check (the loaded-vs-staged check, pure); the SQL
text in `sql/`, one driver per target kind in `targets/` (docs/architecture.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loader.deps import Deps
    from loader.ports import BatchLoader


def build_loader(deps: Deps, *, clock: Callable[[], float] = time.time) -> BatchLoader | None:
    """The loader for every target kind (`clock` must be the lifecycle's clock)."""
    from loader.loading.runner import TargetsLoader

    return TargetsLoader(deps, clock=clock)
