"""Agent presence: live connections with heartbeats."""
