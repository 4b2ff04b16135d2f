"""Offline notifications: visitor digests, agent web push with email fallback, offline-conversation emails."""
