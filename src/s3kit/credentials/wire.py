"""Wire helpers shared by the network providers: requests from URLs, answers to values.

Pure functions (no I/O). Nothing here puts a secret into a message: callers pass the
secrets they hold to :func:`redact` before quoting anything a server said.
"""

from __future__ import annotations

import calendar
import json
import re
from urllib.parse import urlsplit

from ..errors import ConnectTimeout, CredentialsError, TransportError
from ..flow import WireRequest

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

    from ..config import Timeout

__all__ = ["Malformed", "Endpoint", "parse_url", "request", "parse_time", "redact", "loads_json", "connect_failed",
           "describe", "split_url", "aws_host", "configured_endpoint"]

USER_AGENT = "s3kit-credentials"


class Malformed(ValueError):
    """A value or answer that cannot be used (a ValueError: callers catch ValueError)."""


class Endpoint:
    """A parsed base URL: scheme, host (IPv6 without brackets), port, base path."""

    __slots__ = ("scheme", "host", "port", "path", "url")

    def __init__(self, scheme: str, host: str, port: int, path: str, url: str) -> None:
        self.scheme = scheme
        self.host = host
        self.port = port
        self.path = path
        self.url = url

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"

    def __repr__(self) -> str:
        return f"Endpoint({self.url})"


def parse_url(url: str, what: str) -> Endpoint:
    """Parse ``http(s)://host[:port][/path]``; a bad URL is a CredentialsError naming ``what``."""
    try:
        u = urlsplit(url.strip())
        port = u.port
    except ValueError:
        raise CredentialsError(f"{what}: invalid URL {url!r}") from None
    if u.scheme not in ("http", "https") or not u.hostname:
        raise CredentialsError(f"{what}: invalid URL {url!r} (expected http(s)://host[:port])")
    if port is None:
        port = 443 if u.scheme == "https" else 80
    host = u.hostname
    path = u.path.rstrip("/")
    shown = f"{u.scheme}://{'[' + host + ']' if ':' in host else host}:{port}{path}"
    return Endpoint(u.scheme, host, port, path, shown)


def split_url(url: str, what: str) -> tuple[Endpoint, str]:
    """(endpoint without path, target with path and query) of a full URL."""
    ep = parse_url(url, what)
    query = urlsplit(url.strip()).query
    target = (urlsplit(url.strip()).path or "/") + (f"?{query}" if query else "")
    return Endpoint(ep.scheme, ep.host, ep.port, "", ep.url), target


def request(method: str, ep: Endpoint, target: str, *, headers: Mapping[str, str] | None = None,
            body: bytes | None = None, timeout: Timeout | None = None, deadline: float | None = None) -> WireRequest:
    """A WireRequest to ``ep`` for ``target`` (path and query, starting with ``/``)."""
    h = {"host": ep.host_header, "user-agent": USER_AGENT}
    if headers:
        h.update(headers)
    if body is not None or method in ("POST", "PUT"):
        h["content-length"] = str(len(body or b""))
    return WireRequest(method, ep.scheme, ep.host, ep.port, ep.path + target, h, body,
                       max_body=1 << 20, timeout=timeout, deadline=deadline)


_ISO = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:[.,](\d+))?\s*(Z|z|UTC|[+-]\d\d(?::?\d\d)?)?$")


def parse_time(value: str | float | int) -> float:
    """POSIX time from ISO 8601 (``2026-11-25T01:43:54.618197Z``, ``...+02:00``; no zone
    means UTC) or a number (seconds, or milliseconds when it is that large)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        v = float(value)
        return v / 1000.0 if v > 1e11 else v
    if not isinstance(value, str):
        raise Malformed("not a time")
    m = _ISO.match(value.strip())
    if not m:
        raise Malformed(f"not an ISO 8601 time: {value[:40]!r}")
    y, mo, d, h, mi, s, frac, zone = m.groups()
    t = float(calendar.timegm((int(y), int(mo), int(d), int(h), int(mi), int(s), 0, 0, 0)))
    if frac:
        t += float("0." + frac)
    if zone and zone not in ("Z", "z", "UTC"):
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = int(digits[:2]) * 3600 + (int(digits[2:4]) * 60 if len(digits) >= 4 else 0)
        t -= sign * offset
    return t


def redact(text: str, secrets: Iterable[str | None], limit: int = 300) -> str:
    """``text`` with every secret replaced by ``<hidden>``, cut to ``limit`` characters."""
    for s in secrets:
        if s and len(s) >= 4:
            text = text.replace(s, "<hidden>")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


def loads_json(body: bytes) -> Any:
    """Parsed JSON or ValueError (never quoting the body: it may hold secrets)."""
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Malformed(f"the answer is not JSON ({len(body)} bytes)") from None


def connect_failed(e: BaseException) -> bool:
    """True when ``e`` means the host could not be reached at all (nothing was sent)."""
    if isinstance(e, ConnectTimeout):
        return True
    return type(e) is TransportError and e.message.startswith("cannot connect")


def describe(e: BaseException) -> str:
    msg = getattr(e, "message", None) or str(e)
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__


def aws_host(service: str, region: str) -> str:
    """``service.region.amazonaws.com`` with the partition's DNS suffix."""
    if region.startswith("cn-"):
        return f"{service}.{region}.amazonaws.com.cn"
    if region.startswith("us-iso-"):
        return f"{service}.{region}.c2s.ic.gov"
    if region.startswith("us-isob-"):
        return f"{service}.{region}.sc2s.sgov.gov"
    return f"{service}.{region}.amazonaws.com"


def configured_endpoint(service_env: str, service_key: str, env: Mapping[str, str],
                        settings: Mapping[str, str], services: Mapping[str, Mapping[str, str]]) -> str | None:
    """An endpoint URL configured for a service, in botocore's order:
    ``AWS_ENDPOINT_URL_<SERVICE>``, the profile's ``services`` section, ``AWS_ENDPOINT_URL``,
    the profile's ``endpoint_url``; none when ``AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`` is true
    (or the profile's ``ignore_configured_endpoint_urls``)."""
    ignore = env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") or settings.get("ignore_configured_endpoint_urls") or ""
    if ignore.strip().lower() == "true":
        return None
    return (env.get(f"AWS_ENDPOINT_URL_{service_env}") or services.get(service_key, {}).get("endpoint_url")
            or env.get("AWS_ENDPOINT_URL") or settings.get("endpoint_url") or None)


def error_text(body: bytes, secrets: Iterable[str | None]) -> str:
    """A short, secret-free summary of an error answer (JSON ``Code``/``Message``, XML
    ``<Code>``/``<Message>``, else nothing)."""
    code = message = ""
    stripped = body.lstrip()
    if stripped.startswith(b"{"):
        try:
            doc = json.loads(stripped.decode("utf-8"))
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            code = str(doc.get("Code") or doc.get("code") or doc.get("__type") or doc.get("error") or "")
            message = str(doc.get("Message") or doc.get("message") or doc.get("error_description") or "")
    elif stripped.startswith(b"<"):
        text = stripped[:4096].decode("utf-8", "replace")
        m = re.search(r"<Code>([^<]{0,100})</Code>", text)
        code = m.group(1) if m else ""
        m = re.search(r"<Message>([^<]{0,300})</Message>", text)
        message = m.group(1) if m else ""
    out = f"{code}: {message}" if code and message else code or message
    return redact(out, secrets, 200)
