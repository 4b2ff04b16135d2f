"""Sign-in throttling that stops password guessing without letting anyone lock an owner out.

Checked before the password, in the cache (Redis in production; hits counted by
``support.rate_limits.count``, the counter of every limit), with three limits:

* **per client address** (IPv6 by /64): ``LOGIN_ATTEMPTS_PER_15_MIN`` failures in a 15-minute
  window, whatever the emails;
* **per address and email**, growing delays: after ``FREE_FAILURES`` failures each further one
  doubles the wait before the next try (30 s, 1, 2, 4, 8 minutes, at most 15); forgotten an hour
  after the last failure, cleared by a successful sign-in from that address;
* **per email** from anywhere: ``LOGIN_ATTEMPTS_PER_15_MIN`` failures in a window — except for a
  browser that has signed in to that account before, or reset its password (a signed "known
  device" cookie). Guessing from many addresses therefore cannot keep the owner out of their
  account on their usual browser; on a new browser they get a clear, temporary refusal.

Only hashes of emails go into keys and cookies; there is no tenant part (sign-in comes first).
"""
from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from support.rate_limits import count

WINDOW_SECONDS = 15 * 60
FREE_FAILURES = 3
FIRST_DELAY_SECONDS = 30
MAX_DELAY_SECONDS = 15 * 60
DELAY_MEMORY_SECONDS = 60 * 60
KNOWN_DEVICE_COOKIE = "sb_known_device"
KNOWN_DEVICE_MAX_AGE_SECONDS = 180 * 24 * 3600
KNOWN_DEVICE_MAX_ACCOUNTS = 5  # a shared computer may be a known device for a few accounts
_KNOWN_DEVICE_SALT = "support.sign_in_throttle.known-device"


def _now() -> float:
    """The clock of every limit here (tests replace it instead of sleeping)."""
    return time.time()


