"""What an operator sees of a running process: ``/metrics`` (metrics.py), ``/healthz`` and ``/readyz``
(health.py), and logs that name their request, connection and tenant (logs.py). docs/operations.md,
"Observability", is the reference.
"""
