"""drf-spectacular's description of temporary credentials: HTTP Basic with the
temporary key pair, together with the session token header."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from .authentication import SECURITY_TOKEN_HEADER


class TemporaryCredentialsScheme(OpenApiAuthenticationExtension):
    target_class = "apps.iam.authentication.TemporaryCredentialsAuthentication"
    name = ["temporaryCredentials", "securityToken"]

    def get_security_definition(self, auto_schema):
        return [
            {
                "type": "http",
                "scheme": "basic",
                "description": "A role session's temporary access key id (BSIA...) and secret, from POST "
                f"/api/v1/sts/assume-role; always with the session token in {SECURITY_TOKEN_HEADER}.",
            },
            {
                "type": "apiKey",
                "in": "header",
                "name": SECURITY_TOKEN_HEADER,
                "description": "The role session's session token (bst1...).",
            },
        ]
