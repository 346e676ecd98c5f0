"""drf-spectacular's description of Berth's own authentication classes."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from apps.api.authentication import NotWithLoginPassword


class AccessKeyScheme(OpenApiAuthenticationExtension):
    target_class = "apps.api.authentication.AccessKeyAuthentication"
    name = "accessKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "basic",
            "description": "HTTP Basic with an access key id as the user name and its secret as the password. "
            "Mint a key with POST /api/v1/auth/access-keys (username and password) or POST /api/v1/access-keys.",
        }


class LoginPasswordScheme(OpenApiAuthenticationExtension):
    target_class = "apps.api.authentication.LoginPasswordAuthentication"
    name = "loginPassword"

    def get_security_requirement(self, auto_schema):
        # Operations that refuse a login password do not offer it.
        if any(isinstance(permission, NotWithLoginPassword) for permission in auto_schema.view.get_permissions()):
            return None
        return super().get_security_requirement(auto_schema)

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "login password",
            "description": "A login password from POST /api/v1/authorization-token (GetAuthorizationToken), "
            "valid 12 hours by default. It cannot manage credentials (access keys, login passwords).",
        }
