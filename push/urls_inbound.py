"""Inbound email over HTTP (/inbound/): a mail provider's webhook posts raw MIME here."""
from django.urls import path

from push.inbound_mail import views

app_name = "inbound"

urlpatterns = [
    path("email", views.inbound_email, name="email"),
]
