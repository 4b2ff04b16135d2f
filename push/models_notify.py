"""Offline notifications: web push subscriptions and digest bookkeeping."""
