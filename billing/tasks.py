"""Celery beat tasks of billing: closing periods and dunning."""
from __future__ import annotations

from celery import shared_task

from billing.dunning import dunning_sweep
from billing.invoicing import close_due_periods


@shared_task(name="billing.close_due_periods")
def close_due_periods_task() -> int:
    return close_due_periods()


@shared_task(name="billing.dunning_sweep")
def dunning_sweep_task() -> int:
    return dunning_sweep()
