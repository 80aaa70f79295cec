"""The default chain, in botocore's order, so one environment yields the same identity
under s3kit, boto3 and the AWS CLI.

explicit arguments (or a ``credentials_provider`` callable) -> environment -> assume-role
profile -> web identity -> SSO -> shared credentials file -> ``credential_process`` ->
config file keys -> container endpoint -> EC2 instance metadata.

Naming a profile explicitly drops the environment provider (as
``boto3.Session(profile_name=...)``), and the web identity provider then ignores the
``AWS_WEB_IDENTITY_TOKEN_FILE``/``AWS_ROLE_ARN`` variables.
"""

from __future__ import annotations

import os

from ..errors import CredentialsError
from . import Credentials
from .container import ContainerProvider
from .files import SharedConfig, profile_name
from .imds import IMDSProvider
from .refresh import CallbackProvider, CredentialChain, EnvProvider, StaticProvider
from .sts import AssumeRoleProvider, profile_providers

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from .refresh import CredentialProvider

__all__ = ["default_chain"]


def default_chain(
    *,
    profile: str | None = None,
    env: Mapping[str, str] = os.environ,
    access_key: str | None = None,
    secret_key: str | None = None,
    session_token: str | None = None,
    credentials_provider: Callable[[], Credentials] | None = None,
    region: str | None = None,
    mfa_prompt: Callable[[str], str] | None = None,
) -> CredentialChain:
    """The standard chain (see the module docstring). No I/O happens here: files are read
    and services asked when the chain's ``load()`` flow runs.

    ``region`` is the region STS calls use (else ``AWS_REGION``, ``AWS_DEFAULT_REGION``,
    the profile's, ``us-east-1``). ``mfa_prompt(prompt) -> code`` answers ``mfa_serial``
    profiles (default: ``getpass``). ``chain.settings()`` returns the profile's settings
    (region, endpoint_url...) for the client.
    """
    config = SharedConfig(env)
    name = profile_name(profile, env)
    explicit = profile is not None

    def settings() -> dict[str, str]:
        return config.profile(name)

    providers: list[CredentialProvider]
    if credentials_provider is not None:
        if access_key or secret_key:
            raise CredentialsError("give either access_key/secret_key or credentials_provider, not both")
        providers = [CallbackProvider(credentials_provider)]
    elif access_key or secret_key:
        if not (access_key and secret_key):
            raise CredentialsError(f"{'access_key' if access_key else 'secret_key'} was given without "
                                   f"{'secret_key' if access_key else 'access_key'}")
        providers = [StaticProvider(Credentials(access_key, secret_key, session_token))]
    else:
        providers = [] if explicit else [EnvProvider(env)]
        providers.append(AssumeRoleProvider(profile=name, config=config, env=env, region=region,
                                            mfa_prompt=mfa_prompt, explicit=explicit))
        providers += profile_providers(name, config=config, env=env, disable_env=explicit, explicit=explicit,
                                       region=region)
        providers.append(ContainerProvider(env))
        providers.append(IMDSProvider(env, settings=settings))
    return CredentialChain(providers, settings=settings, profile=name)
