"""The errors of Amazon's wire protocols: a code botocore knows (`__type` in AWS
JSON 1.1, `<Code>` in the Query protocol) and a message. Handlers raise them or the
domain exceptions `operations.DOMAIN_ERRORS` maps."""

from __future__ import annotations


class AwsError(Exception):
    """An error answer: ``code`` is the exception's name as botocore's models (or
    AWS's common errors) spell it, ``status`` the HTTP status AWS sends with it."""

    code = "InvalidParameterException"
    status = 400
    sender = True  # the Query protocol's <Type>: Sender (the client's fault) or Receiver

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def __str__(self) -> str:
        return self.message


def error(code: str, message: str, *, status: int = 400) -> AwsError:
    return AwsError(message, code=code, status=status)


# Authentication (the names AWS's front door answers with, which botocore's
# exceptions carry as their error code).
class MissingAuthenticationToken(AwsError):
    code = "MissingAuthenticationTokenException"
    status = 403


class IncompleteSignature(AwsError):
    code = "IncompleteSignatureException"
    status = 400


class InvalidSignature(AwsError):
    code = "InvalidSignatureException"
    status = 403


class UnrecognizedClient(AwsError):
    code = "UnrecognizedClientException"
    status = 403


class ExpiredToken(AwsError):
    code = "ExpiredTokenException"
    status = 403


class AccessDenied(AwsError):
    code = "AccessDeniedException"
    status = 400


class Throttling(AwsError):
    code = "ThrottlingException"
    status = 400


# The protocol.
class Serialization(AwsError):
    code = "SerializationException"


class UnknownOperation(AwsError):
    code = "UnknownOperationException"


class UnsupportedOperation(AwsError):
    """An operation of the service's model that Berth has no capability for."""

    code = "UnsupportedOperationException"


class InvalidParameter(AwsError):
    code = "InvalidParameterException"


class Server(AwsError):
    code = "ServerException"
    status = 500
    sender = False
