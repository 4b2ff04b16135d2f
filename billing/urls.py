"""Billing pages and payment-provider webhooks (/billing/)."""
urlpatterns: list = []
