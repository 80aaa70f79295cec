"""Where keys and region come from.

Two layers:

- This module (cheap to import, loaded by ``import s3kit``): :class:`Credentials`, and the
  original resolution of explicit arguments, ``AWS_*`` environment variables and the
  shared credentials/config files (:func:`resolve_credentials`, :func:`load_profile`,
  :func:`resolve_region`). Naming a profile explicitly makes the files win over the
  environment, as ``boto3.Session(profile_name=...)`` does.
- The production chain (loaded on first use of one of its names): providers for every
  source the AWS SDKs know (environment, assume-role profiles, web identity, IAM Identity
  Center/SSO, shared files, ``credential_process``, ECS/EKS container endpoints, EC2
  instance metadata), :func:`default_chain` in botocore's order, and
  :class:`RefreshingCredentials`, the cache a client holds. Providers do their network
  and process I/O as *flows* (see ``s3kit.flow``), so the same code runs under the sync
  and the async driver. See ``docs/credentials.md``.
"""

from __future__ import annotations

import os
import time

from ..errors import CredentialsError

TYPE_CHECKING = False  # importing typing costs ~7 ms; only type checkers read these blocks
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from .container import ContainerProvider
    from .default import default_chain
    from .files import ProcessProvider, SharedConfig, SharedFilesProvider
    from .imds import IMDSProvider, imds_region
    from .refresh import (
        CallbackProvider,
        CredentialChain,
        CredentialProvider,
        EnvProvider,
        RefreshingCredentials,
        StaticProvider,
    )
    from .sso import SSOProvider
    from .sts import AssumeRoleProvider, WebIdentityProvider

__all__ = [
    "Credentials", "CredentialsProvider", "resolve_credentials", "resolve_region", "load_profile",
    "CredentialProvider", "CredentialChain", "RefreshingCredentials", "default_chain",
    "StaticProvider", "CallbackProvider", "EnvProvider", "SharedFilesProvider", "ProcessProvider",
    "AssumeRoleProvider", "WebIdentityProvider", "SSOProvider", "ContainerProvider", "IMDSProvider",
    "imds_region", "SharedConfig",
]

# The chain's names live in submodules that import json, subprocess, xml...: loaded when
# first named, so ``import s3kit`` stays cheap.
_LAZY = {
    "CredentialProvider": "refresh", "CredentialChain": "refresh", "RefreshingCredentials": "refresh",
    "StaticProvider": "refresh", "CallbackProvider": "refresh", "EnvProvider": "refresh",
    "SharedFilesProvider": "files", "ProcessProvider": "files", "SharedConfig": "files",
    "AssumeRoleProvider": "sts", "WebIdentityProvider": "sts", "SSOProvider": "sso",
    "ContainerProvider": "container", "IMDSProvider": "imds", "imds_region": "imds",
    "default_chain": "default",
}


def __getattr__(name: str) -> object:
    if name == "CredentialsProvider":  # importable at run time too (collections costs 2 ms)
        from collections.abc import Callable

        return Callable
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 's3kit.credentials' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


class Credentials:
    """An access key pair, optional session token, expiry and account id.

    Secrets (``secret_key``, ``session_token``) never show in ``repr``/``str``.
    ``expires_at`` is POSIX time (None: does not expire).
    """

    __slots__ = ("access_key", "secret_key", "session_token", "expires_at", "account_id")

    def __init__(
        self,
        access_key: str,
        secret_key: str,
        session_token: str | None = None,
        expires_at: float | None = None,
        account_id: str | None = None,
    ) -> None:
        self.access_key = access_key
        self.secret_key = secret_key
        self.session_token = session_token or None
        self.expires_at = expires_at  # POSIX time; None = does not expire
        self.account_id = account_id or None

    def expiring(self, margin: float = 300.0) -> bool:
        return self.expires_at is not None and time.time() > self.expires_at - margin

    def __repr__(self) -> str:
        token = ", session_token=<hidden>" if self.session_token else ""
        extra = ""
        if self.expires_at is not None:
            extra += f", expires_at={time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(self.expires_at))}"
        if self.account_id:
            extra += f", account_id={self.account_id!r}"
        return f"Credentials(access_key={self.access_key!r}, secret_key=<hidden>{token}{extra})"

    __str__ = __repr__


