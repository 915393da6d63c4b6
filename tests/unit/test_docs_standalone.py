"""The project stands alone: nothing in it points at material users do not have."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEXT = {".md", ".py", ".yaml", ".yml", ".toml", ".txt", ".json", ".cfg", ""}
SKIP = {".venv", ".git", "build", ".aws-sam", ".pytest_cache", ".ruff_cache", ".mypy_cache"}


def project_files() -> list[Path]:
    return [
        path
        for path in ROOT.rglob("*")
        if path.is_file()
        and path.suffix in TEXT
        and not SKIP & set(path.relative_to(ROOT).parts)
        and path != Path(__file__)
    ]


def test_no_project_file_points_outside_the_repository() -> None:
    outside = ["/work/shared", "../shared/", "/work/.library"]
    offenders = [
        f"{path.relative_to(ROOT)}: {needle}"
        for path in project_files()
        for needle in outside
        if needle in path.read_text(errors="ignore")
    ]
    assert offenders == []
