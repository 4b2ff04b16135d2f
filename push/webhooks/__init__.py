"""Signed webhooks: tenants' endpoints, deliveries with retries, and the outbound-HTTP guard."""
