"""STS: assume a role (``AssumeRole``, SigV4-signed with source credentials) or a web
identity (``AssumeRoleWithWebIdentity``, unsigned: IRSA on EKS, GitHub OIDC...).

Endpoint (botocore's order): ``AWS_ENDPOINT_URL_STS``, the profile's ``services`` section,
``AWS_ENDPOINT_URL``, the profile's ``endpoint_url``; else regional
``https://sts.<region>.amazonaws.com`` (``AWS_STS_REGIONAL_ENDPOINTS=legacy`` keeps the
global ``sts.amazonaws.com`` for the regions that used it). Query API over POST; the XML
answer's ``Expiration`` may carry microseconds.
"""

from __future__ import annotations

import os
import random
import time
from xml.etree.ElementTree import Element, ParseError, XMLParser

from .._log import logger
from ..config import Timeout
from ..errors import CredentialsError, TransportError
from ..flow import Call, Send, Sleep
from ..sigv4 import authorization, quote_param, sha256
from . import Credentials
from .container import ContainerProvider
from .files import ProcessProvider, SharedConfig, SharedFilesProvider, profile_name
from .imds import IMDSProvider
from .refresh import CredentialChain, EnvProvider, RefreshingCredentials
from .sso import SSOProvider
from .wire import Malformed, aws_host, configured_endpoint, describe, parse_time, parse_url, redact, request

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from ..flow import Flow
    from .refresh import CredentialProvider

__all__ = ["AssumeRoleProvider", "WebIdentityProvider", "sts_endpoint", "sts_call", "profile_providers"]

STS_TIMEOUT = Timeout(connect=5.0, read=20.0, pool=20.0)
_LEGACY_GLOBAL = frozenset({
    "ap-northeast-1", "ap-south-1", "ap-southeast-1", "ap-southeast-2", "aws-global", "ca-central-1",
    "eu-central-1", "eu-north-1", "eu-west-1", "eu-west-2", "eu-west-3", "sa-east-1", "us-east-1",
    "us-east-2", "us-west-1", "us-west-2"})
_RETRY_CODES = frozenset({"Throttling", "ThrottlingException", "RequestLimitExceeded", "IDPCommunicationError",
                          "InternalFailure", "ServiceUnavailable", "RequestTimeout"})
_SOURCES = ("Environment", "Ec2InstanceMetadata", "EcsContainer")


def sts_region(region: str | None, env: Mapping[str, str], settings: Mapping[str, str]) -> str:
    return (region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or settings.get("region")
            or "us-east-1")


def sts_endpoint(region: str, env: Mapping[str, str], settings: Mapping[str, str] | None = None,
                 services: Mapping[str, Mapping[str, str]] | None = None) -> tuple[str, str]:
    """(STS endpoint URL, signing region)."""
    settings = settings or {}
    url = configured_endpoint("STS", "sts", env, settings, services or {})
    if url:
        return url, region
    mode = (env.get("AWS_STS_REGIONAL_ENDPOINTS") or settings.get("sts_regional_endpoints") or "regional").lower()
    if mode == "legacy" and region in _LEGACY_GLOBAL:
        return "https://sts.amazonaws.com", "us-east-1"
    return "https://" + aws_host("sts", region), region


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _find(el: Element, name: str) -> Element | None:
    for child in el.iter():
        if _local(child.tag) == name:
            return child
    return None


def _parse_xml(body: bytes) -> Element:
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise Malformed("refusing XML with a DTD")
    parser = XMLParser()
    try:
        parser.feed(body)
        return parser.close()
    except ParseError:
        raise Malformed(f"malformed XML ({len(body)} bytes)") from None  # never the body: it holds secrets


