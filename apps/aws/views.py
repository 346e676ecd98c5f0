"""`POST /`: the AWS endpoint. A request carrying `X-Amz-Target` is AWS JSON 1.1
(ECR, ECR Public); one without, whose body is a form, is the AWS Query protocol
(STS); the root URLconf sends everything else at `/` to the gallery."""

from __future__ import annotations

import json
import logging

from django.core.exceptions import BadRequest, SuspiciousOperation
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework.throttling import SimpleRateThrottle

from apps.audit import events
from apps.kernel.requests import request_context

from . import operations, protocol, query, signing
from .errors import AwsError, Serialization, Server, Throttling, UnknownOperation

logger = logging.getLogger(__name__)

# The largest body read: UploadLayerPart's base64 layer part (ECR takes parts of
# up to 20 MiB, 27 MiB once encoded) and room for the rest of the JSON.
MAX_BODY_BYTES = 28 * 1024 * 1024


def is_aws_request(request) -> bool:
    """Is this `POST /` meant for the AWS endpoint rather than the gallery?"""
    return request.method == "POST" and (
        "HTTP_X_AMZ_TARGET" in request.META
        or request.META.get("HTTP_AUTHORIZATION", "").startswith(signing.ALGORITHM)
        or _is_query_form(request)
    )


def _is_query_form(request) -> bool:
    """A form body naming an `Action`: an AWS Query request (signed or not, it is
    answered in the Query protocol's words, not with the gallery's 405)."""
    if request.content_type != query.FORM_CONTENT_TYPE:
        return False
    try:
        return bool(request.POST.get("Action"))
    except (BadRequest, SuspiciousOperation):  # too large, too many fields, not UTF-8: not one of AWS's
        return False


def read_body(request) -> bytes:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise Serialization("Content-Length is not a number") from None
    if length > MAX_BODY_BYTES:
        raise Serialization(f"the request body is larger than {MAX_BODY_BYTES} bytes")
    body = request.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        raise Serialization(f"the request body is larger than {MAX_BODY_BYTES} bytes")
    return body


def _target(request) -> tuple[str, str]:
    target = request.META.get("HTTP_X_AMZ_TARGET", "")
    prefix, _, name = target.partition(".")
    service = protocol.TARGET_PREFIXES.get(prefix)
    if service is None or not name:
        raise UnknownOperation(
            f"X-Amz-Target {target[:120]!r} names no service Berth answers: "
            + " or ".join(f"{prefix}.<Operation>" for prefix in protocol.TARGET_PREFIXES)
        )
    return service, name


def json_response(status: int, body: dict, *, request_id: str, error_type: str = "") -> HttpResponse:
    response = HttpResponse(
        json.dumps(body, separators=(",", ":")), status=status, content_type=protocol.JSON_CONTENT_TYPE
    )
    response["x-amzn-RequestId"] = request_id
    if error_type:
        response["x-amzn-ErrorType"] = error_type
    return response


def error_answer(request, exc: AwsError, render) -> HttpResponse:
    """``exc`` as ``render`` writes it; the request's audit event, if one was
    started, records its code."""
    draft = events.current(request)
    if draft is not None and not draft.error_code:
        draft.error_code, draft.error_message = exc.code, exc.message
    return render(exc)


class _PrincipalBudget(SimpleRateThrottle):
    """The management API's request budget of a principal (BERTH_API_THROTTLE_USER),
    kept under the same cache key, so that a user has one budget whichever API it
    calls: a user by its id, a role session by its own."""

    scope = "user"

    def __init__(self, signer: signing.Signer) -> None:
        super().__init__()
        if signer.session is not None:
            self.ident = f"role-session-{signer.session.pk}"
        else:
            self.ident = str(signer.access_key.user_id)

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.ident}


def _verified(request, body: bytes, service: str) -> signing.Signer:
    """Who signed the request (signing.verify), within its principal's request budget."""
    signer = signing.verify(request, body, services=(protocol.signing_name(service),))
    budget = _PrincipalBudget(signer)
    if not budget.allow_request(request, None):
        raise Throttling(f"Rate exceeded: try again in {max(1, round(budget.wait() or 1))} s")
    return signer


def _run(call: operations.Call, found: operations.Operation):
    try:
        return operations.run(call, found)
    except AwsError:
        raise
    except Exception as exc:  # a domain refusal, or a bug
        aws_error = operations.as_aws_error(exc)
        if aws_error is None:
            raise
        raise aws_error from exc


@csrf_exempt
def endpoint(request) -> HttpResponse:
    """One AWS JSON 1.1 request: check the signature, find the operation, read its
    input by the model, run its handler, write its output by the model. A request
    without X-Amz-Target whose body is a form is the Query protocol's
    (query_endpoint)."""
    if "HTTP_X_AMZ_TARGET" not in request.META and request.content_type == query.FORM_CONTENT_TYPE:
        return query_endpoint(request)
    rid = request_context(request).request_id

    def render(exc: AwsError) -> HttpResponse:
        return json_response(
            exc.status, {"__type": exc.code, "message": exc.message}, request_id=rid, error_type=exc.code
        )

    try:
        body = read_body(request)
        service, name = _target(request)
        signer = _verified(request, body, service)
        found = operations.find(service, name)
        model = protocol.operation_model(service, name)
        params = protocol.parse_json_input(model, body)
        result = _run(operations.Call(request, service, name, params, signer), found)
        return json_response(200, protocol.json_output(model, result), request_id=rid)
    except AwsError as exc:
        return error_answer(request, exc, render)
    except Exception:
        logger.exception("the AWS endpoint failed on %s", request.META.get("HTTP_X_AMZ_TARGET", "")[:200])
        return error_answer(request, Server("An internal error occurred; the request changed nothing"), render)


def xml_response(status: int, body: bytes, *, request_id: str) -> HttpResponse:
    response = HttpResponse(body, status=status, content_type=query.XML_CONTENT_TYPE)
    response["x-amzn-RequestId"] = request_id
    return response


def query_endpoint(request) -> HttpResponse:
    """One AWS Query request (STS): the same steps as `endpoint`, the input read
    from the form's fields and the output written as XML by the model."""
    rid = request_context(request).request_id
    namespace, name = "", ""

    def render(exc: AwsError) -> HttpResponse:
        return xml_response(exc.status, query.xml_error(exc, request_id=rid, namespace=namespace), request_id=rid)

    try:
        body = read_body(request)
        fields = query.parse_form(body)
        service, name = query.service_for(fields)
        namespace = protocol.service_model(service).metadata.get("xmlNamespace", "")
        signer = _verified(request, body, service)
        found = operations.find(service, name)
        model = protocol.operation_model(service, name)
        params = query.parse_input(model, fields)
        result = _run(operations.Call(request, service, name, params, signer), found)
        return xml_response(200, query.xml_output(model, result, request_id=rid), request_id=rid)
    except AwsError as exc:
        return error_answer(request, query.query_error(exc), render)
    except Exception:
        logger.exception("the AWS Query endpoint failed on %s", name[:200])
        failure = Server("An internal error occurred; the request changed nothing")
        return error_answer(request, query.query_error(failure), render)
