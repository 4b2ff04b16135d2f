"""Fixtures for auto-assignment tests: a fresh presence store and helpers to bring agents online."""
from __future__ import annotations

import pytest

from push import presence
from tests.fresh_presence import presence_store  # noqa: F401 - autouse fixture


@pytest.fixture
def online():
    """online(member) opens a socket for the agent, so presence says they are online."""

    def bring_online(*members) -> None:
        for member in members:
            presence.connection_opened(
                tenant_id=member.tenant_id, kind="agent", subject_id=member.pk,
                connection_id=f"test-{member.pk}", transport="ws",
            )

    return bring_online
