"""ECS task roles and EKS Pod Identity: the container credentials endpoint.

``AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`` (ECS: ``http://169.254.170.2`` + the URI) or
``AWS_CONTAINER_CREDENTIALS_FULL_URI`` (EKS Pod Identity, Greengrass...), which must be
https, or http to a loopback address or to 169.254.170.2, 169.254.170.23 or
fd00:ec2::23. The ``Authorization`` header comes from ``AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE``
(read again on every fetch: EKS rotates it) or ``AWS_CONTAINER_AUTHORIZATION_TOKEN``.
2 s timeout, 3 attempts a second apart (botocore's values).
"""

from __future__ import annotations

import ipaddress
import os

from .._log import logger
from ..config import Timeout
from ..errors import CredentialsError, TransportError
from ..flow import Call, Send, Sleep
from . import Credentials
from .wire import describe, error_text, loads_json, parse_time, parse_url, request, split_url

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..flow import Flow

__all__ = ["ContainerProvider"]

ECS_BASE = "http://169.254.170.2"
_ALLOWED_HTTP_HOSTS = ("169.254.170.2", "169.254.170.23", "fd00:ec2::23", "localhost")
RELATIVE = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"
FULL = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
TOKEN = "AWS_CONTAINER_AUTHORIZATION_TOKEN"
TOKEN_FILE = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _read_token_file(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


class ContainerProvider:
    """Credentials from the container credentials endpoint (see the module docstring).
    None when neither URI variable is set. ``relative_base`` replaces
    ``http://169.254.170.2`` (tests)."""

    name = "container"

    def __init__(self, env: Mapping[str, str] = os.environ, *, timeout: float = 2.0, attempts: int = 3,
                 retry_sleep: float = 1.0, relative_base: str = ECS_BASE) -> None:
        self.env = env
        self.timeout = Timeout(connect=timeout, read=timeout, pool=max(timeout, 1.0))
        self.attempts = max(1, attempts)
        self.retry_sleep = retry_sleep
        self.relative_base = relative_base.rstrip("/")
        self.where = f"container credentials endpoint ({RELATIVE} / {FULL} not set)"

    def _url(self) -> str | None:
        rel, full = self.env.get(RELATIVE), self.env.get(FULL)
        if rel:
            return self.relative_base + ("" if rel.startswith("/") else "/") + rel
        if not full:
            return None
        ep = parse_url(full, self.name)
        if ep.scheme == "http" and not (_loopback(ep.host) or ep.host.lower() in _ALLOWED_HTTP_HOSTS):
            raise CredentialsError(
                f"{self.name}: {FULL} must be https, or http to a loopback address or to "
                f"{', '.join(_ALLOWED_HTTP_HOSTS[:3])}; not host {ep.host!r}")
        return full

    def _token(self) -> Flow[str | None]:
        path = self.env.get(TOKEN_FILE)
        if path:
            try:
                token: str = yield Call(_read_token_file, path)
            except OSError as e:
                raise CredentialsError(f"{self.name}: cannot read {TOKEN_FILE} {path!r}: "
                                       f"{type(e).__name__}: {e.strerror}") from None
            source = TOKEN_FILE
        else:
            token = self.env.get(TOKEN) or ""
            source = TOKEN
        if not token:
            return None
        token = token.strip()
        if "\r" in token or "\n" in token:
            raise CredentialsError(f"{self.name}: the token in {source} contains a line break")
        return token

    def load(self) -> Flow[Credentials | None]:
        url = self._url()
        if url is None:
            return None
        ep, target = split_url(url, self.name)
        self.where = f"container credentials endpoint {ep.url}"
        last = ""
        secrets: list[str | None] = []
        for attempt in range(self.attempts):
            if attempt:
                yield Sleep(self.retry_sleep)
            token = yield from self._token()  # every time: the file may have been rotated
            secrets = [token]
            headers = {"accept": "application/json"}
            if token:
                headers["authorization"] = token
            try:
                res = yield Send(request("GET", ep, target, headers=headers, timeout=self.timeout))
            except TransportError as e:
                last = describe(e)
                logger().debug("container: attempt %d at %s failed: %s", attempt + 1, ep.url, last)
                continue
            if res.status != 200:
                detail = error_text(res.body, secrets)
                last = f"HTTP {res.status}" + (f" ({detail})" if detail else "")
                logger().debug("container: attempt %d at %s: %s", attempt + 1, ep.url, last)
                continue
            try:
                doc = loads_json(res.body)
            except ValueError as e:
                last = str(e)
                continue
            fields = ("AccessKeyId", "SecretAccessKey", "Token", "Expiration")
            if not isinstance(doc, dict) or not all(isinstance(doc.get(f), str) and doc.get(f) for f in fields):
                raise CredentialsError(f"{self.name}: the answer from {ep.url} lacks one of {', '.join(fields)}")
            try:
                expires = parse_time(doc["Expiration"])
            except ValueError:
                raise CredentialsError(f"{self.name}: the Expiration from {ep.url} is not ISO 8601") from None
            account = doc.get("AccountId")
            return Credentials(doc["AccessKeyId"], doc["SecretAccessKey"], doc["Token"], expires,
                               account if isinstance(account, str) else None)
        raise CredentialsError(f"{self.name}: no credentials from {ep.url} after {self.attempts} "
                               f"attempt{'s' if self.attempts > 1 else ''}: {last}")
