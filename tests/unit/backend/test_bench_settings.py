"""`tanhui bench --setting NAME=VALUE`: settings for the platform's processes, checked up front."""

from __future__ import annotations

import pytest

from backend.bench.errors import BadOptions
from backend.bench.run import BenchOptions, platform_settings


def test_a_setting_becomes_its_environment_variable() -> None:
    env = platform_settings(["settle_linger_ms=250", "SETTLE_BATCH=1000"])
    assert env == {"TANHUI_SETTLE_LINGER_MS": "250", "TANHUI_SETTLE_BATCH": "1000"}


@pytest.mark.parametrize(
    ("pair", "says"),
    [
        ("no_such_setting=1", "NAME=VALUE"),
        ("settle_linger_ms", "NAME=VALUE"),
        ("database_url=postgresql://elsewhere/db", "sets this one itself"),
        ("settle_partitions=16", "sets this one itself"),
        ("settle_linger_ms=5000", "less than or equal"),  # the setting's own bound (≤ 1000)
        ("settle_linger_ms=soon", "integer"),
    ],
)
def test_a_bad_setting_is_refused_before_anything_starts(pair: str, says: str) -> None:
    with pytest.raises(BadOptions, match=says):
        BenchOptions(settings=(pair,))


def test_no_settings_is_the_default() -> None:
    assert BenchOptions().settings == () and platform_settings([]) == {}
