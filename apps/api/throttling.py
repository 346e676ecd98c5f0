"""Request budgets of the management API, per principal and per client address.

DRF's own throttles key a user by ``user.pk`` and an address by X-Forwarded-For
as DRF reads it. Here a role session (whose request.user is no database user)
has a budget of its own, and the address is the request context's
(apps.kernel.requests), which believes X-Forwarded-For only from
BERTH_TRUSTED_PROXIES."""

from __future__ import annotations

from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from apps.iam.models import RoleSession
from apps.kernel.requests import client_ip


class PrincipalRateThrottle(UserRateThrottle):
    def get_ident(self, request) -> str:
        return client_ip(request)

    def get_cache_key(self, request, view):
        if isinstance(request.auth, RoleSession):
            return self.cache_format % {"scope": self.scope, "ident": f"role-session-{request.auth.pk}"}
        return super().get_cache_key(request, view)


class AddressRateThrottle(AnonRateThrottle):
    def get_ident(self, request) -> str:
        return client_ip(request)
