"""The two inbound email routes: an SMTP listener (``manage.py inbound_smtp``) and ``POST
/inbound/email``. Both hand raw bytes to ``support.services.inbound_email`` (docs/email.md)."""
