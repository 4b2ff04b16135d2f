"""The plans, defined in one place. Money is ``Decimal`` in the plan's currency, never float."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from support.plan_limits import API, LONG_HISTORY, REMOVE_BRANDING, WEBHOOKS


@dataclass(frozen=True)
class Plan:
    code: str
    name: str
    price_per_seat: Decimal  # per seat per month
    included_seats: int  # seats the base price already covers (free seats)
    max_seats: int | None  # None: as many as paid for
    conversation_quota: int | None  # per billing period; None: unlimited
    # What happens past the quota: "offline" — new chats degrade to the widget's offline form;
    # "overage" — chats go on and each one over is billed at overage_price.
    over_quota: str
    overage_price: Decimal
    features: frozenset[str]
    history_days: int | None
    api_requests_per_minute: int

    def allows(self, feature: str) -> bool:
        return feature in self.features


FREE = Plan(
    code="free", name="Free", price_per_seat=Decimal("0.00"), included_seats=2, max_seats=2,
    conversation_quota=100, over_quota="offline", overage_price=Decimal("0.00"),
    features=frozenset(), history_days=30, api_requests_per_minute=0,
)
STARTER = Plan(
    code="starter", name="Starter", price_per_seat=Decimal("15.00"), included_seats=0, max_seats=None,
    conversation_quota=1000, over_quota="overage", overage_price=Decimal("0.05"),
    features=frozenset({API, WEBHOOKS}), history_days=365, api_requests_per_minute=120,
)
PRO = Plan(
    code="pro", name="Pro", price_per_seat=Decimal("39.00"), included_seats=0, max_seats=None,
    conversation_quota=None, over_quota="overage", overage_price=Decimal("0.00"),
    features=frozenset({API, WEBHOOKS, REMOVE_BRANDING, LONG_HISTORY}), history_days=None,
    api_requests_per_minute=600,
)
PLANS: dict[str, Plan] = {p.code: p for p in (FREE, STARTER, PRO)}
# A trial has Pro's features with a few seats, so a new tenant can try everything.
TRIAL_PLAN = PRO
TRIAL_SEATS = 5
CURRENCY = "EUR"


def stripe_unit_amount(plan: Plan) -> int:
    """The plan's price per seat in Stripe's integer minor units (cents), exactly."""
    cents = plan.price_per_seat * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"{plan.name}'s price {plan.price_per_seat} is not a whole number of cents")
    return int(cents)


def get_plan(code: str) -> Plan:
    try:
        return PLANS[code]
    except KeyError:
        raise ValueError(f"Unknown plan {code!r}") from None
