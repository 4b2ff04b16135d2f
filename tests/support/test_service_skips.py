"""A test that skips because PostgreSQL or Redis is missing must carry that service's marker, or
CI (CI_REQUIRE_SERVICES=1, .ci/run) cannot turn its skip into a failure (issue 10)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import skip_without_service

TESTS = Path(__file__).resolve().parents[1]


class Node:
    nodeid = "tests/example.py::test_example"

    def __init__(self, *markers: str) -> None:
        self.markers = markers

    def get_closest_marker(self, name: str) -> object | None:
        return name if name in self.markers else None


def test_a_service_skip_in_an_unmarked_test_fails():
    with pytest.raises(pytest.fail.Exception, match=r"not marked @pytest.mark.postgres"):
        skip_without_service(Node("redis"), service="postgres", reason="needs PostgreSQL")


def test_a_service_skip_in_a_marked_test_skips():
    with pytest.raises(pytest.skip.Exception, match="needs Redis"):
        skip_without_service(Node("redis"), service="redis", reason="needs Redis")


def test_service_skips_go_through_the_marker_check():
    """A bare pytest.skip for a missing service would bypass the check above."""
    service = re.compile(r"PostgreSQL|Redis|DATABASE_URL|REDIS_URL|postgres", re.IGNORECASE)
    bare = []
    for path in sorted(TESTS.rglob("*.py")):
        text = path.read_text()
        for match in re.finditer(r"pytest\.skip\((?P<reason>[^)]*)\)", text):
            if service.search(match["reason"]):
                line = text.count("\n", 0, match.start()) + 1
                bare.append(f"{path.relative_to(TESTS.parent)}:{line}")
    assert not bare, f"Use tests.conftest.skip_without_service (it checks the marker) instead of pytest.skip: {bare}"
