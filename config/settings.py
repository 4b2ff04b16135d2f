"""The one settings module, driven by environment variables.

With no variables set this is the *embedded default*: SQLite, an in-process wake-up bus,
a local-memory cache and Celery tasks run by an in-process worker, so that one command runs the
whole product. Setting DATABASE_URL / REDIS_URL / SECRET_KEY switches to the production stack.
Every variable is documented in README.md.
"""
from __future__ import annotations

import ipaddress
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("SWITCHBOARD_VAR_DIR", str(BASE_DIR / "var")))

_secret = env_str("SECRET_KEY")
EMBEDDED = not _secret
DEBUG = env_bool("DEBUG", default=EMBEDDED)
if not _secret and not DEBUG:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
# The embedded default is for one machine and demos only; its key is public on purpose.
SECRET_KEY = _secret or "embedded-default-insecure-key-do-not-use-in-production-0123456789"
# Earlier secrets, still accepted after a rotation (comma-separated; docs/operations.md, "Rotating SECRET_KEY").
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# The public base URL (no trailing slash): links in emails, the widget snippet, and one of the
# site's own origins for the sockets and long-poll.
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "support.admin_site.SwitchboardAdminConfig",  # django.contrib.admin with the tenant-aware site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    # Not "rest_framework": the API renders JSON only, and an installed DRF adds its template tags
    # (its browsable API's renderers and serializers, ~7 MB) to every node's first template render
    # and to the system checks, which `manage.py serve` runs in each serving process.
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI / ReDoc assets served from our static files, not a CDN
    "support",
    "support.events",  # the events core: outbox, handler registry, dispatcher, wake-ups after commit
    "push",
    "billing",
    "frontend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "support.middleware.TenantScopeMiddleware",
]
if DEBUG:
    # The product's own error pages for everyone but platform staff, also in the embedded default.
    MIDDLEWARE.append("support.error_pages.UserErrorPagesMiddleware")

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "support.language.html_lang",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
# PostgreSQL connections come from a pool per process (psycopg_pool, Django's OPTIONS["pool"]).
# Under ASGI every request and every socket's database call may run on another thread, so
# per-thread persistent connections (CONN_MAX_AGE > 0) pile up until garbage collection, and
# CONN_MAX_AGE = 0 would open a new connection for each call; a pool does neither.
DB_POOL_MAX_SIZE = env_int("DB_POOL_MAX_SIZE", 20, minimum=0)
if DATABASE_URL:
    _conn_max_age = env_int("DB_CONN_MAX_AGE", 0, minimum=0)
    DATABASES = {
        "default": dj_database_url.parse(DATABASE_URL, conn_max_age=_conn_max_age, conn_health_checks=True)
    }
    if DATABASES["default"]["ENGINE"].endswith("postgresql") and DB_POOL_MAX_SIZE:
        if _conn_max_age:
            raise ImproperlyConfigured(
                "DB_CONN_MAX_AGE and the connection pool exclude each other: set DB_POOL_MAX_SIZE=0 to use "
                "persistent per-thread connections instead of the pool"
            )
        # No check on checkout (Django passes the pool a check only with CONN_HEALTH_CHECKS): a
        # round trip per borrowed connection would cost every database call on the realtime path.
        # A connection broken meanwhile (PostgreSQL restarted) fails the call that gets it, and the
        # pool discards it when it comes back in a bad state.
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": min(env_int("DB_POOL_MIN_SIZE", 2, minimum=0), DB_POOL_MAX_SIZE),
            "max_size": DB_POOL_MAX_SIZE,
            # Waiting longer than this for a free connection fails the request instead of piling up.
            "timeout": env_int("DB_POOL_TIMEOUT", 10, minimum=1),
        }
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "switchboard.sqlite3"),
            # IMMEDIATE takes the write lock at BEGIN, so two writers queue instead of one failing
            # with "database is locked" half-way through; WAL lets readers go on meanwhile.
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
if env_str("TEST_DATABASE_NAME"):
    # Lets several test runs share one PostgreSQL server without clobbering each other.
    DATABASES["default"]["TEST"] = {"NAME": env_str("TEST_DATABASE_NAME")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")

# --- Redis: wake-up bus, cache, Celery broker --------------------------------------------
REDIS_URL = env_str("REDIS_URL")
REDIS_PREFIX = env_str("REDIS_PREFIX", "sb")

# The wake-up bus (push/hub.py): Redis pub/sub, groups sharded over these URLs by consistent
# hashing (every process must list the same URLs in the same order); none → in-process.
REALTIME_BUS_URLS = env_list("REALTIME_BUS_URLS", [REDIS_URL] if REDIS_URL else [])
REALTIME_BUS_PREFIX = f"{REDIS_PREFIX}:bus"
# Presence (tenants) and the cache (keys) shard over the same servers unless told otherwise
# (support/sharding.py; docs/operations.md, "Two Redis servers").
PRESENCE_REDIS_URLS = env_list("PRESENCE_REDIS_URLS", REALTIME_BUS_URLS) if REDIS_URL else []
CACHE_REDIS_URLS = env_list("CACHE_REDIS_URLS", REALTIME_BUS_URLS) if REDIS_URL else []
if REDIS_URL:
    _sharded_cache = len(CACHE_REDIS_URLS) > 1
    CACHES = {
        "default": {
            # Degrades per process while Redis is down; over several servers, per server.
            "BACKEND": "support.failsoft_cache." + ("ShardedFailSoftCache" if _sharded_cache else "FailSoftRedisCache"),
            "LOCATION": CACHE_REDIS_URLS if _sharded_cache else (CACHE_REDIS_URLS or [REDIS_URL])[0],
            "KEY_PREFIX": f"{REDIS_PREFIX}:cache",
            # A Redis that stops answering counts as down after this long, not never.
            "OPTIONS": {"socket_connect_timeout": 5, "socket_timeout": 5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# How long a process stays subscribed to a group after its last listener left it.
REALTIME_BUS_LINGER_SECONDS = env_int("REALTIME_BUS_LINGER_SECONDS", 30, minimum=0)

# --- Celery (at-least-once; see docs/operations.md) ----------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Task messages are only wake-ups (the outbox rows are the queue), so Redis must not make them
# visible again while a long countdown task waits: keep the visibility timeout above any countdown.
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=60),
    # The key prefix keeps several deployments (or test runs) on one Redis from taking each other's tasks.
    "global_keyprefix": f"{REDIS_PREFIX}:celery:",
    # The in-process broker is polled; the default 1 s poll would add a second to every kick.
    **({"polling_interval": 0.1} if CELERY_BROKER_URL.startswith("memory://") else {}),
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# With late acks a task in flight when the broker connection drops is redelivered; cancelling it
# avoids running it twice at the same time (Celery 5.x default changes to this in 6.0).
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_TASK_DEFAULT_QUEUE = "switchboard"
# The embedded default runs a Celery worker thread inside the server process (config/embedded_worker.py)
CELERY_EMBEDDED_WORKER = env_bool("CELERY_EMBEDDED_WORKER", default=not REDIS_URL)

# --- Auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "support.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/app/"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
INVITATION_TTL_HOURS = env_int("INVITATION_TTL_HOURS", 72, minimum=1)
# How often one invitation may be emailed again from the settings, per hour (its inbox is a stranger's).
INVITATION_RESENDS_PER_HOUR = env_int("INVITATION_RESENDS_PER_HOUR", 3, minimum=1)
# Failed sign-ins per client address, and per email from browsers that are not known devices
# of that account, in 15 minutes (support/sign_in_throttle.py).
LOGIN_ATTEMPTS_PER_15_MIN = env_int("LOGIN_ATTEMPTS_PER_15_MIN", 10, minimum=1)

# --- Outgoing email (notifications, invitations, invoices) ---------------------------------
EMAIL_HOST = env_str("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=True)
else:
    EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Switchboard <no-reply@switchboard.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Static and media -----------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media/"
ATTACHMENT_MAX_BYTES = env_int("ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024, minimum=1024)
# Uploads never sent in a message (row and file) are deleted by beat once this old.
ATTACHMENT_UNSENT_MAX_AGE_HOURS = env_int("ATTACHMENT_UNSENT_MAX_AGE_HOURS", 24, minimum=1)

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
# Django's gettext catalogs (makemessages/compilemessages; `make setup` compiles them): docs/i18n.md.
LOCALE_PATHS = [BASE_DIR / "locale"]
# The language switch also sets this cookie, so sign-in and other pages before sign-in keep the choice.
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Billing --------------------------------------------------------------------------------
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET")
STRIPE_API_BASE = env_str("STRIPE_API_BASE")  # tests only: a local stand-in for api.stripe.com
TRIAL_DAYS = env_int("TRIAL_DAYS", 14, minimum=0)

# --- Security (production) ------------------------------------------------------------------
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Probes and scrapes (config/observability/) come over plain HTTP from inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]

# --- Client addresses behind a load balancer (manage.py serve; docs/operations.md) -------------
# config.asgi believes X-Forwarded-For / X-Forwarded-Proto only from a TCP peer in this list
# (addresses or CIDR networks; "*" trusts every peer). Rate limits and sign-in throttling key on
# the address that results, so list exactly the proxies that can reach the nodes.
FORWARDED_ALLOW_IPS: list[str] = []
for _proxy in env_list("FORWARDED_ALLOW_IPS", ["127.0.0.1", "::1"]):
    try:
        # Networks are normalised (10.1.2.3/8 -> 10.0.0.0/8), as config/forwarded.py reads them.
        FORWARDED_ALLOW_IPS.append(
            _proxy if _proxy == "*" else str(ipaddress.ip_network(_proxy, strict=False)) if "/" in _proxy
            else str(ipaddress.ip_address(_proxy))
        )
    except ValueError:
        raise ImproperlyConfigured(
            f"FORWARDED_ALLOW_IPS must list IP addresses or networks (or be *), got {_proxy!r}"
        ) from None
if "*" in FORWARDED_ALLOW_IPS and len(FORWARDED_ALLOW_IPS) > 1:
    raise ImproperlyConfigured("FORWARDED_ALLOW_IPS is either * alone or a list of addresses and networks")

# --- Logs, metrics, probes (config/observability/; docs/operations.md, "Observability") -------
# "plain" (human-readable, the default) or "json": one object per line naming its request/task,
# realtime connection and tenant (config/observability/logs.py).
LOG_FORMAT = env_str("LOG_FORMAT", "plain").strip().lower()
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, got {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "config.observability.logs.ContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "config.observability.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context"]}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # SQL with its parameters (message bodies, tokens) is never logged, whatever LOG_LEVEL says.
    # Nor URLs of outgoing requests (httpx logs each at INFO): webhook URLs may carry the tenant's credentials.
    "loggers": {
        "django.db.backends": {"level": "WARNING"}, "httpx": {"level": "WARNING"},
        # Django's own handlers (DEFAULT_LOGGING: a bare console with DEBUG, mail to ADMINS without)
        # are dropped: its lines go through the one handler above, formatted and with their ids.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
    },
}
# Who may read /metrics: a scraper presenting this bearer token, or one connecting from these
# addresses/networks (REMOTE_ADDR, i.e. after FORWARDED_ALLOW_IPS). Both empty: nobody.
METRICS_TOKEN = env_str("METRICS_TOKEN")
METRICS_ALLOWED_IPS: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
for _network in env_list("METRICS_ALLOWED_IPS", ["127.0.0.1", "::1"]):
    try:
        METRICS_ALLOWED_IPS.append(ipaddress.ip_network(_network, strict=False))
    except ValueError:
        raise ImproperlyConfigured(
            f"METRICS_ALLOWED_IPS must list IP addresses or networks, got {_network!r}"
        ) from None
# prometheus_client's multiprocess mode: every web worker and Celery process of a host writes its
# samples here and /metrics sums them. Unset: each process exposes only its own (embedded default).
PROMETHEUS_MULTIPROC_DIR = env_str("PROMETHEUS_MULTIPROC_DIR")
if PROMETHEUS_MULTIPROC_DIR and not Path(PROMETHEUS_MULTIPROC_DIR).is_dir():
    raise ImproperlyConfigured(f"PROMETHEUS_MULTIPROC_DIR {PROMETHEUS_MULTIPROC_DIR!r} is not a directory")

# --- Notifications and webhooks (push/notifications, push/webhooks; docs/operations.md) ------
# Web push (VAPID; `manage.py generate_vapid_keys` makes a pair).
VAPID_PUBLIC_KEY = env_str("VAPID_PUBLIC_KEY")
VAPID_PRIVATE_KEY = env_str("VAPID_PRIVATE_KEY")
VAPID_SUBJECT = env_str("VAPID_SUBJECT", "mailto:ops@switchboard.localhost")
# A visitor's digest of unread agent replies goes out this long after the first of them.
VISITOR_DIGEST_DELAY_SECONDS = env_int("VISITOR_DIGEST_DELAY_SECONDS", 120, minimum=0)
# How long the "reopen the conversation" link in a digest keeps working.
CONVERSATION_LINK_MAX_AGE_DAYS = env_int("CONVERSATION_LINK_MAX_AGE_DAYS", 30, minimum=1)
WEBPUSH_TIMEOUT_SECONDS = env_int("WEBPUSH_TIMEOUT_SECONDS", 5, minimum=1)
# Push endpoints come from browsers: refuse http and private addresses like webhook targets
# (tests allow them; the host must still be in WEBPUSH_ALLOWED_HOSTS).
WEBPUSH_ALLOW_PRIVATE_ENDPOINTS = env_bool("WEBPUSH_ALLOW_PRIVATE_ENDPOINTS", default=False)
# The push services an endpoint may point to: a host name, or "*.name" for any host under name.
# Checked when a browser subscribes and again before every push (push/webpush.py).
WEBPUSH_ALLOWED_HOSTS = env_list("WEBPUSH_ALLOWED_HOSTS", [
    "fcm.googleapis.com",  # Chrome, Edge on Android, Samsung Internet, Opera
    "updates.push.services.mozilla.com",  # Firefox
    "*.notify.windows.com",  # Edge on Windows (WNS)
    "web.push.apple.com",  # Safari
    "*.push.apple.com",
])
for _entry in WEBPUSH_ALLOWED_HOSTS:
    if not _entry.removeprefix("*.") or "*" in _entry.removeprefix("*.") or "/" in _entry:
        raise ImproperlyConfigured(f"WEBPUSH_ALLOWED_HOSTS: {_entry!r} is not a host name or *.name")
# Targets at non-public addresses (push/webhooks/ssrf.py) are refused unless this is on (tests only).
WEBHOOKS_ALLOW_PRIVATE_TARGETS = env_bool("WEBHOOKS_ALLOW_PRIVATE_TARGETS", default=False)
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 5, minimum=1)
# Retries: base * 2**(attempt-1) seconds with ±20 % jitter, capped; ~14.5 h in all by default.
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 12, minimum=1)
WEBHOOK_RETRY_BASE_SECONDS = env_int("WEBHOOK_RETRY_BASE_SECONDS", 30, minimum=1)
WEBHOOK_RETRY_CAP_SECONDS = env_int("WEBHOOK_RETRY_CAP_SECONDS", 6 * 3600, minimum=1)
# An endpoint is disabled (and its owners emailed) once it has failed every attempt for this long
# and at least this many attempts in a row.
WEBHOOK_DISABLE_AFTER_HOURS = env_int("WEBHOOK_DISABLE_AFTER_HOURS", 24, minimum=1)
WEBHOOK_DISABLE_MIN_FAILURES = env_int("WEBHOOK_DISABLE_MIN_FAILURES", 10, minimum=1)
# Finished deliveries (with their attempts) stay in the log this long.
WEBHOOK_LOG_RETENTION_DAYS = env_int("WEBHOOK_LOG_RETENTION_DAYS", 30, minimum=1)
# Beat sweeps due webhook deliveries and visitor digests; after commits and retries a countdown
# task is queued as well, so these sweeps only catch what a lost task message would have missed.
NOTIFY_SWEEP_SECONDS = env_int("NOTIFY_SWEEP_SECONDS", 30, minimum=1)

# --- Email as a channel (support/services/inbound_email.py, push/email/; docs/email.md) ------
# Each tenant's support address is <slug>@INBOUND_EMAIL_DOMAIN; replies come back to
# reply+<token>@INBOUND_EMAIL_DOMAIN. Unset: the channel is off (no addresses, nothing emailed).
INBOUND_EMAIL_DOMAIN = env_str("INBOUND_EMAIL_DOMAIN").strip().lower()
# Shared secret of POST /inbound/email (HTTP Basic password or Bearer token); unset: the endpoint is off.
INBOUND_EMAIL_SECRET = env_str("INBOUND_EMAIL_SECRET")
# Largest raw message accepted (SMTP SIZE and DATA, HTTP body); larger ones are refused and their
# first this-many bytes kept for inspection.
# The full original is kept as an attachment, so it is at most ATTACHMENT_MAX_BYTES too.
INBOUND_EMAIL_MAX_BYTES = env_int("INBOUND_EMAIL_MAX_BYTES", ATTACHMENT_MAX_BYTES, minimum=64 * 1024)
if INBOUND_EMAIL_MAX_BYTES > ATTACHMENT_MAX_BYTES:
    raise ImproperlyConfigured(
        "INBOUND_EMAIL_MAX_BYTES must not exceed ATTACHMENT_MAX_BYTES (the original is kept as an attachment)"
    )
# New mails accepted per sender address and per tenant, per hour (over it: SMTP 451 / HTTP 429).
INBOUND_EMAIL_PER_SENDER_PER_HOUR = env_int("INBOUND_EMAIL_PER_SENDER_PER_HOUR", 30, minimum=1)
INBOUND_EMAIL_PER_TENANT_PER_HOUR = env_int("INBOUND_EMAIL_PER_TENANT_PER_HOUR", 1000, minimum=1)

# --- Presence and auto-assignment (push/presence.py, support/services/assignment.py) ---------
# Clients heartbeat this often; a connection not heard of for the TTL counts as gone (a crashed
# node's agents fade to offline within TTL + one sweep period).
PRESENCE_HEARTBEAT_SECONDS = env_int("PRESENCE_HEARTBEAT_SECONDS", 30, minimum=1)
PRESENCE_TTL_SECONDS = env_int("PRESENCE_TTL_SECONDS", 75, minimum=2)
if PRESENCE_TTL_SECONDS <= PRESENCE_HEARTBEAT_SECONDS:
    raise ImproperlyConfigured("PRESENCE_TTL_SECONDS must be longer than PRESENCE_HEARTBEAT_SECONDS")
PRESENCE_SWEEP_SECONDS = env_int("PRESENCE_SWEEP_SECONDS", 15, minimum=1)

# --- MQTT transport (push/mqtt/; docs/protocol.md "MQTT", docs/operations.md) ----------------
# The broker as the product's admin client sees it: mqtt://ADMIN:PASSWORD@HOST:PORT (Mosquitto 2 with
# the dynamic-security plugin). Empty: no MQTT (the credential endpoints answer 503).
MQTT_URL = env_str("MQTT_URL", "")
# Where apps connect, as told in their credentials (e.g. mqtts://chat.example.com:8883); default MQTT_URL's host.
MQTT_PUBLIC_URL = env_str("MQTT_PUBLIC_URL", "")
# Issued credentials stop working after this long (the app asks for new ones).
MQTT_CREDENTIALS_TTL_SECONDS = env_int("MQTT_CREDENTIALS_TTL_SECONDS", 24 * 3600, minimum=60)
# The keep-alive apps are told to use; the broker publishes their last will after 1.5x this of silence.
MQTT_KEEPALIVE_SECONDS = env_int("MQTT_KEEPALIVE_SECONDS", 60, minimum=5)

# --- Realtime (push/protocol/, push/consumers.py, push/longpoll.py; docs/protocol.md) --------
MESSAGE_MAX_CHARS = env_int("MESSAGE_MAX_CHARS", 10_000, minimum=100)
LONGPOLL_TIMEOUT_SECONDS = env_int("LONGPOLL_TIMEOUT_SECONDS", 25, minimum=1)
# A visitor token expires this long after it was issued; a widget bootstrap with a token more
# than a day old issues a fresh one (support/services/visitors.py).
VISITOR_TOKEN_MAX_AGE_DAYS = env_int("VISITOR_TOKEN_MAX_AGE_DAYS", 180, minimum=1)
# A visitor socket must send `hello` within this many seconds (else close 4408).
RT_HELLO_TIMEOUT_SECONDS = env_int("RT_HELLO_TIMEOUT_SECONDS", 10, minimum=1)
# Largest accepted frame. Big enough for a MESSAGE_MAX_CHARS body of \u-escaped CJK text.
RT_FRAME_MAX_BYTES = env_int("RT_FRAME_MAX_BYTES", 64 * 1024, minimum=1024)
# Frames larger than this are not even buffered: the WebSocket is closed with 1009 (uvicorn ws_max_size).
RT_WS_MAX_BYTES = max(env_int("RT_WS_MAX_BYTES", 1024 * 1024, minimum=1024), RT_FRAME_MAX_BYTES)
# Largest long-poll request body (several frames per request).
RT_LONGPOLL_BODY_MAX_BYTES = env_int("RT_LONGPOLL_BODY_MAX_BYTES", 256 * 1024, minimum=4096)
RT_LONGPOLL_FRAMES_MAX = env_int("RT_LONGPOLL_FRAMES_MAX", 20, minimum=1)
# Per-connection token bucket: sustained frames per second and burst; once throttled, this many
# more refused frames (refilled at one per second) and the socket is closed with 4429.
RT_FRAMES_PER_SECOND = env_int("RT_FRAMES_PER_SECOND", 5, minimum=1)
RT_FRAME_BURST = env_int("RT_FRAME_BURST", 20, minimum=1)
RT_FLOOD_STRIKES = env_int("RT_FLOOD_STRIKES", 20, minimum=1)
# At most one `typing {on: true}` per conversation per connection per this many seconds.
RT_TYPING_INTERVAL_SECONDS = env_int("RT_TYPING_INTERVAL_SECONDS", 2, minimum=1)
# Cache-counted limits across connections and transports (per minute; keys are tenant-prefixed).
RT_VISITOR_SENDS_PER_MINUTE = env_int("RT_VISITOR_SENDS_PER_MINUTE", 30, minimum=1)
RT_IP_SENDS_PER_MINUTE = env_int("RT_IP_SENDS_PER_MINUTE", 120, minimum=1)
RT_IP_BOOTSTRAPS_PER_MINUTE = env_int("RT_IP_BOOTSTRAPS_PER_MINUTE", 30, minimum=1)
RT_IP_POLLS_PER_MINUTE = env_int("RT_IP_POLLS_PER_MINUTE", 600, minimum=1)
# An agent socket gets its tenant's inbox changes at most once per this many milliseconds, the
# latest state of each conversation (push/inbox_feed.py). 0: a frame per change, as it comes.
RT_INBOX_COALESCE_MS = env_int("RT_INBOX_COALESCE_MS", 300, minimum=0)
# A process publishes a conversation's inbox row at most once per this many milliseconds (the first
# change after a quiet interval at once, the latest of the later ones at the interval's end;
# push/wakeups.py), so a busy conversation costs the bus one inbox wake-up per interval, not one per
# message. 0: every change as it comes. By default the receivers' interval, which then adds nothing
# to what an agent socket waits in a steady stream.
RT_INBOX_PUBLISH_MS = env_int("RT_INBOX_PUBLISH_MS", RT_INBOX_COALESCE_MS, minimum=0)

# --- Outbox dispatcher (support/events/dispatcher.py; docs/operations.md) -----------------------
# Beat sweeps the outbox this often: catches lost kicks and retries that came due.
OUTBOX_SWEEP_SECONDS = env_int("OUTBOX_SWEEP_SECONDS", 2, minimum=1)
OUTBOX_BATCH_SIZE = env_int("OUTBOX_BATCH_SIZE", 100, minimum=1)
# A claimed delivery not finished within its lease (renewed while its batch works) is re-taken.
OUTBOX_LEASE_SECONDS = env_int("OUTBOX_LEASE_SECONDS", 120, minimum=2)
# One dispatch task works at most this long, then queues a follow-up so other tasks get a turn.
OUTBOX_TASK_BUDGET_SECONDS = env_int("OUTBOX_TASK_BUDGET_SECONDS", 10, minimum=1)
OUTBOX_RETRY_BASE_SECONDS = env_int("OUTBOX_RETRY_BASE_SECONDS", 10, minimum=1)
OUTBOX_RETRY_MAX_SECONDS = env_int("OUTBOX_RETRY_MAX_SECONDS", 3600, minimum=1)
# For deliveries whose handler this process does not know (removed or not deployed here).
OUTBOX_DEFAULT_MAX_ATTEMPTS = env_int("OUTBOX_DEFAULT_MAX_ATTEMPTS", 8, minimum=1)
OUTBOX_RETENTION_DAYS = env_int("OUTBOX_RETENTION_DAYS", 7, minimum=1)
OUTBOX_DEAD_RETENTION_DAYS = env_int("OUTBOX_DEAD_RETENTION_DAYS", 30, minimum=1)
# Extra modules that register outbox handlers (test fixtures, plugins), comma-separated.
OUTBOX_EXTRA_HANDLER_MODULES = env_list("OUTBOX_EXTRA_HANDLER_MODULES")

# --- REST API (support/api; docs/performance.md "API") ---------------------------------------
REST_FRAMEWORK: dict[str, object] = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "support.api.authentication.BearerTokenAuthentication",
        "support.api.authentication.TenantSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["support.api.permissions.TenantAccess"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "support.api.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Switchboard API",
    "DESCRIPTION": "Conversations, messages, contacts and webhooks of one tenant.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The docs pages load their JavaScript and CSS from our own static files (works offline).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "support.api.schema.add_error_responses",
    ],
    "SECURITY": [{"tokenAuth": []}, {"cookieAuth": []}],
    "ENUM_NAME_OVERRIDES": {
        "ConversationStatusEnum": "support.models.Conversation.Status",
        "WebhookDeliveryStatusEnum": "push.models_webhooks.WebhookDelivery.Status",
        "MessageKindEnum": "support.models.Message.Kind",
        "MemberRoleEnum": "support.models.Membership.Role",
    },
}
# Requests per minute per token (or signed-in member). Billing can point the resolver at a
# function of the tenant's plan: "dotted.path(tenant) -> int".
API_RATE_PER_MINUTE = env_int("API_RATE_PER_MINUTE", 600, minimum=1)
API_RATE_LIMIT_RESOLVER = env_str("API_RATE_LIMIT_RESOLVER", "billing.subscriptions.api_rate_per_minute")
# PostgreSQL text-search configuration for message search ("simple": no stemming, any language).
API_SEARCH_CONFIG = env_str("API_SEARCH_CONFIG", "simple")

