"""Run the stand-in standalone: `python -m redshift_standin --postgres-dsn ... --port 5439`.

Without --postgres-dsn (and without $LOADER_TEST_POSTGRES_DSN) an embedded PostgreSQL is started
in a temporary directory for as long as the process runs.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

from redshift_standin.postgres import start_postgres
from redshift_standin.proxy import StandIn


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m redshift_standin", description=__doc__)
    parser.add_argument("--postgres-dsn", help="libpq DSN of the real PostgreSQL (superuser)")
    parser.add_argument("--port", type=int, default=5439, help="port on 127.0.0.1 (0: any)")
    parser.add_argument("--s3-endpoint-url", help="S3 endpoint, e.g. a moto server")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--verbose", action="store_true")
    return parser.parse_args(argv)


def _s3_factory(endpoint_url: str | None, region: str) -> Callable[[], Any]:
    def build() -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=endpoint_url, region_name=region)

    return build


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO)
    logging.getLogger("pgserver").setLevel(logging.WARNING)  # its INFO lines drown ours
    postgres = None if args.postgres_dsn else start_postgres()
    dsn = args.postgres_dsn or (postgres.dsn if postgres else "")
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    try:
        with StandIn(dsn, _s3_factory(args.s3_endpoint_url, args.region), port=args.port) as proxy:
            print(f"Redshift stand-in ready: {proxy.dsn()}", flush=True)
            stopped.wait()
    finally:
        if postgres is not None:
            postgres.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
