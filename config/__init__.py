"""Prefix configuration: pydantic models validated at every boundary (CLI, loader, import)."""

from config.models import (
    ManifestLocation,
    Notifications,
    PrefixConfig,
    ReuploadPolicy,
    Thresholds,
)

__all__ = ["ManifestLocation", "Notifications", "PrefixConfig", "ReuploadPolicy", "Thresholds"]
