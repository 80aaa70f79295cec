"""IAM Identity Center (SSO): role credentials for the token ``aws sso login`` cached.

A profile with ``sso_account_id`` + ``sso_role_name`` and either ``sso_session`` (an
``[sso-session NAME]`` section with ``sso_start_url`` and ``sso_region``) or, legacy,
``sso_start_url`` + ``sso_region`` in the profile. The token is read from
``~/.aws/sso/cache/<sha1(session name, or start URL for legacy)>.json`` (``accessToken``,
``expiresAt``); the portal's ``GET /federation/credentials`` turns it into role
credentials. An ``sso-session`` token close to expiry is renewed with its refresh token
(SSO-OIDC ``CreateToken``) and written back, as the AWS CLI does; an expired one asks the
user to run ``aws sso login``.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from urllib.parse import quote

from .._log import logger
from ..config import Timeout
from ..errors import CredentialsError, TransportError
from ..flow import Call, Send
from . import Credentials
from .files import SharedConfig, profile_name
from .wire import (
    Malformed,
    aws_host,
    configured_endpoint,
    describe,
    error_text,
    loads_json,
    parse_time,
    parse_url,
    request,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from ..flow import Flow

__all__ = ["SSOProvider", "token_cache_path"]

SSO_TIMEOUT = Timeout(connect=5.0, read=20.0, pool=20.0)
TOKEN_REFRESH_WINDOW = 15 * 60.0


def token_cache_path(key: str, cache_dir: str | None = None) -> str:
    """The cache file of the token for ``key`` (sso-session name, or legacy start URL)."""
    base = cache_dir or os.path.join(os.path.expanduser("~"), ".aws", "sso", "cache")
    return os.path.join(base, hashlib.sha1(key.encode("utf-8")).hexdigest() + ".json")


def _read_json(path: str) -> Any:
    with open(path, "rb") as f:
        return loads_json(f.read())


def _write_json(path: str, doc: Mapping[str, Any]) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class SSOProvider:
    """Role credentials from IAM Identity Center (see the module docstring).

    Settings come from the profile, or from arguments (``start_url``, ``sso_region``,
    ``account_id``, ``role_name``, optional ``session_name``). ``endpoint`` replaces the
    portal (``https://portal.sso.<region>.amazonaws.com``; also ``AWS_ENDPOINT_URL_SSO``),
    ``oidc_endpoint`` the OIDC service (``AWS_ENDPOINT_URL_SSO_OIDC``), ``cache_dir`` the
    token cache directory.
    """

    name = "sso"

    def __init__(self, *, profile: str | None = None, config: SharedConfig | None = None,
                 env: Mapping[str, str] = os.environ, endpoint: str | None = None, oidc_endpoint: str | None = None,
                 cache_dir: str | None = None, explicit: bool | None = None, start_url: str | None = None,
                 sso_region: str | None = None, account_id: str | None = None, role_name: str | None = None,
                 session_name: str | None = None, clock: Callable[[], float] = time.time) -> None:
        self.env = env
        self.config = config or SharedConfig(env)
        self.profile = profile_name(profile, env)
        self.explicit = profile is not None if explicit is None else explicit
        self.endpoint = endpoint
        self.oidc_endpoint = oidc_endpoint
        self.cache_dir = cache_dir
        self._given = {"sso_start_url": start_url, "sso_region": sso_region, "sso_account_id": account_id,
                       "sso_role_name": role_name, "sso_session": session_name}
        self._clock = clock
        self.where = f"SSO (no sso_account_id/sso_role_name in profile {self.profile!r})"

    def _login_hint(self) -> str:
        return f"run `aws sso login --profile {self.profile}`"

    def _settings(self, cfg: SharedConfig) -> tuple[dict[str, str], dict[str, str]] | None:
        """(SSO settings, profile settings), or None when the profile does not use SSO."""
        given = {k: v for k, v in self._given.items() if v}
        if given:
            missing = [k for k in ("sso_start_url", "sso_region", "sso_account_id", "sso_role_name") if k not in given]
            if missing:
                raise CredentialsError(f"{self.name}: SSOProvider arguments lack "
                                       f"{', '.join(m.replace('sso_', '', 1) for m in missing)}")
            return given, {}
        prof = cfg.require(self.profile, self.explicit)
        if "sso_account_id" not in prof and "sso_role_name" not in prof:
            return None
        conf = dict(prof)
        session = prof.get("sso_session")
        if session:
            section = cfg.sso_session(session)
            if section is None:
                raise CredentialsError(f"{self.name}: profile {self.profile!r} names sso_session {session!r}, "
                                       f"which has no [sso-session {session}] section")
            for k, v in section.items():
                if conf.get(k, v) != v:
                    raise CredentialsError(f"{self.name}: {k} differs between profile {self.profile!r} and "
                                           f"sso-session {session!r}")
                conf[k] = v
        required = ["sso_start_url", "sso_region", "sso_account_id", "sso_role_name"]
        missing = [k for k in required if not conf.get(k)]
        if missing:
            raise CredentialsError(f"{self.name}: profile {self.profile!r} uses SSO but lacks "
                                   f"{', '.join(missing)}")
        return conf, prof

    def load(self) -> Flow[Credentials | None]:
        cfg: SharedConfig = yield Call(self.config.load)
        found = self._settings(cfg)
        if found is None:
            return None
        conf, prof = found
        region = conf["sso_region"]
        services = cfg.services(prof) if prof.get("services") else {}
        portal = (self.endpoint or configured_endpoint("SSO", "sso", self.env, prof, services)
                  or "https://" + aws_host("portal.sso", region))
        self.where = f"SSO ({conf['sso_start_url']}, account {conf['sso_account_id']})"
        token = yield from self._access_token(conf, prof, services)
        ep = parse_url(portal, self.name)
        target = (f"/federation/credentials?account_id={quote(conf['sso_account_id'], safe='')}"
                  f"&role_name={quote(conf['sso_role_name'], safe='')}")
        try:
            res = yield Send(request("GET", ep, target, headers={"x-amz-sso_bearer_token": token,
                                                                 "accept": "application/json"},
                                     timeout=SSO_TIMEOUT))
        except TransportError as e:
            raise CredentialsError(f"{self.name}: the SSO portal {ep.url} could not be reached: {describe(e)}") \
                from None
        if res.status in (401, 403):
            raise CredentialsError(f"{self.name}: the SSO portal rejected the cached token (HTTP {res.status}); "
                                   f"the session has expired or was revoked: {self._login_hint()}",
                                   status=res.status)
        if res.status != 200:
            detail = error_text(res.body, [token])
            raise CredentialsError(f"{self.name}: GetRoleCredentials at {ep.url} failed: HTTP {res.status}"
                                   + (f" ({detail})" if detail else ""), status=res.status)
        try:
            doc = loads_json(res.body)
            rc = doc["roleCredentials"]
            creds = Credentials(rc["accessKeyId"], rc["secretAccessKey"], rc.get("sessionToken"),
                                parse_time(rc["expiration"]), conf["sso_account_id"])
        except (ValueError, KeyError, TypeError):
            raise CredentialsError(f"{self.name}: the SSO portal's answer lacks roleCredentials") from None
        return creds

    def _access_token(self, conf: Mapping[str, str], prof: Mapping[str, str],
                      services: Mapping[str, Mapping[str, str]]) -> Flow[str]:
        session = conf.get("sso_session")
        path = token_cache_path(session or conf["sso_start_url"], self.cache_dir)
        try:
            doc = yield Call(_read_json, path)
        except FileNotFoundError:
            raise CredentialsError(f"{self.name}: no cached SSO token for "
                                   f"{'sso-session ' + repr(session) if session else conf['sso_start_url']}: "
                                   f"{self._login_hint()}") from None
        except (OSError, ValueError) as e:
            raise CredentialsError(f"{self.name}: cannot read the SSO token cache {path}: {e}; "
                                   f"{self._login_hint()}") from None
        try:
            token = doc["accessToken"]
            expires = parse_time(doc["expiresAt"])
            if not isinstance(token, str) or not token:
                raise Malformed
        except (KeyError, TypeError, ValueError):
            raise CredentialsError(f"{self.name}: the SSO token cache {path} is invalid; {self._login_hint()}") \
                from None
        now = self._clock()
        if session and expires - now < TOKEN_REFRESH_WINDOW and self._refreshable(doc, now):
            try:
                token = yield from self._refresh_token(conf, prof, services, doc, path)
                return token
            except CredentialsError as e:
                logger().warning("sso: renewing the SSO token failed: %s", e.message)
        if expires <= now:
            raise CredentialsError(f"{self.name}: the cached SSO token expired at {_iso(expires)}; "
                                   f"{self._login_hint()}")
        return token

    @staticmethod
    def _refreshable(doc: Mapping[str, Any], now: float) -> bool:
        if not all(isinstance(doc.get(k), str) and doc.get(k)
                   for k in ("refreshToken", "clientId", "clientSecret", "registrationExpiresAt")):
            return False
        try:
            return parse_time(doc["registrationExpiresAt"]) > now
        except ValueError:
            return False

    def _refresh_token(self, conf: Mapping[str, str], prof: Mapping[str, str],
                       services: Mapping[str, Mapping[str, str]], doc: Mapping[str, Any], path: str) -> Flow[str]:
        region = conf["sso_region"]
        url = (self.oidc_endpoint or configured_endpoint("SSO_OIDC", "sso-oidc", self.env, prof, services)
               or "https://" + aws_host("oidc", region))
        ep = parse_url(url, self.name)
        secrets = [doc.get("refreshToken"), doc.get("clientSecret"), doc.get("accessToken")]
        body = json.dumps({"grantType": "refresh_token", "clientId": doc["clientId"],
                           "clientSecret": doc["clientSecret"], "refreshToken": doc["refreshToken"]}).encode()
        try:
            res = yield Send(request("POST", ep, "/token", headers={"content-type": "application/json"}, body=body,
                                     timeout=SSO_TIMEOUT))
        except TransportError as e:
            raise CredentialsError(f"{self.name}: SSO-OIDC {ep.url} could not be reached: {describe(e)}") from None
        if res.status != 200:
            detail = error_text(res.body, secrets)
            raise CredentialsError(f"{self.name}: SSO-OIDC CreateToken at {ep.url} failed: HTTP {res.status}"
                                   + (f" ({detail})" if detail else ""))
        try:
            ans = loads_json(res.body)
            token = ans["accessToken"]
            expires_in = float(ans["expiresIn"])
            if not isinstance(token, str) or not token:
                raise Malformed
        except (ValueError, KeyError, TypeError):
            raise CredentialsError(f"{self.name}: SSO-OIDC CreateToken answered without a token") from None
        new = dict(doc)
        new["accessToken"] = token
        new["expiresAt"] = _iso(self._clock() + expires_in)
        if isinstance(ans.get("refreshToken"), str) and ans["refreshToken"]:
            new["refreshToken"] = ans["refreshToken"]
        try:
            yield Call(_write_json, path, new)
        except OSError as e:
            logger().warning("sso: renewed the SSO token but cannot update %s: %s", path, e.strerror)
        logger().debug("sso: renewed the SSO token of sso-session %s", conf.get("sso_session"))
        return token
