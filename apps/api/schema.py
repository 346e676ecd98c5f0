"""drf-spectacular's description of Berth's own authentication classes."""
from drf_spectacular.extensions import OpenApiAuthenticationExtension


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
