"""EC2 instance metadata (IMDS): the instance role's credentials, and the region.

IMDSv2 first: ``PUT /latest/api/token`` (``x-aws-ec2-metadata-token-ttl-seconds``), the
token cached for its TTL and fetched again on a 401. The token answer 403/404/405 (or
no answer) falls back to IMDSv1 unless ``AWS_EC2_METADATA_V1_DISABLED``. Then
``GET /latest/meta-data/iam/security-credentials/`` (role name) and ``.../<role>``
(JSON credentials; a 200 may carry ``{Code, Message}`` instead).

Defaults as botocore: 1 s timeout, 1 attempt, ``http://169.254.169.254`` (IPv6 mode:
``http://[fd00:ec2::254]``). Two differences, both bounding the time wasted where there
is no IMDS: a host that cannot be reached at all (refused, unroutable) is not tried a
second time for IMDSv1, and the IMDSv1 fallback after an unanswered token request gets
half the timeout (where that fallback matters, a container behind a hop limit of 1, the
service answers GETs at once). So the whole chain gives up within ~1.5 s.
"""

from __future__ import annotations

import os
import random
import time

from .._log import logger
from ..config import Timeout
from ..errors import CredentialsError, ReadTimeout, TransportError
from ..flow import Call, Send
from . import Credentials
from .refresh import ADVISORY_WINDOW
from .wire import Endpoint, connect_failed, describe, loads_json, parse_time, parse_url, request

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from ..flow import Flow

__all__ = ["IMDSProvider", "imds_region", "IMDSClient"]

IPV4_URL = "http://169.254.169.254"
IPV6_URL = "http://[fd00:ec2::254]"
TOKEN_TTL = 21600
_CREDS_PATH = "/latest/meta-data/iam/security-credentials/"
_REGION_PATH = "/latest/meta-data/placement/region"


class Unavailable(Exception):
    """IMDS gave nothing usable (unreachable, no role, error answer): the reason."""


def _true(v: str | None) -> bool:
    return (v or "").strip().lower() == "true"


class IMDSClient:
    """Talks to one IMDS endpoint; holds the IMDSv2 token. Thread-safe enough: the token
    is replaced by plain assignment, and two concurrent fetches of it are harmless."""

    def __init__(self, base: str, *, timeout: float = 1.0, attempts: int = 1, v1_disabled: bool = False,
                 token_ttl: int = TOKEN_TTL) -> None:
        self.endpoint: Endpoint = parse_url(base, "imds")
        self.timeout = Timeout(connect=timeout, read=timeout, pool=max(timeout, 1.0))
        self.attempts = max(1, attempts)
        self.v1_disabled = v1_disabled
        self.token_ttl = max(1, min(int(token_ttl), TOKEN_TTL))
        self._token: tuple[str, float] | None = None  # (token, monotonic time it stops being used)

    def _fetch_token(self) -> Flow[tuple[str | None, float | None]]:
        """(token or None for IMDSv1, deadline for the v1 requests or None)."""
        cached = self._token
        if cached is not None and time.monotonic() < cached[1]:
            return cached[0], None
        self._token = None
        last = "no answer"
        for _ in range(self.attempts):
            started = time.monotonic()
            req = request("PUT", self.endpoint, "/latest/api/token", timeout=self.timeout,
                          headers={"x-aws-ec2-metadata-token-ttl-seconds": str(self.token_ttl)})
            try:
                res = yield Send(req)
            except ReadTimeout:
                # maybe a hop limit dropping only the PUT's answer: v1, on a short budget
                return None, time.monotonic() + self.timeout.read / 2
            except TransportError as e:
                if connect_failed(e):
                    raise Unavailable(f"unreachable: {describe(e)}") from None
                last = describe(e)
                continue
            if res.status == 200 and res.body.strip():
                token = res.body.decode("latin-1").strip()
                margin = min(60.0, self.token_ttl / 10)
                self._token = (token, started + self.token_ttl - margin)
                return token, None
            if res.status in (403, 404, 405):
                return None, None
            if res.status == 400:
                raise Unavailable("the token request was refused (HTTP 400)")
            last = f"HTTP {res.status} for the token request"
        logger().debug("imds: no IMDSv2 token (%s); trying IMDSv1", last)
        return None, None

    def session(self) -> Flow[list[object]]:
        """What one lookup uses for its requests: [token or None, v1 deadline or None]."""
        token, deadline = yield from self._fetch_token()
        return [token, deadline]

    def get(self, path: str, session: list[object] | None = None) -> Flow[str]:
        """The text of a 200 answer for ``path``, else :class:`Unavailable`."""
        if session is None:
            session = yield from self.session()
        token: str | None = session[0]  # type: ignore[assignment]
        deadline: float | None = session[1]  # type: ignore[assignment]
        if token is None and self.v1_disabled:
            raise Unavailable("no IMDSv2 token and IMDSv1 is disabled (AWS_EC2_METADATA_V1_DISABLED)")
        renewed = False
        last = "no answer"
        attempt = 0
        while attempt < self.attempts:
            attempt += 1
            headers = {"x-aws-ec2-metadata-token": token} if token else {}
            req = request("GET", self.endpoint, path, headers=headers, timeout=self.timeout, deadline=deadline)
            try:
                res = yield Send(req)
            except TransportError as e:
                if connect_failed(e) or deadline is not None:
                    raise Unavailable(f"unreachable: {describe(e)}") from None
                last = describe(e)
                continue
            if res.status == 401 and token and not renewed:  # the token expired or was revoked
                renewed = True
                attempt -= 1
                self._token = None
                token, deadline = yield from self._fetch_token()
                session[:] = [token, deadline]
                if token is None and self.v1_disabled:
                    raise Unavailable("the IMDSv2 token was rejected and IMDSv1 is disabled")
                continue
            if res.status == 200 and res.body.strip():
                text: str = res.body.decode("utf-8", "replace")
                return text
            if res.status == 404:
                raise Unavailable(f"{path} not found (HTTP 404)")
            last = f"HTTP {res.status}" + ("" if res.body.strip() else " with an empty body")
        raise Unavailable(f"{path}: {last}")


