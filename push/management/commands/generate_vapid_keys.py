"""Print a new VAPID key pair for web push, as the two environment variables to set."""
from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import serialization
from django.core.management.base import BaseCommand
from py_vapid import Vapid01
from py_vapid.utils import b64urlencode


class Command(BaseCommand):
    help = "Generate a VAPID key pair for web push and print VAPID_PUBLIC_KEY / VAPID_PRIVATE_KEY."

    def handle(self, *args: Any, **options: Any) -> None:
        vapid = Vapid01()
        vapid.generate_keys()
        private_raw = vapid.private_key.private_numbers().private_value.to_bytes(32, "big")
        public_raw = vapid.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.stdout.write(f"VAPID_PUBLIC_KEY={b64urlencode(public_raw)}")
        self.stdout.write(f"VAPID_PRIVATE_KEY={b64urlencode(private_raw)}")
        self.stderr.write(
            "Set both in the environment of the web and worker processes. Changing the pair later "
            "invalidates every browser subscription (agents are asked to allow notifications again)."
        )
