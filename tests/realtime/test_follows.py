"""``Follows``: every way of changing a session's follows tells the socket to re-read its groups."""
from __future__ import annotations

from collections.abc import Callable

import pytest

from push.protocol.delivery import Follow, Follows


def _follow(pk: int) -> Follow:
    return Follow(f"cv_{pk}", pk, 0, 0)


@pytest.mark.parametrize("change", [
    lambda f: f.__setitem__(3, _follow(3)),
    lambda f: f.__delitem__(1),
    lambda f: f.setdefault(3, _follow(3)),
    lambda f: f.pop(1),
    lambda f: f.pop(9, None),
    lambda f: f.popitem(),
    lambda f: f.update({3: _follow(3)}),
    lambda f: f.clear(),
    lambda f: f.__ior__({3: _follow(3)}),
])
def test_every_change_sets_changed(change: Callable[[Follows], object]) -> None:
    follows = Follows()
    assert follows.changed  # a new session has groups to join
    follows[1] = _follow(1)
    follows.changed = False
    change(follows)
    assert follows.changed


def test_reading_leaves_changed_alone() -> None:
    follows = Follows()
    follows[1] = _follow(1)
    follows.changed = False
    assert follows.get(1) is follows[1] and list(follows) == [1] and len(follows.values()) == 1 and 2 not in follows
    assert not follows.changed