# --- Periodic work: every beat entry in one table (docs/operations.md, "Periodic work") -----------
CELERY_IMPORTS = [
    "push.webhooks.tasks", "push.notifications.tasks", "push.tasks_presence", "push.mqtt.tasks", "billing.tasks",
    "support.tasks",
]
_HOUR = 3600.0
CELERY_BEAT_SCHEDULE = {
    "webhook-deliveries": {"task": "push.webhooks.deliver_due", "schedule": float(NOTIFY_SWEEP_SECONDS)},
    "visitor-digests": {"task": "push.notifications.send_due_digests", "schedule": float(NOTIFY_SWEEP_SECONDS)},
    "webhook-log-prune": {"task": "push.webhooks.prune_log", "schedule": 6 * _HOUR},
    "notification-receipts-prune": {"task": "events.prune_receipts", "schedule": 6 * _HOUR},
    "presence-sweep": {"task": "push.sweep_presence", "schedule": float(PRESENCE_SWEEP_SECONDS)},
    "mqtt-credentials-expire": {"task": "push.expire_mqtt_credentials", "schedule": 5 * 60.0},
    "billing-close-periods": {"task": "billing.close_due_periods", "schedule": _HOUR},
    "billing-dunning": {"task": "billing.dunning_sweep", "schedule": _HOUR},
    "api-idempotency-purge": {"task": "support.purge_idempotency_keys", "schedule": _HOUR},
    "attachments-unsent-purge": {"task": "support.purge_unsent_attachments", "schedule": _HOUR},
    # A sweep left queued longer than its period is useless: the next one is on its way.
    "outbox-sweep": {"task": "events.sweep_outbox", "schedule": float(OUTBOX_SWEEP_SECONDS),
                     "options": {"expires": OUTBOX_SWEEP_SECONDS}},
    "outbox-prune": {"task": "events.prune_outbox", "schedule": crontab(hour=3, minute=17)},
}
