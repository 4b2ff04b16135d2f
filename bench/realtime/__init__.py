"""Realtime benchmark and the multi-process harness it shares with tests/multiprocess."""
