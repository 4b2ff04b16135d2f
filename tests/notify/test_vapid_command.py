"""`manage.py generate_vapid_keys` prints a pair that pywebpush/py-vapid accept and that match."""
from __future__ import annotations

import base64
from io import StringIO

from cryptography.hazmat.primitives import serialization
from django.core.management import call_command
from py_vapid import Vapid


def test_generated_keys_are_a_usable_matching_pair():
    out = StringIO()
    call_command("generate_vapid_keys", stdout=out, stderr=StringIO())
    values = dict(line.split("=", 1) for line in out.getvalue().split())
    public, private = values["VAPID_PUBLIC_KEY"], values["VAPID_PRIVATE_KEY"]
    vapid = Vapid.from_string(private_key=private)  # what pywebpush does with the setting
    derived = vapid.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    assert base64.urlsafe_b64decode(public + "=" * (-len(public) % 4)) == derived
    assert len(derived) == 65 and derived[0] == 4
