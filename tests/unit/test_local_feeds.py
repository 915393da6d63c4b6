"""Local mode's watched folders load what the banner announces, and nothing else."""

from __future__ import annotations

import pytest

from config.models import PrefixConfig
from loader.decisions import passes_filter
from setup_cli.local.samples import FEEDS, prefix_config

TARGET = {"type": "postgres", "name": "local", "dsn": "host=x", "sslmode": "disable"}


def config(feed_index: int) -> PrefixConfig:
    raw = prefix_config(
        FEEDS[feed_index],
        bucket="landing",
        manifest_bucket="manifests",
        target=TARGET,
        age_seconds=5,
        topics={},
    )
    return PrefixConfig.model_validate(raw)


@pytest.mark.parametrize("index", range(len(FEEDS)))
def test_each_feed_loads_its_announced_suffixes_only(index: int) -> None:
    feed, checked = FEEDS[index], config(index)
    for suffix in feed.suffixes:
        assert passes_filter(checked, f"{feed.folder}/part-1{suffix}")
        assert passes_filter(checked, f"{feed.folder}/PART-1{suffix.upper()}")
    assert not passes_filter(checked, f"{feed.folder}/notes.txt")