if TYPE_CHECKING:
    #: A callable returning fresh credentials (STS, SSO, a vault...). Called when the current
    #: ones near ``expires_at`` or a request fails with ``ExpiredToken``.
    CredentialsProvider = Callable[[], Credentials]


def _shared_paths(env: Mapping[str, str]) -> tuple[str, str]:
    home = os.path.expanduser("~")
    creds = env.get("AWS_SHARED_CREDENTIALS_FILE") or os.path.join(home, ".aws", "credentials")
    config = env.get("AWS_CONFIG_FILE") or os.path.join(home, ".aws", "config")
    return os.path.expanduser(creds), os.path.expanduser(config)


def load_profile(profile: str | None, env: Mapping[str, str] = os.environ) -> tuple[dict[str, str], list[str]]:
    """Settings of a profile merged from the credentials and config files.

    Returns (settings, files looked at). The credentials file wins on conflicts.
    """
    import configparser  # only when the environment did not provide everything

    name = profile or env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE") or "default"
    creds_path, config_path = _shared_paths(env)
    merged: dict[str, str] = {}
    looked = []
    for path, section in ((config_path, name if name == "default" else f"profile {name}"), (creds_path, name)):
        looked.append(path)
        if not os.path.isfile(path):
            continue
        cp = configparser.RawConfigParser()
        try:
            cp.read(path, encoding="utf-8")
        except configparser.Error as e:
            raise CredentialsError(f"cannot parse {path}: {e.__class__.__name__}") from None
        for sec in (section, name) if path == config_path else (section,):
            if cp.has_section(sec):
                merged.update({k.lower(): v.strip() for k, v in cp.items(sec)})
                break
    return merged, looked


def resolve_credentials(
    access_key: str | None,
    secret_key: str | None,
    session_token: str | None,
    profile: str | None,
    env: Mapping[str, str] = os.environ,
) -> tuple[Credentials, dict[str, str]]:
    """Find credentials without any network or process I/O (arguments, environment, the
    keys in the shared files); returns them and the profile settings read (may be empty).

    The client's original resolution; :func:`default_chain` is the full chain."""
    settings: dict[str, str] = {}
    if access_key and secret_key:
        return Credentials(access_key, secret_key, session_token), settings

    env_ak = env.get("AWS_ACCESS_KEY_ID")
    env_sk = env.get("AWS_SECRET_ACCESS_KEY") or env.get("AWS_SECRET_KEY")
    looked = ["arguments", "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or AWS_SECRET_KEY)"]
    if profile is None and env_ak and env_sk and not (access_key or secret_key):
        return Credentials(env_ak, env_sk, session_token or env.get("AWS_SESSION_TOKEN")), settings

    settings, files = load_profile(profile, env)
    looked += files
    if profile is not None and not settings:
        raise CredentialsError(f"profile {profile!r} not found in {' or '.join(files)}")
    ak = access_key or settings.get("aws_access_key_id") or (None if profile else env_ak)
    sk = secret_key or settings.get("aws_secret_access_key") or (None if profile else env_sk)
    token = session_token or settings.get("aws_session_token") or (None if profile else env.get("AWS_SESSION_TOKEN"))
    missing = [what for what, v in (("access key", ak), ("secret key", sk)) if not v]
    if missing:
        raise CredentialsError(f"no {' and no '.join(missing)} found; looked in: {', '.join(looked)}")
    assert ak and sk
    return Credentials(ak, sk, token), settings


def resolve_region(region: str | None, settings: Mapping[str, str], env: Mapping[str, str] = os.environ) -> str:
    return region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or settings.get("region") or "us-east-1"
