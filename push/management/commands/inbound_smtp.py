"""Run the inbound SMTP listener (the ``mail`` process in Procfile; docs/email.md)."""
from __future__ import annotations

import asyncio
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from push.inbound_mail.smtp import serve


class Command(BaseCommand):
    help = "Receive email for <tenant-slug>@INBOUND_EMAIL_DOMAIN over SMTP (aiosmtpd)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=2525)

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.INBOUND_EMAIL_DOMAIN:
            raise CommandError("Set INBOUND_EMAIL_DOMAIN first: it names the addresses this listener serves.")
        asyncio.run(serve(host=options["host"], port=options["port"]))
