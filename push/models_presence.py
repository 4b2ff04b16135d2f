"""Agent presence keeps no tables: live connections live in Redis or process memory (push/presence_store.py).

Availability (available/away), the only durable part, is ``support.Membership.availability``.
"""
