"""The one fixed-window counter (support/rate_limits.py) at its window's edges, and the limits
built on it: the sliding estimate and the API's per-token window."""
from __future__ import annotations

import uuid

import pytest

from support.rate_limits import FixedWindow, count_hit, is_within


@pytest.mark.parametrize(("now", "index", "remaining", "overlap"), [
    (60_000.0, 1000, 60.0, 1.0),  # the first instant of a window: all of the previous one overlaps
    (60_030.0, 1000, 30.0, 0.5),
    (60_059.75, 1000, 0.25, 0.25 / 60),  # its last moment
    (60_060.0, 1001, 60.0, 1.0),  # the edge belongs to the next window
])
def test_a_window_is_aligned_and_knows_its_neighbour(now, index, remaining, overlap):
    window = FixedWindow.at("rl:t:x:s", seconds=60, now=now)
    assert (window.key, window.previous_key) == (f"rl:t:x:s:{index}", f"rl:t:x:s:{index - 1}")
    assert window.remaining == pytest.approx(remaining)
    assert window.overlap == pytest.approx(overlap)
    assert window.timeout == 121  # kept until it has served as the previous window


def test_hits_count_per_window_and_carry_over_as_the_previous_one():
    base = f"rl:{uuid.uuid4().hex}:edge:s"
    last_moment, edge = FixedWindow.at(base, seconds=10, now=99.999), FixedWindow.at(base, seconds=10, now=100.0)
    assert [count_hit(last_moment) for _ in range(3)] == [(1, 0), (2, 0), (3, 0)]
    assert count_hit(edge) == (1, 3), "a new count at the edge, the old one read as the previous window"
    assert count_hit(FixedWindow.at(base, seconds=10, now=125.0)) == (1, 0), "two windows on, nothing carries"


def test_the_sliding_estimate_weighs_the_previous_window_by_its_overlap():
    window = FixedWindow.at("k", seconds=60, now=60_045.0)  # a quarter of the previous window still overlaps
    assert is_within(window, 2, 4, limit=3)  # 2 + 4 * 0.25 = 3
    assert not is_within(window, 3, 4, limit=3)
    assert not is_within(window, 4, 0, limit=3)


def test_windows_of_other_lengths_and_bases_never_share_a_counter():
    base = f"rl:{uuid.uuid4().hex}:a:s"
    assert count_hit(FixedWindow.at(base, seconds=60, now=120.0)) == (1, 0)
    assert count_hit(FixedWindow.at(base + "x", seconds=60, now=120.0)) == (1, 0)
    assert FixedWindow.at(base, seconds=3600, now=120.0).key == f"{base}:0"


def test_a_counter_not_aligned_to_the_clock_is_kept_after_its_latest_hit(monkeypatch):
    """``count`` (sign-in throttling's): each hit counts one more and keeps the key ``timeout`` more seconds."""
    from django.core.cache import cache

    from support.rate_limits import count

    key = f"rl:{uuid.uuid4().hex}:delay"
    assert [count(key, timeout=3600) for _ in range(3)] == [1, 2, 3]
    assert cache.get(key) == 3  # the cache API reads the same counter
    cache.delete(key)
    assert count(key, timeout=3600) == 1
