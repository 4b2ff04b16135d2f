"""Admin pages of delivery: webhook endpoints and deliveries (tenant-scoped; the outbox's own pages
are the events core's, ``support/events/admin.py``)."""
from push import admin_webhooks  # noqa: F401
