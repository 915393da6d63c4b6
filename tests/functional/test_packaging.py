"""The Lambda deployment package: what `sam build` (build.mk) and `make package` produce.

Specification: the artifact holds loader/, config/ and the pinned runtime dependencies and nothing
that the runtime provides (boto3); built for the host it imports in an interpreter that sees only
the artifact plus a stand-in for the runtime's boto3; built for Lambda it holds only aarch64 /
CPython 3.12 binaries. Wheels come from PyPI through pip's cache (~/.cache/pip).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from packaging.requirements import Requirement

if TYPE_CHECKING:
    from importlib.metadata import Distribution

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "package_lambda.py"
REQUIREMENTS = ROOT / "requirements-lambda.txt"
# Lambda's deployment package limit (unzipped, including layers).
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _closure(name: str) -> list[Distribution]:
    """`name` and everything it requires (unconditionally) in this environment."""
    seen: dict[str, Distribution] = {}
    todo = [name]
    while todo:
        dist = distribution(todo.pop())
        key = dist.metadata["Name"].lower()
        if key in seen:
            continue
        seen[key] = dist
        for raw in dist.requires or []:
            req = Requirement(raw)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return list(seen.values())


def _runtime_stand_in(destination: Path) -> Path:
    """A /var/runtime look-alike: boto3 and its dependencies, linked from this environment."""
    destination.mkdir()
    for dist in _closure("boto3"):
        tops = {
            Path(str(f)).parts[0]
            for f in dist.files or []
            if not str(f).startswith("..") and ".dist-info" not in str(f)
        }
        for top in tops:
            source = Path(str(dist.locate_file(top)))
            link = destination / top
            if source.exists() and not link.exists() and top not in {"bin", "__pycache__"}:
                link.symlink_to(source)
    return destination


def _package(*args: str) -> None:
    subprocess.run([sys.executable, str(SCRIPT), *args], check=True, cwd=ROOT)


# Run in `python -I -S`: no site-packages, no PYTHON* variables, no user site; only the stdlib, the
# artifact (as /var/task) and the runtime stand-in (as /var/runtime) are importable.
_IMPORT_EVERYTHING = """
import importlib, json, pkgutil, sys
task, runtime = sys.argv[1], sys.argv[2]
sys.path[:0] = [task, runtime]
import loader.handler
assert callable(loader.handler.handler)
modules = []
for package in ("loader", "config"):
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, package + "."):
        importlib.import_module(info.name)
        modules.append(info.name)
origins = {}
for name in ("loader", "config", "pydantic", "pydantic_core", "psycopg2", "tenacity",
             "aws_lambda_powertools", "boto3"):
    origins[name] = importlib.import_module(name).__file__
print(json.dumps({"modules": modules, "origins": origins}))
"""


def test_host_build_imports_the_handler_in_a_clean_interpreter(tmp_path: Path) -> None:
    # Given the project, when it is packaged for this interpreter (same code path as the Lambda
    # build, only the wheel platform differs)
    artifact = tmp_path / "task"
    started = time.monotonic()
    _package("--output", str(artifact), "--host")
    elapsed = time.monotonic() - started
    size = _size(artifact)
    print(f"\nhost artifact: {size / 1e6:.1f} MB unzipped, built in {elapsed:.1f} s")

    # then it carries the code and the pinned dependencies, but not boto3 (the runtime's)
    for top in (
        "loader",
        "config",
        "pydantic",
        "pydantic_core",
        "psycopg2",
        "tenacity",
        "aws_lambda_powertools",
    ):
        assert (artifact / top).is_dir(), f"{top} missing from the artifact"
    assert not (artifact / "boto3").exists()
    assert not (artifact / "botocore").exists()
    # with bytecode for the interpreter it was built for, checked by hash (read-only /var/task)
    tag = sys.implementation.cache_tag
    compiled = artifact / "loader" / "__pycache__" / f"handler.{tag}.pyc"
    assert compiled.is_file()
    assert compiled.read_bytes()[4:8] == (1).to_bytes(4, "little")  # PEP 552: unchecked hash
    assert size < LAMBDA_UNZIPPED_LIMIT

    # and every module of loader/ and config/ imports with only the artifact and boto3 visible
    runtime = _runtime_stand_in(tmp_path / "runtime")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _IMPORT_EVERYTHING, str(artifact), str(runtime)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert "loader.handler" in report["modules"]
    for name, origin in report["origins"].items():
        expected = runtime if name == "boto3" else artifact
        assert origin.startswith(str(expected)), f"{name} imported from {origin}"


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_sam_build_target_produces_a_lambda_arm64_cp312_artifact(tmp_path: Path) -> None:
    # Given the target `sam build` runs (build.mk, included by the Makefile), when it runs with
    # SAM's ARTIFACTS_DIR
    artifacts = tmp_path / "LoaderFunction"
    subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-f",
            str(ROOT / "build.mk"),
            "build-LoaderFunction",
            f"ARTIFACTS_DIR={artifacts}",
            f"LAMBDA_PYTHON={sys.executable}",
        ],
        check=True,
        cwd=tmp_path,
    )
    size = _size(artifacts)
    print(f"\nLambda artifact (arm64, cp312): {size / 1e6:.1f} MB unzipped")

    # then its native extensions are all CPython 3.12 on aarch64 Linux (what the function runs)
    extensions = [p.name for p in artifacts.rglob("*.so") if "cpython" in p.name]
    assert any(name.startswith("_psycopg.") for name in extensions)
    assert any(name.startswith("_pydantic_core.") for name in extensions)
    assert all(name.endswith("cpython-312-aarch64-linux-gnu.so") for name in extensions), extensions
    assert (artifacts / "loader" / "handler.py").is_file()
    assert size < LAMBDA_UNZIPPED_LIMIT
    # and bytecode the runtime loads (cpython-312), made by a Python 3.12 of this machine
    assert (artifacts / "loader" / "__pycache__" / "handler.cpython-312.pyc").is_file()
    assert (artifacts / "pydantic" / "__pycache__" / "main.cpython-312.pyc").is_file()


def test_requirements_pin_every_runtime_dependency_of_the_project() -> None:
    # Given the project's declared runtime dependencies (pyproject) and the Lambda requirements
    pins = {}
    for line in REQUIREMENTS.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            req = Requirement(line)
            pins[req.name.lower()] = req
    # then each one is pinned exactly, except boto3 which the runtime provides
    for name in ("pydantic", "psycopg2-binary", "tenacity", "aws-lambda-powertools"):
        assert name in pins, f"{name} missing from requirements-lambda.txt"
        (spec,) = pins[name].specifier
        assert spec.operator == "==", f"{name} is not pinned exactly"
        # and the pin is what the test environment runs, so tests exercise the deployed versions
        try:
            installed = distribution(name).version
        except PackageNotFoundError:
            continue
        assert installed == spec.version, f"{name}: tests use {installed}, Lambda {spec.version}"
    assert "boto3" not in pins and "botocore" not in pins


def test_building_the_project_prints_no_deprecation_warning(tmp_path: Path) -> None:
    """`pip install` of the project once printed four setuptools warnings (the license table)."""
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-w", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    assert "deprecat" not in (built.stdout + built.stderr).lower()
