"""The shared AWS files (``~/.aws/credentials``, ``~/.aws/config``) and the providers that
read keys from them or run the profile's ``credential_process``."""

from __future__ import annotations

import configparser
import os
import shlex
import subprocess
from _thread import allocate_lock

from ..errors import CredentialsError
from ..flow import Call
from . import Credentials, _shared_paths
from .wire import loads_json, parse_time, redact

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..flow import Flow

__all__ = ["SharedConfig", "SharedFilesProvider", "ProcessProvider", "profile_name"]


def profile_name(profile: str | None, env: Mapping[str, str]) -> str:
    return profile or env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE") or "default"


def _parse(path: str) -> configparser.RawConfigParser | None:
    if not os.path.isfile(path):
        return None
    cp = configparser.RawConfigParser()
    try:
        cp.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as e:
        raise CredentialsError(f"cannot parse {path}: {e.__class__.__name__}") from None
    return cp


def _items(cp: configparser.RawConfigParser, section: str) -> dict[str, str]:
    return {k.lower(): v.strip() for k, v in cp.items(section)}


def nested(value: str) -> dict[str, str]:
    """An indented sub-section value (``sts =\\n  endpoint_url = ...``) as a dict."""
    out = {}
    for line in value.splitlines():
        k, sep, v = line.partition("=")
        if sep and k.strip():
            out[k.strip().lower()] = v.strip()
    return out


class SharedConfig:
    """Both shared files, parsed once on first :meth:`load` (blocking: run it in ``Call``).

    Paths: ``AWS_SHARED_CREDENTIALS_FILE`` and ``AWS_CONFIG_FILE``, else ``~/.aws/...``.
    Config sections ``[default]``, ``[profile NAME]`` (and, leniently, ``[NAME]``),
    ``[sso-session NAME]`` and ``[services NAME]`` are understood.
    """

    def __init__(self, env: Mapping[str, str] = os.environ) -> None:
        self.env = env
        self.credentials_path, self.config_path = _shared_paths(env)
        self._lock = allocate_lock()
        self._loaded = False
        self._config: dict[str, dict[str, str]] = {}
        self._credentials: dict[str, dict[str, str]] = {}
        self._sso_sessions: dict[str, dict[str, str]] = {}
        self._services: dict[str, dict[str, str]] = {}

    def load(self) -> SharedConfig:
        if self._loaded:
            return self
        with self._lock:
            if self._loaded:
                return self
            config: dict[str, dict[str, str]] = {}
            plain: dict[str, dict[str, str]] = {}
            sso: dict[str, dict[str, str]] = {}
            services: dict[str, dict[str, str]] = {}
            cp = _parse(self.config_path)
            if cp is not None:
                for section in cp.sections():
                    kind, _, rest = section.partition(" ")
                    rest = rest.strip()
                    if section == "default":
                        config.setdefault("default", {}).update(_items(cp, section))
                    elif kind == "profile" and rest:
                        config.setdefault(rest, {}).update(_items(cp, section))
                    elif kind == "sso-session" and rest:
                        sso[rest] = _items(cp, section)
                    elif kind == "services" and rest:
                        services[rest] = _items(cp, section)
                    elif " " not in section:
                        plain[section] = _items(cp, section)
            for name, values in plain.items():  # [name] only where no [profile name] exists
                config.setdefault(name, values)
            creds: dict[str, dict[str, str]] = {}
            cp = _parse(self.credentials_path)
            if cp is not None:
                for section in cp.sections():
                    creds[section.strip()] = _items(cp, section)
            self._config, self._credentials, self._sso_sessions, self._services = config, creds, sso, services
            self._loaded = True
        return self

    def files(self) -> str:
        return f"{self.config_path} or {self.credentials_path}"

    def config_profile(self, name: str) -> dict[str, str] | None:
        return self.load()._config.get(name)

    def credentials_profile(self, name: str) -> dict[str, str] | None:
        return self.load()._credentials.get(name)

    def has_profile(self, name: str) -> bool:
        self.load()
        return name in self._config or name in self._credentials

    def profile(self, name: str) -> dict[str, str]:
        """The profile's settings from both files (the credentials file wins)."""
        self.load()
        merged = dict(self._config.get(name, {}))
        merged.update(self._credentials.get(name, {}))
        return merged

    def require(self, name: str, explicit: bool) -> dict[str, str]:
        """The profile's settings; a CredentialsError when a profile that was asked for
        (explicitly or by ``AWS_PROFILE``) does not exist."""
        if (explicit or name != "default") and not self.has_profile(name):
            raise CredentialsError(f"profile {name!r} not found in {self.files()}")
        return self.profile(name)

    def sso_session(self, name: str) -> dict[str, str] | None:
        return self.load()._sso_sessions.get(name)

    def services(self, settings: Mapping[str, str]) -> dict[str, dict[str, str]]:
        """Per-service settings of the ``[services NAME]`` section the profile names."""
        name = settings.get("services")
        if not name:
            return {}
        section = self.load()._services.get(name)
        if section is None:
            raise CredentialsError(f"the services section {name!r} named by the profile does not exist")
        return {k: nested(v) for k, v in section.items()}


_TOKENS = ("aws_session_token", "aws_security_token")


