"""The real test OpenID Provider, shared by the OIDC tests (see tests/support/oidc_provider.py)."""

from tests.support.oidc_provider import (  # noqa: F401 - pytest finds fixtures by name here
    oidc_provider,
    oidc_provider_userinfo_only,
)