class _Settings:
    __slots__ = ("disabled", "client")

    def __init__(self, disabled: bool, client: IMDSClient | None) -> None:
        self.disabled = disabled
        self.client = client


def _configure(env: Mapping[str, str], settings: Mapping[str, str], *, endpoint: str | None, mode: str | None,
               timeout: float | None, attempts: int | None, v1_disabled: bool | None, token_ttl: int) -> _Settings:
    if _true(env.get("AWS_EC2_METADATA_DISABLED")):
        return _Settings(True, None)
    base = (endpoint or env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT")
            or settings.get("ec2_metadata_service_endpoint"))
    if not base:
        m = (mode or env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE")
             or settings.get("ec2_metadata_service_endpoint_mode") or "IPv4").strip().lower()
        if m not in ("ipv4", "ipv6"):
            raise CredentialsError(f"imds: endpoint mode must be IPv4 or IPv6, not {m!r}")
        base = IPV6_URL if m == "ipv6" else IPV4_URL
    try:
        t = float(timeout if timeout is not None else
                  env.get("AWS_METADATA_SERVICE_TIMEOUT") or settings.get("metadata_service_timeout") or 1)
        n = int(attempts if attempts is not None else
                env.get("AWS_METADATA_SERVICE_NUM_ATTEMPTS") or settings.get("metadata_service_num_attempts") or 1)
    except ValueError:
        raise CredentialsError("imds: AWS_METADATA_SERVICE_TIMEOUT / _NUM_ATTEMPTS must be numbers") from None
    if not t > 0 or n < 1:
        raise CredentialsError("imds: the metadata service timeout must be > 0 and attempts >= 1")
    v1_off = v1_disabled if v1_disabled is not None else _true(
        env.get("AWS_EC2_METADATA_V1_DISABLED") or settings.get("ec2_metadata_v1_disabled"))
    return _Settings(False, IMDSClient(base, timeout=t, attempts=n, v1_disabled=v1_off, token_ttl=token_ttl))


def _no_settings() -> dict[str, str]:
    return {}


