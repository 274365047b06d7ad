"""Platform choice by size, and a clear error for an unknown platform."""

from __future__ import annotations

import pytest

from costeer.engine.platforms import REFERENCE_MAX_ATOMS, available_platforms, choose_platform


def test_small_systems_run_on_reference() -> None:
    assert choose_platform(65).getName() == "Reference"


def test_large_systems_avoid_reference_when_possible() -> None:
    name = choose_platform(REFERENCE_MAX_ATOMS + 1).getName()
    if len(available_platforms()) > 1:
        assert name != "Reference"


def test_requested_overrides_any_case() -> None:
    assert choose_platform(100_000, requested="reference").getName() == "Reference"


def test_unknown_platform_lists_available() -> None:
    with pytest.raises(ValueError, match="Reference") as raised:
        choose_platform(65, requested="NoSuchPlatform")
    assert "NoSuchPlatform" in str(raised.value)
