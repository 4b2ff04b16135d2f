"""Settings for the browser tests' live server: the embedded default, with the schema built from
the models (like the test suite's ``--nomigrations``) so it never waits for regenerated migrations."""
from bench.scratch_schema import NoMigrations
from config.settings import *  # noqa: F403

MIGRATION_MODULES = NoMigrations()
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Every browser context comes from 127.0.0.1, and the suite opens the widget (a bootstrap each, more
# with reloads) far more often than the per-IP limit of one real network address allows: lift it so
# the limit doesn't decide which test fails. The limits themselves are tested in tests/realtime.
RT_IP_BOOTSTRAPS_PER_MINUTE = 100_000
RT_IP_SENDS_PER_MINUTE = 100_000
RT_IP_POLLS_PER_MINUTE = 100_000
# The tests' scripted agent socket sends twenty replies in one burst, far faster than a person; the
# per-socket frame budget (5/s, burst 20) would refuse the last ones depending on how fast the server is.
RT_FRAMES_PER_SECOND = 1_000
RT_FRAME_BURST = 1_000

# Webhook endpoints on this machine (the settings test's receiver on 127.0.0.1); production refuses them.
WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