def email_key(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def wait_text(seconds: int) -> str:
    """'40 seconds', '1 minute', '15 minutes': how long a refused client waits, for people."""
    if seconds < 60:
        return ngettext("%(n)d second", "%(n)d seconds", seconds) % {"n": seconds}
    minutes = math.ceil(seconds / 60)
    return ngettext("%(n)d minute", "%(n)d minutes", minutes) % {"n": minutes}


class Window:
    """Attempts under one key over a fixed window that the first attempt opens."""

    def __init__(self, key: str, *, limit: int, seconds: int = WINDOW_SECONDS) -> None:
        self.key, self.until_key = key, f"{key}:until"
        self.limit, self.seconds = limit, seconds

    def retry_after(self) -> int:
        """Seconds until the next attempt is allowed; 0 when it is allowed now."""
        now = _now()
        until = cache.get(self.until_key) or 0
        if until <= now or (cache.get(self.key) or 0) < self.limit:
            return 0
        return max(1, math.ceil(until - now))

    def record(self) -> None:
        now = _now()
        until = cache.get(self.until_key) or 0
        if until <= now:  # no window yet, or it is over: this attempt opens a new one
            cache.set(self.key, 1, self.seconds)
            cache.set(self.until_key, now + self.seconds, self.seconds)
            return
        count(self.key, timeout=self.seconds)

    def clear(self) -> None:
        cache.delete_many([self.key, self.until_key])


class GrowingDelay:
    """Failures under one key; past ``FREE_FAILURES`` each one doubles the wait before the next try."""

    def __init__(self, key: str) -> None:
        self.key, self.until_key = key, f"{key}:until"

    @staticmethod
    def delay_after(failures: int) -> int:
        if failures <= FREE_FAILURES:
            return 0
        return int(min(MAX_DELAY_SECONDS, FIRST_DELAY_SECONDS * 2 ** (failures - FREE_FAILURES - 1)))

    def retry_after(self) -> int:
        return max(0, math.ceil((cache.get(self.until_key) or 0) - _now()))

    def record(self) -> None:
        failures = count(self.key, timeout=DELAY_MEMORY_SECONDS)  # forgotten an hour after the *last* failure
        delay = self.delay_after(failures)
        if delay:
            cache.set(self.until_key, _now() + delay, DELAY_MEMORY_SECONDS)

    def clear(self) -> None:
        cache.delete_many([self.key, self.until_key])


class AttemptThrottle:
    """A fixed window per client address (and per email, if given) for one action (sign-in, reset)."""

    def __init__(self, *, action: str, ip: str, email: str = "") -> None:
        limit = settings.LOGIN_ATTEMPTS_PER_15_MIN
        self.windows = [Window(f"accounts:{action}:ip:{ip}", limit=limit)]
        if email:
            self.windows.append(Window(f"accounts:{action}:email:{email_key(email)}", limit=limit))

    def retry_after(self) -> int:
        return max(window.retry_after() for window in self.windows)

    def record(self) -> None:
        for window in self.windows:
            window.record()


@dataclass(frozen=True)
class Refusal:
    seconds: int
    message: str  # what the person is told, ending with how long to wait
    hint: str = ""


class SignInThrottle:
    """The three sign-in limits for one attempt (client address, email, known device or not)."""

    def __init__(self, *, ip: str, email: str, known_device: bool) -> None:
        limit = settings.LOGIN_ATTEMPTS_PER_15_MIN
        account = email_key(email)
        self.address = Window(f"accounts:login:ip:{ip}", limit=limit)
        self.pair = GrowingDelay(f"accounts:login:pair:{ip}:{account}")
        self.account = Window(f"accounts:login:email:{account}", limit=limit)
        self.known_device = known_device

    def refusal(self) -> Refusal | None:
        """Why this attempt must not be tried now, or None."""
        waits = [
            (self.address.retry_after(), _("Too many sign-in attempts from your network."), ""),
            (self.pair.retry_after(), _("Too many wrong passwords for this email."), ""),
        ]
        if not self.known_device:
            waits.append((
                self.account.retry_after(), _("Too many failed sign-ins to this account."),
                _("If it is your account, reset your password: after that this browser can sign in at once."),
            ))
        seconds, message, hint = max(waits, key=lambda wait: wait[0])
        if not seconds:
            return None
        wait = wait_text(seconds)
        return Refusal(seconds, _("%(message)s Try again in %(wait)s.") % {"message": message, "wait": wait}, hint)

    def failed(self) -> None:
        self.address.record()
        self.pair.record()
        self.account.record()  # known devices too: the count is about the account, not this browser

    def succeeded(self) -> None:
        # The per-address and per-account counts stay: an attacker's failures are not forgiven
        # because the owner signed in.
        self.pair.clear()


# --- Known devices ---------------------------------------------------------------------------

def _account_tag(email: str) -> str:
    return salted_hmac(_KNOWN_DEVICE_SALT, email.strip().lower()).hexdigest()[:32]


def _known_tags(request: HttpRequest) -> list[str]:
    raw = request.COOKIES.get(KNOWN_DEVICE_COOKIE)
    if not raw:
        return []
    try:
        tags = signing.loads(raw, salt=_KNOWN_DEVICE_SALT, max_age=KNOWN_DEVICE_MAX_AGE_SECONDS)
    except signing.BadSignature:  # forged, altered or expired: simply not a known device
        return []
    return [tag for tag in tags if isinstance(tag, str)] if isinstance(tags, list) else []


def is_known_device(request: HttpRequest, *, email: str) -> bool:
    """Whether this browser signed in to (or reset the password of) the account ``email`` before."""
    return _account_tag(email) in _known_tags(request)


def remember_device(request: HttpRequest, response: HttpResponse, *, email: str) -> None:
    """Mark this browser as a known device of ``email`` (re-signed, so the age restarts now)."""
    tag = _account_tag(email)
    tags = [tag, *(t for t in _known_tags(request) if t != tag)][:KNOWN_DEVICE_MAX_ACCOUNTS]
    response.set_cookie(
        KNOWN_DEVICE_COOKIE, signing.dumps(tags, salt=_KNOWN_DEVICE_SALT), max_age=KNOWN_DEVICE_MAX_AGE_SECONDS,
        secure=request.is_secure(), httponly=True, samesite="Lax",
    )