class IMDSProvider:
    """The EC2 instance role's credentials from instance metadata.

    Configuration (arguments win over the environment, which wins over the profile):
    ``AWS_EC2_METADATA_DISABLED``, ``AWS_EC2_METADATA_SERVICE_ENDPOINT`` (``..._MODE``
    IPv4/IPv6), ``AWS_METADATA_SERVICE_TIMEOUT`` (1 s), ``AWS_METADATA_SERVICE_NUM_ATTEMPTS``
    (1), ``AWS_EC2_METADATA_V1_DISABLED``. ``settings`` returns the profile's settings
    (blocking; run through ``Call``).

    Static stability (botocore): credentials that already expire within ``refresh_window``
    are given a later expiry (window + 2-10 min jitter, ``jitter``), so an IMDS that keeps
    serving old credentials during an outage is asked again in minutes, not on every call.
    Unreachable IMDS, no role, or an error answer: None (the chain's last resort).
    """

    name = "imds"

    def __init__(self, env: Mapping[str, str] = os.environ, *, endpoint: str | None = None, mode: str | None = None,
                 timeout: float | None = None, attempts: int | None = None, v1_disabled: bool | None = None,
                 refresh_window: float = ADVISORY_WINDOW, jitter: tuple[float, float] = (120.0, 600.0),
                 token_ttl: int = TOKEN_TTL, settings: Callable[[], Mapping[str, str]] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.env = env
        self._opts = {"endpoint": endpoint, "mode": mode, "timeout": timeout, "attempts": attempts,
                      "v1_disabled": v1_disabled}
        self.refresh_window = refresh_window
        self.jitter = jitter
        self.token_ttl = token_ttl
        self._settings_fn = settings or _no_settings
        self._clock = clock
        self._conf: _Settings | None = None
        self.where = "EC2 instance metadata"
        self.role: str | None = None

    def _configured(self) -> Flow[_Settings]:
        if self._conf is None:
            settings = yield Call(self._settings_fn)
            self._conf = _configure(self.env, settings, token_ttl=self.token_ttl, **self._opts)  # type: ignore[arg-type]
        return self._conf

    def load(self) -> Flow[Credentials | None]:
        conf = yield from self._configured()
        if conf.disabled or conf.client is None:
            self.where = "EC2 instance metadata (disabled by AWS_EC2_METADATA_DISABLED)"
            return None
        client = conf.client
        try:
            session = yield from client.session()
            role = (yield from client.get(_CREDS_PATH, session)).strip().splitlines()[0].strip()
            body = yield from client.get(_CREDS_PATH + role, session)
        except Unavailable as e:
            self.where = f"EC2 instance metadata at {client.endpoint.url} ({e})"
            logger().debug("imds: no credentials from %s: %s", client.endpoint.url, e)
            return None
        self.role = role
        try:
            doc = loads_json(body.encode())
        except ValueError as e:
            self.where = f"EC2 instance metadata at {client.endpoint.url} (role {role!r}: {e})"
            return None
        fields = ("AccessKeyId", "SecretAccessKey", "Token", "Expiration")
        if not isinstance(doc, dict) or not all(isinstance(doc.get(f), str) and doc.get(f) for f in fields):
            code = doc.get("Code") if isinstance(doc, dict) else None
            msg = doc.get("Message") if isinstance(doc, dict) else None
            reason = f"{code}: {msg}" if code else "the answer lacks AccessKeyId/SecretAccessKey/Token/Expiration"
            self.where = f"EC2 instance metadata at {client.endpoint.url} (role {role!r}: {str(reason)[:200]})"
            logger().debug("imds: role %s: %s", role, self.where)
            return None
        try:
            expires = parse_time(doc["Expiration"])
        except ValueError:
            self.where = f"EC2 instance metadata at {client.endpoint.url} (role {role!r}: bad Expiration)"
            return None
        expires = self._stable_expiry(expires)
        self.where = f"EC2 instance metadata at {client.endpoint.url} (role {role!r})"
        return Credentials(doc["AccessKeyId"], doc["SecretAccessKey"], doc["Token"], expires,
                           doc.get("AccountId") if isinstance(doc.get("AccountId"), str) else None)

    def _stable_expiry(self, expires: float) -> float:
        """botocore's static stability (``_evaluate_expiration``)."""
        now = self._clock()
        offset = self.refresh_window + random.uniform(*self.jitter)
        if now >= expires - offset:
            logger().warning("imds: the credentials served expire in %.0f s; using them for %.0f s more before "
                             "asking again (instance metadata may be unavailable or lagging)",
                             expires - now, offset - self.refresh_window)
            return now + offset
        return expires

    def region(self) -> Flow[str | None]:
        """The instance's region (``/latest/meta-data/placement/region``), or None."""
        conf = yield from self._configured()
        if conf.disabled or conf.client is None:
            return None
        try:
            text = yield from conf.client.get(_REGION_PATH)
        except Unavailable as e:
            logger().debug("imds: no region: %s", e)
            return None
        region = text.strip()
        return region or None


def imds_region(env: Mapping[str, str] = os.environ, **options: object) -> Flow[str | None]:
    """A flow returning the EC2 instance's region from instance metadata, or None (not on
    EC2, IMDS disabled or unreachable). For clients with no configured region. ``options``
    are :class:`IMDSProvider`'s (``endpoint``, ``timeout``...)."""
    provider = IMDSProvider(env, **options)  # type: ignore[arg-type]
    region = yield from provider.region()
    return region
