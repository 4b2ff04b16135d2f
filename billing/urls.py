"""Billing pages and payment-provider webhooks (/billing/)."""
from django.urls import path

from billing import views

app_name = "billing"
urlpatterns = [
    path("", views.billing_page, name="page"),
    path("plan", views.change_plan, name="change-plan"),
    path("portal", views.customer_portal, name="portal"),
    path("invoices/<str:public_id>/", views.invoice_html, name="invoice"),
    path("invoices/<str:public_id>.pdf", views.invoice_pdf_view, name="invoice-pdf"),
    path("stripe/webhook", views.stripe_webhook, name="stripe-webhook"),
]
