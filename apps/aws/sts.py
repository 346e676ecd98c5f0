"""STS over the AWS Query protocol: AssumeRole and GetCallerIdentity, calling the
same services as the management API's /api/v1/sts/ views. Every other operation
of botocore's sts model answers UnsupportedOperationException with the reason."""

from __future__ import annotations

from apps.iam import enforcement
from apps.iam import selectors as iam_selectors
from apps.iam import services as iam_services
from apps.iam.models import DEFAULT_SESSION_SECONDS
from apps.kernel.arn import ArnError
from apps.kernel.requests import client_ip

from . import protocol
from .errors import AccessDenied, InvalidParameter
from .operations import Call, operation, unsupported

# AssumeRole's parameters that would change what the session may do or who may
# start it, which Berth has no capability for: refused rather than ignored, so
# that a session never gets more than its caller asked for.
_UNSUPPORTED_ASSUME_ROLE_PARAMETERS = {
    "Policy": "session policies",
    "PolicyArns": "session policies",
    "Tags": "session tags",
    "TransitiveTagKeys": "session tags",
    "ExternalId": "external ids (sts:ExternalId in trust policies)",
    "SerialNumber": "MFA",
    "TokenCode": "MFA",
    "SourceIdentity": "source identities",
    "ProvidedContexts": "provided contexts (trusted identity propagation)",
}


@operation(protocol.STS, "AssumeRole")
def assume_role(call: Call) -> dict:
    params = call.params
    given = [name for name in _UNSUPPORTED_ASSUME_ROLE_PARAMETERS if name in params]
    if given:
        features = sorted({_UNSUPPORTED_ASSUME_ROLE_PARAMETERS[name] for name in given})
        raise InvalidParameter(f"Berth's AssumeRole does not support {', '.join(given)} ({'; '.join(features)})")
    role_arn, session_name = params["RoleArn"], params["RoleSessionName"]
    duration = params.get("DurationSeconds", DEFAULT_SESSION_SECONDS)
    # The trust policy decides, not the identity policies alone: services.assume_role evaluates both.
    draft = enforcement.begin_event(
        call.request,
        call.caller,
        "sts:AssumeRole",
        recipient_account_id="",
        roleArn=role_arn,
        roleSessionName=session_name,
        durationSeconds=duration,
    )
    try:
        assumed = iam_services.assume_role(
            caller=call.caller,
            role_arn=role_arn,
            session_name=session_name,
            duration_seconds=duration,
            source_ip=client_ip(call.request) or None,
            secure_transport=call.request.is_secure(),
            context=call.context,
        )
    except ArnError as exc:
        raise InvalidParameter(f"RoleArn: {exc}") from None
    except iam_services.NameInvalid as exc:
        raise InvalidParameter(f"RoleSessionName: {exc}") from None
    except iam_services.SessionDurationInvalid as exc:
        raise InvalidParameter(f"DurationSeconds: {exc}") from None
    except iam_services.AssumeRoleRefused as exc:
        draft.refuse(str(exc))
        raise AccessDenied(str(exc)) from None
    return {
        "Credentials": {
            "AccessKeyId": assumed.session.access_key_id,
            "SecretAccessKey": assumed.secret_access_key,
            "SessionToken": assumed.session_token,
            "Expiration": assumed.expires_at,
        },
        "AssumedRoleUser": {"AssumedRoleId": assumed.session.assumed_role_id, "Arn": assumed.arn},
    }


@operation(protocol.STS, "GetCallerIdentity")
def get_caller_identity(call: Call) -> dict:
    caller = call.caller
    # As in AWS, no policy can refuse a caller its own identity: the call is only recorded.
    enforcement.begin_event(call.request, caller, "sts:GetCallerIdentity", recipient_account_id=caller.account_id)
    identity = iam_selectors.caller_identity(caller, call.signer.session)
    return {"UserId": identity.user_id, "Account": identity.account, "Arn": identity.arn}


unsupported(
    protocol.STS,
    ["AssumeRoleWithSAML", "AssumeRoleWithWebIdentity"],
    "Berth has no identity providers (SAML or OpenID Connect) to federate with; use AssumeRole with a Berth access key",
)
unsupported(
    protocol.STS,
    ["GetSessionToken", "GetFederationToken"],
    "Berth issues temporary credentials only for roles: use AssumeRole",
)
unsupported(
    protocol.STS,
    ["AssumeRoot"],
    "Berth has no organizations: an account's root user signs in with its own credentials",
)
unsupported(
    protocol.STS,
    ["DecodeAuthorizationMessage"],
    "Berth's AccessDenied messages are not encoded: they already say which policy refused",
)
unsupported(
    protocol.STS,
    ["GetAccessKeyInfo"],
    "Berth does not say which account holds another's access key; GET /api/v1/access-keys lists your own",
)
unsupported(
    protocol.STS,
    [
        "GetCertificate",
        "GetDelegatedAccessToken",
        "GetScopedCredentials",
        "GetTrustBundles",
        "GetWebIdentityToken",
        "IssueWorkloadIdentityContext",
    ],
    "Berth has no capability for this STS feature (certificates, delegated, scoped or web identity tokens, "
    "trust bundles, workload identities)",
)
