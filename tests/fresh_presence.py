"""A fresh in-process presence store for every test of a folder: import ``presence_store`` into its
conftest (``from tests.fresh_presence import presence_store  # noqa: F401 - autouse fixture``)."""
from __future__ import annotations

import pytest

from push.presence_store import MemoryStore, set_store


@pytest.fixture(autouse=True)
def presence_store():
    """A fresh in-process presence store: nobody is connected unless a test connects them."""
    store = MemoryStore()
    set_store(store)
    yield store
    set_store(None)
