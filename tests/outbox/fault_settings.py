"""Settings for the fault tests' separate database: the project settings, with migrations
generated into a temporary package (OUTBOX_FAULT_MIGRATIONS) when the committed ones lag behind
the models. Never used outside tests."""
import os

from config.settings import *  # noqa: F403

_package = os.environ.get("OUTBOX_FAULT_MIGRATIONS")
if _package:
    MIGRATION_MODULES = {app: f"{_package}.{app}" for app in ("support", "events", "push", "billing", "frontend")}