def parse_sts_credentials(body: bytes) -> Credentials:
    """Credentials from an AssumeRole* answer (account id from the assumed role's ARN)."""
    root = _parse_xml(body)
    c = _find(root, "Credentials")
    if c is None:
        raise Malformed("no <Credentials> in the answer")
    values = {_local(x.tag): (x.text or "").strip() for x in c}
    missing = [k for k in ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration") if not values.get(k)]
    if missing:
        raise Malformed(f"the answer lacks {', '.join(missing)}")
    expires = parse_time(values["Expiration"])
    account = None
    arn = _find(root, "Arn")
    if arn is not None and arn.text and arn.text.count(":") >= 5:
        account = arn.text.split(":")[4] or None
    return Credentials(values["AccessKeyId"], values["SecretAccessKey"], values["SessionToken"], expires, account)


def _sts_error(body: bytes) -> tuple[str, str]:
    try:
        root = _parse_xml(body)
    except ValueError:
        return "", ""
    code, msg = _find(root, "Code"), _find(root, "Message")
    return ((code.text or "").strip() if code is not None else "", (msg.text or "").strip() if msg is not None else "")


def sts_call(provider: str, url: str, region: str, params: Mapping[str, str], *,
             credentials: Credentials | None = None, secrets: tuple[str | None, ...] = (),
             attempts: int = 3) -> Flow[Credentials]:
    """POST one STS Query API action; signed with ``credentials`` when given. Retries
    transport failures, 5xx and throttling (``attempts`` in all, with backoff)."""
    ep = parse_url(url, provider)
    action = params.get("Action", "STS")
    body = "&".join(f"{quote_param(k)}={quote_param(v)}" for k, v in params.items()).encode()
    hidden = (*secrets, *(credentials and (credentials.secret_key, credentials.session_token) or ()))
    last = ""
    for attempt in range(attempts):
        if attempt:
            yield Sleep(random.uniform(0, min(2.0, 0.2 * 2 ** attempt)))
        headers = {"host": ep.host_header, "content-type": "application/x-www-form-urlencoded; charset=utf-8"}
        if credentials is not None:
            amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
            headers["x-amz-date"] = amz_date
            if credentials.session_token:
                headers["x-amz-security-token"] = credentials.session_token
            headers["authorization"] = authorization(
                "POST", ep.path + "/", "", headers, sha256(body).hexdigest(), access_key=credentials.access_key,
                secret_key=credentials.secret_key, region=region, amz_date_=amz_date, service="sts")
        try:
            res = yield Send(request("POST", ep, "/", headers=headers, body=body, timeout=STS_TIMEOUT))
        except TransportError as e:
            last = describe(e)
            logger().debug("%s: STS %s at %s failed: %s", provider, action, ep.url, last)
            continue
        if res.status == 200:
            try:
                return parse_sts_credentials(res.body)
            except ValueError as e:
                raise CredentialsError(f"{provider}: STS {action} at {ep.url} answered something unusable: "
                                       f"{e}") from None
        code, message = _sts_error(res.body)
        detail = redact(f"{code}: {message}" if code else message or "no error details", hidden, 300)
        last = f"HTTP {res.status} {detail}"
        if res.status >= 500 or res.status == 429 or code in _RETRY_CODES:
            logger().debug("%s: STS %s at %s: %s (retrying)", provider, action, ep.url, last)
            continue
        raise CredentialsError(f"{provider}: STS {action} at {ep.url} failed: {last}", status=res.status)
    raise CredentialsError(f"{provider}: STS {action} at {ep.url} failed after {attempts} attempts: {last}")


def _read_text(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def _session_name() -> str:
    return f"s3kit-session-{int(time.time())}"


def _duration(value: str | int | None, where_: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        logger().warning("%s: duration_seconds %r is not a whole number; ignored", where_, value)
        return None


class _Context:
    """What the STS providers share: the files, the active profile and the call region."""

    def __init__(self, profile: str | None, config: SharedConfig | None, env: Mapping[str, str],
                 explicit: bool | None, region: str | None) -> None:
        self.env = env
        self.config = config or SharedConfig(env)
        self.profile = profile_name(profile, env)
        self.explicit = profile is not None if explicit is None else explicit
        self.region = region

    def endpoint(self, settings: Mapping[str, str]) -> tuple[str, str]:
        """(url, signing region) for STS, from the active profile's settings."""
        services = self.config.services(settings) if settings.get("services") else {}
        return sts_endpoint(sts_region(self.region, self.env, settings), self.env, settings, services)


class WebIdentityProvider:
    """``AssumeRoleWithWebIdentity`` with a token read from a file on every load (it is
    rotated: EKS IRSA, Kubernetes projected tokens). Settings, each from the environment
    first (unless ``disable_env``) then the profile: ``AWS_WEB_IDENTITY_TOKEN_FILE`` /
    ``web_identity_token_file``, ``AWS_ROLE_ARN`` / ``role_arn``, ``AWS_ROLE_SESSION_NAME`` /
    ``role_session_name``; or given as arguments. None when no token file is configured."""

    name = "web-identity"

    def __init__(self, role_arn: str | None = None, token_file: str | None = None, *,
                 session_name: str | None = None, duration_seconds: int | None = None, profile: str | None = None,
                 config: SharedConfig | None = None, env: Mapping[str, str] = os.environ, disable_env: bool = False,
                 region: str | None = None, endpoint: str | None = None, explicit: bool | None = None) -> None:
        self.role_arn = role_arn
        self.token_file = token_file
        self.session_name = session_name
        self.duration_seconds = duration_seconds
        self.disable_env = disable_env
        self.endpoint = endpoint
        self._ctx = _Context(profile, config, env, explicit, region)
        self._default_session = _session_name()
        self.where = (f"web identity (AWS_WEB_IDENTITY_TOKEN_FILE / web_identity_token_file of profile "
                      f"{self._ctx.profile!r} not set)")

    def _get(self, key: str, env_key: str, settings: Mapping[str, str]) -> str | None:
        if not self.disable_env and self._ctx.env.get(env_key):
            return self._ctx.env[env_key]
        return settings.get(key) or None

    def load(self) -> Flow[Credentials | None]:
        ctx = self._ctx
        cfg: SharedConfig = yield Call(ctx.config.load)
        # given as arguments: the profile only supplies region/endpoint settings, if it exists
        settings = cfg.profile(ctx.profile) if self.role_arn and self.token_file else \
            cfg.require(ctx.profile, ctx.explicit)
        token_file = self.token_file or self._get("web_identity_token_file", "AWS_WEB_IDENTITY_TOKEN_FILE", settings)
        if not token_file:
            return None
        role_arn = self.role_arn or self._get("role_arn", "AWS_ROLE_ARN", settings)
        if not role_arn:
            raise CredentialsError(f"{self.name}: a web identity token file is configured but no role ARN "
                                   f"(AWS_ROLE_ARN or role_arn in profile {ctx.profile!r})")
        session = (self.session_name or self._get("role_session_name", "AWS_ROLE_SESSION_NAME", settings)
                   or self._default_session)
        self.where = f"web identity ({role_arn})"
        try:
            token: str = yield Call(_read_text, os.path.expanduser(token_file))
        except OSError as e:
            raise CredentialsError(f"{self.name}: cannot read the web identity token file {token_file!r}: "
                                   f"{type(e).__name__}: {e.strerror}") from None
        token = token.strip()
        if not token:
            raise CredentialsError(f"{self.name}: the web identity token file {token_file!r} is empty")
        if self.endpoint:
            url, region = self.endpoint, sts_region(ctx.region, ctx.env, settings)
        else:
            url, region = ctx.endpoint(settings)
        params = {"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15", "RoleArn": role_arn,
                  "RoleSessionName": session, "WebIdentityToken": token}
        duration = self.duration_seconds or _duration(settings.get("duration_seconds"), self.name)
        if duration:
            params["DurationSeconds"] = str(duration)
        creds = yield from sts_call(self.name, url, region, params, secrets=(token,))
        return creds


def profile_providers(profile: str, *, config: SharedConfig, env: Mapping[str, str], disable_env: bool,
                      explicit: bool, region: str | None = None,
                      sso_endpoint: str | None = None) -> list[CredentialProvider]:
    """The providers that read one profile, in botocore's order (``ProfileProviderBuilder``):
    web identity, SSO, shared credentials file, credential_process, config file keys."""
    return [
        WebIdentityProvider(profile=profile, config=config, env=env, disable_env=disable_env, region=region,
                            explicit=explicit),
        SSOProvider(profile=profile, config=config, env=env, endpoint=sso_endpoint, explicit=explicit),
        SharedFilesProvider(profile, kind="credentials", config=config, env=env, explicit=explicit),
        ProcessProvider(profile, config=config, env=env, explicit=explicit),
        SharedFilesProvider(profile, kind="config", config=config, env=env, explicit=explicit),
    ]


def _getpass(prompt: str) -> str:
    import getpass

    return getpass.getpass(prompt)


class AssumeRoleProvider:
    """``AssumeRole`` signed with source credentials.

    Two ways to configure it:

    - Arguments: ``AssumeRoleProvider("arn:aws:iam::1:role/x", source=EnvProvider())``;
      ``source`` is a provider, a :class:`CredentialChain` or a :class:`RefreshingCredentials`.
    - A profile with ``role_arn`` and exactly one of ``source_profile`` (resolved
      recursively: chained roles; loops are refused) or ``credential_source``
      (``Environment``, ``Ec2InstanceMetadata``, ``EcsContainer``); optional
      ``external_id``, ``mfa_serial``, ``role_session_name``, ``duration_seconds``. None
      when the profile has no ``role_arn`` (or is a web identity profile).

    With ``mfa_serial``, ``mfa_prompt(prompt)`` (default ``getpass``, run through ``Call``)
    is asked for a code on every AssumeRole call, so only when credentials are needed.
    Source credentials are cached and refreshed on their own schedule.
    """

    name = "assume-role"

    def __init__(self, role_arn: str | None = None,
                 source: CredentialProvider | CredentialChain | RefreshingCredentials | None = None, *,
                 session_name: str | None = None, external_id: str | None = None, mfa_serial: str | None = None,
                 mfa_prompt: Callable[[str], str] | None = None, duration_seconds: int | None = None,
                 policy: str | None = None, profile: str | None = None, config: SharedConfig | None = None,
                 env: Mapping[str, str] = os.environ, region: str | None = None, endpoint: str | None = None,
                 explicit: bool | None = None, sso_endpoint: str | None = None) -> None:
        if (role_arn is None) != (source is None):
            raise CredentialsError("AssumeRoleProvider needs both role_arn and source, or neither (profile mode)")
        self.role_arn = role_arn
        self.source: RefreshingCredentials | None = None
        if source is not None:
            self.source = source if isinstance(source, RefreshingCredentials) else RefreshingCredentials(source)
        self.session_name = session_name or _session_name()
        self.external_id = external_id
        self.mfa_serial = mfa_serial
        self.mfa_prompt = mfa_prompt or _getpass
        self.duration_seconds = duration_seconds
        self.policy = policy
        self.endpoint = endpoint
        self.sso_endpoint = sso_endpoint
        self._ctx = _Context(profile, config, env, explicit, region)
        self._resolved: AssumeRoleProvider | None = None
        self.where = (f"assume-role ({role_arn})" if role_arn else
                      f"assume-role (no role_arn in profile {self._ctx.profile!r})")

    # -- profile mode ---------------------------------------------------------------------

    def _resolve(self, cfg: SharedConfig, name: str, visited: list[str], settings: Mapping[str, str],
                 endpoint: str, region: str) -> AssumeRoleProvider:
        prof = cfg.profile(name)
        role_arn = prof["role_arn"]
        sp, cs = prof.get("source_profile"), prof.get("credential_source")
        ctx = self._ctx
        if sp and cs:
            raise CredentialsError(f"{self.name}: profile {name!r} has both source_profile and credential_source")
        if not sp and not cs:
            raise CredentialsError(f"{self.name}: profile {name!r} has role_arn but neither source_profile "
                                   f"nor credential_source")
        source: CredentialProvider | CredentialChain
        if cs:
            if cs == "Environment":
                source = EnvProvider(ctx.env)
            elif cs == "Ec2InstanceMetadata":
                source = IMDSProvider(ctx.env, settings=lambda: settings)
            elif cs == "EcsContainer":
                source = ContainerProvider(ctx.env)
            else:
                raise CredentialsError(f"{self.name}: credential_source {cs!r} of profile {name!r} is not one of "
                                       f"{', '.join(_SOURCES)}")
        else:
            assert sp
            if not cfg.has_profile(sp):
                raise CredentialsError(f"{self.name}: source_profile {sp!r} of profile {name!r} does not exist")
            src = cfg.profile(sp)
            static = "aws_access_key_id" in src or "aws_secret_access_key" in src
            if sp in visited and not (sp == name and static):
                raise CredentialsError(f"{self.name}: source_profile loop: {' -> '.join([*visited, sp])}")
            if static or "role_arn" not in src or "web_identity_token_file" in src:
                source = CredentialChain(profile_providers(sp, config=cfg, env=ctx.env, disable_env=True,
                                                           explicit=True, region=ctx.region,
                                                           sso_endpoint=self.sso_endpoint))
            else:
                source = self._resolve(cfg, sp, [*visited, sp], settings, endpoint, region)
        return AssumeRoleProvider(
            role_arn, source, session_name=prof.get("role_session_name") or self.session_name,
            external_id=prof.get("external_id"), mfa_serial=prof.get("mfa_serial"), mfa_prompt=self.mfa_prompt,
            duration_seconds=_duration(prof.get("duration_seconds"), f"{self.name} profile {name!r}"),
            env=ctx.env, region=region, endpoint=endpoint, explicit=True)

    def load(self) -> Flow[Credentials | None]:
        if self.role_arn is None:
            ctx = self._ctx
            cfg: SharedConfig = yield Call(ctx.config.load)
            settings = cfg.require(ctx.profile, ctx.explicit)
            if "role_arn" not in settings or "web_identity_token_file" in settings:
                return None
            if self._resolved is None:
                url, region = (self.endpoint, sts_region(ctx.region, ctx.env, settings)) if self.endpoint else \
                    ctx.endpoint(settings)
                self._resolved = self._resolve(cfg, ctx.profile, [ctx.profile], settings, url, region)
            self.where = f"assume-role ({self._resolved.role_arn}, profile {ctx.profile!r})"
            creds = yield from self._resolved.load()
            return creds
        return (yield from self._assume())

    # -- the call ---------------------------------------------------------------------------

    def _assume(self) -> Flow[Credentials]:
        assert self.role_arn is not None and self.source is not None
        try:
            source = yield from self.source.current()
        except CredentialsError as e:
            raise CredentialsError(f"{self.name}: no source credentials for {self.role_arn}: {e.message}") from None
        ctx = self._ctx
        if self.endpoint:
            url, region = self.endpoint, sts_region(ctx.region, ctx.env, {})
        else:
            url, region = sts_endpoint(sts_region(ctx.region, ctx.env, {}), ctx.env)
        params = {"Action": "AssumeRole", "Version": "2011-06-15", "RoleArn": self.role_arn,
                  "RoleSessionName": self.session_name}
        if self.external_id:
            params["ExternalId"] = self.external_id
        if self.duration_seconds:
            params["DurationSeconds"] = str(self.duration_seconds)
        if self.policy:
            params["Policy"] = self.policy
        code = None
        if self.mfa_serial:
            params["SerialNumber"] = self.mfa_serial
            try:
                code = yield Call(self.mfa_prompt, f"Enter MFA code for {self.mfa_serial}: ")
            except Exception as e:  # getpass without a terminal, a prompt callable failing...
                raise CredentialsError(f"{self.name}: asking for the MFA code for {self.mfa_serial} failed: "
                                       f"{type(e).__name__}") from None
            code = (code or "").strip()
            if not code:
                raise CredentialsError(f"{self.name}: no MFA code was entered for {self.mfa_serial}")
            params["TokenCode"] = code
        logger().debug("%s: AssumeRole %s at %s with credentials from %s", self.name, self.role_arn, url,
                       self.source.source)
        creds = yield from sts_call(self.name, url, region, params, credentials=source,
                                    secrets=(code, self.external_id))
        return creds