class SharedFilesProvider:
    """Keys in the profile's section of the shared credentials file (``kind="credentials"``,
    name ``shared-credentials-file``) or of the config file (``kind="config"``, name
    ``config-file``): ``aws_access_key_id``, ``aws_secret_access_key``,
    ``aws_session_token``, ``aws_account_id``."""

    def __init__(self, profile: str | None = None, *, kind: str = "credentials", config: SharedConfig | None = None,
                 env: Mapping[str, str] = os.environ, explicit: bool | None = None) -> None:
        if kind not in ("credentials", "config"):
            raise CredentialsError("SharedFilesProvider kind must be 'credentials' or 'config'")
        self.kind = kind
        self.name = "shared-credentials-file" if kind == "credentials" else "config-file"
        self.config = config or SharedConfig(env)
        self.profile = profile_name(profile, env)
        self.explicit = profile is not None if explicit is None else explicit
        path = self.config.credentials_path if kind == "credentials" else self.config.config_path
        self.where = f"{path} [{self.profile}]"

    def load(self) -> Flow[Credentials | None]:
        cfg: SharedConfig = yield Call(self.config.load)
        cfg.require(self.profile, self.explicit)
        section = cfg.credentials_profile(self.profile) if self.kind == "credentials" else \
            cfg.config_profile(self.profile)
        if not section or "aws_access_key_id" not in section:
            return None
        ak = section["aws_access_key_id"]
        sk = section.get("aws_secret_access_key")
        if not ak or not sk:
            raise CredentialsError(f"{self.name}: profile {self.profile!r} in {self.where.rsplit(' [', 1)[0]} has "
                                   f"aws_access_key_id but no aws_secret_access_key")
        token = next((section[k] for k in _TOKENS if section.get(k)), None)
        return Credentials(ak, sk, token, None, section.get("aws_account_id"))


def _run(argv: list[str] | str, timeout: float | None) -> tuple[int, bytes, bytes]:
    p = subprocess.run(argv, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


class ProcessProvider:
    """The profile's ``credential_process``: run (shell-split, no shell), JSON on stdout:
    ``{"Version": 1, "AccessKeyId", "SecretAccessKey", "SessionToken"?, "Expiration"?,
    "AccountId"?}``. Run again on every refresh (when ``Expiration`` is given).

    ``command`` gives the command line directly instead of reading it from the profile.
    ``timeout`` (seconds, default none) bounds the process."""

    name = "credential-process"

    def __init__(self, profile: str | None = None, *, command: str | None = None, config: SharedConfig | None = None,
                 env: Mapping[str, str] = os.environ, timeout: float | None = None,
                 explicit: bool | None = None) -> None:
        self.command = command
        self.config = config or SharedConfig(env)
        self.profile = profile_name(profile, env)
        self.explicit = profile is not None if explicit is None else explicit
        self.timeout = timeout
        self.where = f"credential_process of profile {self.profile!r}"

    def load(self) -> Flow[Credentials | None]:
        command = self.command
        settings: dict[str, str] = {}
        if command is None:
            cfg: SharedConfig = yield Call(self.config.load)
            settings = cfg.require(self.profile, self.explicit)
            command = settings.get("credential_process")
            if not command:
                return None
        argv: list[str] | str
        try:
            argv = command if os.name == "nt" else shlex.split(command)
        except ValueError as e:
            raise CredentialsError(f"{self.name}: cannot split the command line ({e})") from None
        if not argv:
            raise CredentialsError(f"{self.name}: the command line is empty")
        program = argv[0] if isinstance(argv, list) else argv.split()[0]  # never the arguments: they may hold secrets
        try:
            code, out, err = yield Call(_run, argv, self.timeout)
        except subprocess.TimeoutExpired:
            raise CredentialsError(f"{self.name}: {program} did not finish within {self.timeout:g} s") from None
        except OSError as e:
            raise CredentialsError(f"{self.name}: cannot run {program}: {type(e).__name__}: {e.strerror}") from None
        if code != 0:
            text = redact(err.decode("utf-8", "replace"), [], 500)
            raise CredentialsError(f"{self.name}: {program} exited with status {code}"
                                   + (f": {text}" if text else " (no stderr)"))
        try:
            doc = loads_json(out)
        except ValueError as e:
            raise CredentialsError(f"{self.name}: {program} printed invalid output: {e}") from None
        if not isinstance(doc, dict):
            raise CredentialsError(f"{self.name}: {program} printed JSON that is not an object")
        if doc.get("Version") != 1:
            raise CredentialsError(f"{self.name}: unsupported Version {doc.get('Version', '(missing)')!r} "
                                   f"from {program} (supported: 1)")
        ak, sk = doc.get("AccessKeyId"), doc.get("SecretAccessKey")
        missing = [k for k, v in (("AccessKeyId", ak), ("SecretAccessKey", sk)) if not isinstance(v, str) or not v]
        if missing:
            raise CredentialsError(f"{self.name}: {program} printed no {' and no '.join(missing)}")
        token = doc.get("SessionToken")
        expires_at = None
        if doc.get("Expiration"):
            try:
                expires_at = parse_time(doc["Expiration"])
            except ValueError:
                raise CredentialsError(f"{self.name}: {program} printed an Expiration that is not "
                                       f"ISO 8601") from None
        account = doc.get("AccountId") or settings.get("aws_account_id")
        return Credentials(ak, sk, token if isinstance(token, str) else None, expires_at,  # type: ignore[arg-type]
                           account if isinstance(account, str) else None)
