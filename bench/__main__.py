"""Run every bench (`python -m bench`, `make bench`), each in its own process.

`--full` runs the sizes docs/performance.md reports (tens of minutes on 2 cores); `--smoke` runs
tiny sizes; `--only NAME...` picks benches. Results: bench/results/<name>.json.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from bench.suite import FULL, SCRIPTS, SMOKE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--full", action="store_true", help="the sizes the docs report")
    mode.add_argument("--smoke", action="store_true", help="tiny sizes, seconds each")
    parser.add_argument("--only", nargs="+", choices=SCRIPTS, default=list(SCRIPTS))
    args = parser.parse_args(argv)
    sizes = FULL if args.full else SMOKE if args.smoke else {}
    failed = []
    for name in (s for s in SCRIPTS if s in args.only):
        command = [sys.executable, "-m", f"bench.{name}", *sizes.get(name, [])]
        print(f"\n=== {' '.join(command[1:])}", flush=True)
        started = time.perf_counter()
        if subprocess.run(command, check=False).returncode != 0:
            failed.append(name)
        print(f"=== {name}: {time.perf_counter() - started:.0f} s", flush=True)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
