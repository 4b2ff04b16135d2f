"""Opaque ids: prefixed, of their length, from their alphabet, and every character drawn."""
from __future__ import annotations

from collections import Counter

from support.ids import _ALPHABET, opaque_id


def test_an_id_is_its_prefix_and_length_characters_of_the_alphabet():
    ids = [opaque_id("msg") for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for value in ids:
        prefix, rest = value.split("_")
        assert prefix == "msg" and len(rest) == 20 and set(rest) <= set(_ALPHABET)
    assert len(opaque_id("x", length=5)) == len("x_") + 5


def test_every_position_draws_from_the_whole_alphabet():
    """One random number per id, written in base 36: no position is stuck (a leading digit that
    could only be small, say) and no character is favoured."""
    ids = [opaque_id("a")[2:] for _ in range(3000)]
    for position in (0, 10, 19):
        assert set(value[position] for value in ids) == set(_ALPHABET)
    counts = Counter("".join(ids))
    expected = 3000 * 20 / len(_ALPHABET)
    assert all(0.85 * expected < counts[c] < 1.15 * expected for c in _ALPHABET), counts
