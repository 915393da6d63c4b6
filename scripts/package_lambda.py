#!/usr/bin/env python3
"""Build the Lambda deployment package: loader/ + config/ + requirements-lambda.txt.

Used by `sam build` (target build-LoaderFunction in build.mk, writing into $ARTIFACTS_DIR) and by
`make package` (build/lambda/ and build/lambda.zip, for deployments without SAM). Needs only a
Python with pip: dependencies are downloaded as binary wheels for the Lambda platform
(manylinux, aarch64, CPython 3.12) whatever machine builds them, so no container is involved.

    python3 scripts/package_lambda.py --output build/lambda --clean --zip build/lambda.zip
    python3 scripts/package_lambda.py --output /tmp/art --host   # for this interpreter (tests)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("loader", "config")
HANDLER_MODULE = Path("loader") / "handler.py"
LAMBDA_PYTHON_VERSION = "3.12"
# Lambda's python3.12 runtime runs on Amazon Linux 2023 (glibc 2.34). manylinux2014 (glibc 2.17)
# is what most wheels ship; some current ones (psycopg2-binary >= 2.9.12 on aarch64) ship only
# manylinux_2_28. pip does not widen an explicit --platform to older tags, so both are named.
LAMBDA_PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64")
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".mypy_cache", ".pytest_cache")
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: the same inputs give the same zip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, required=True, help="artifact directory")
    parser.add_argument("--zip", type=Path, help="also write a deterministic zip of the artifact")
    parser.add_argument("--clean", action="store_true", help="empty --output first")
    parser.add_argument(
        "--host",
        action="store_true",
        help="install wheels for this interpreter and machine instead of Lambda's (for tests)",
    )
    parser.add_argument("--requirements", type=Path, default=ROOT / "requirements-lambda.txt")
    parser.add_argument(
        "--source-root", type=Path, default=ROOT, help="where loader/ and config/ are"
    )
    return parser.parse_args(argv)


def copy_sources(source_root: Path, output: Path) -> None:
    if not (source_root / HANDLER_MODULE).is_file():
        raise SystemExit(
            f"{source_root / HANDLER_MODULE} is missing: the template's handler is "
            "loader.handler.handler"
        )
    for package in PACKAGES:
        target = output / package
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(source_root / package, target, ignore=_IGNORED)


def pip_install(requirements: Path, output: Path, *, host: bool) -> None:
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--target",
        str(output),
        "--requirement",
        str(requirements),
        "--only-binary=:all:",  # never compile: sdists would build for the wrong platform
        "--no-compile",  # bytecode comes from the runtime's Python version (compile_bytecode)
        "--upgrade",
        "--disable-pip-version-check",
        "--quiet",
    ]
    if not host:
        command += ["--implementation", "cp", "--python-version", LAMBDA_PYTHON_VERSION]
        for platform in LAMBDA_PLATFORMS:
            command += ["--platform", platform]
    subprocess.run(command, check=True)
    # Console scripts are of no use inside a function and would carry the build host's shebang.
    shutil.rmtree(output / "bin", ignore_errors=True)
    for cache in output.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)


def find_runtime_python(host: bool) -> str | None:
    """An interpreter of the runtime's version: its bytecode is what Lambda's python3.12 loads
    (a .pyc of another version is ignored). For --host builds, this interpreter."""
    if host:
        return sys.executable
    wanted = f"python{LAMBDA_PYTHON_VERSION}"
    if sys.version_info[:2] == tuple(int(p) for p in LAMBDA_PYTHON_VERSION.split(".")):
        return sys.executable
    candidates = [os.environ.get("LAMBDA_BYTECODE_PYTHON"), shutil.which(wanted)]
    # pyenv installs that are not the active version: its shim refuses, the binary works
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates += sorted(str(p) for p in pyenv.glob(f"{LAMBDA_PYTHON_VERSION}*/bin/{wanted}"))
    candidates += [f"/usr/bin/{wanted}", f"/usr/local/bin/{wanted}"]
    for candidate in filter(None, candidates):
        probe = [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]
        try:
            found = subprocess.run(probe, capture_output=True, text=True, check=False)
        except OSError:
            continue
        if found.returncode == 0 and found.stdout.strip() == LAMBDA_PYTHON_VERSION:
            return candidate
    return None


def compile_bytecode(output: Path, python: str) -> bool:
    """__pycache__/*.cpython-312.pyc next to every module, checked by hash, not mtime: /var/task
    is read-only, so without them every cold start compiles every imported module again, and
    zip timestamps (fixed at 1980) would invalidate mtime-based ones."""
    done = subprocess.run(
        [
            python,
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            str(output),
        ],
        check=False,
    )
    return done.returncode == 0


def write_zip(source: Path, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    files = sorted(p for p in source.rglob("*") if p.is_file())
    with zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(source).as_posix(), date_time=_ZIP_EPOCH)
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.external_attr = (0o100000 | mode) << 16  # regular file, world-readable
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compresslevel=9)


def tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    output: Path = args.output.resolve()
    if args.clean and output.exists():
        shutil.rmtree(output)
    output.mkdir(parents=True, exist_ok=True)

    copy_sources(args.source_root.resolve(), output)
    pip_install(args.requirements.resolve(), output, host=args.host)
    python = find_runtime_python(args.host)
    if python is None:
        print(
            f"warning: no python{LAMBDA_PYTHON_VERSION} on this machine: the artifact has no "
            "bytecode, and every cold start compiles what it imports",
            file=sys.stderr,
        )
    elif not compile_bytecode(output, python):
        raise SystemExit("compiling the artifact's bytecode failed")

    size = tree_size(output)
    target = "host" if args.host else f"cp{LAMBDA_PYTHON_VERSION} {'/'.join(LAMBDA_PLATFORMS)}"
    print(f"artifact {output} ({target}): {size / 1e6:.1f} MB unzipped")
    if args.zip:
        write_zip(output, args.zip.resolve())
        print(f"zip {args.zip}: {args.zip.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
