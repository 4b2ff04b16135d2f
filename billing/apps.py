"""Plans, subscriptions, seats, usage, invoices and payment-provider webhooks."""
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Billing")

    def ready(self) -> None:
        from billing import subscriptions
        from support import plan_limits

        # Billing answers what a tenant's plan allows; the rest of the product asks support.plan_limits.
        plan_limits.use(subscriptions)
