"""AuditMiddleware: request ids, the client address behind proxies, and the event
finished from the response."""

from __future__ import annotations

import pytest
from django.http import FileResponse, HttpResponse, JsonResponse
from django.test import RequestFactory

from apps.audit import events
from apps.audit.middleware import AuditMiddleware
from apps.audit.models import Event
from apps.kernel.requests import request_context

from .conftest import root_actor

pytestmark = pytest.mark.django_db


def run(request, response, *, begin: bool = True, **draft_fields):
    """Pass ``request`` through the middleware to a view that starts an event and answers ``response``."""
    seen = {}

    def view(request):
        seen["client_ip"] = request_context(request).client_ip
        seen["request_id"] = request_context(request).request_id
        if begin:
            seen["draft"] = events.begin(
                request,
                event_name="BatchGetImage",
                actor=root_actor("111122223333"),
                read_only=True,
                recipient_account_id="111122223333",
                repository="team/app",
                **draft_fields,
            )
        return response

    return AuditMiddleware(view)(request), seen


def test_every_response_carries_a_fresh_request_id_and_the_event_records_it():
    response, seen = run(RequestFactory().get("/v2/team/app/manifests/latest"), HttpResponse("ok"))
    other, _ = run(RequestFactory().get("/v2/"), HttpResponse("ok"), begin=False)

    assert len(response["X-Request-Id"]) == 32 and response["X-Request-Id"] == seen["request_id"]
    assert other["X-Request-Id"] != response["X-Request-Id"]
    event = Event.objects.get()
    assert (event.request_id, event.source_ip, event.error_code) == (seen["request_id"], "127.0.0.1", "")


def test_an_incoming_request_id_is_kept_only_from_a_trusted_proxy(settings):
    settings.BERTH_TRUSTED_PROXIES = "10.0.0.0/8"
    from_proxy, _ = run(
        RequestFactory().get("/v2/", HTTP_X_REQUEST_ID="lb-1234", REMOTE_ADDR="10.1.2.3"), HttpResponse(), begin=False
    )
    from_client, _ = run(
        RequestFactory().get("/v2/", HTTP_X_REQUEST_ID="lb-1234", REMOTE_ADDR="198.51.100.7"),
        HttpResponse(),
        begin=False,
    )
    malformed, _ = run(
        RequestFactory().get("/v2/", HTTP_X_REQUEST_ID="bad id\n", REMOTE_ADDR="10.1.2.3"),
        HttpResponse(),
        begin=False,
    )

    assert from_proxy["X-Request-Id"] == "lb-1234"
    assert from_client["X-Request-Id"] != "lb-1234"
    assert malformed["X-Request-Id"] != "bad id\n"


def test_the_event_records_the_address_worked_out_once(settings):
    settings.BERTH_TRUSTED_PROXIES = "10.0.0.0/8"
    request = RequestFactory().get("/v2/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="203.0.113.9")
    _, seen = run(request, HttpResponse())

    assert seen["client_ip"] == "203.0.113.9"
    assert Event.objects.get().source_ip == "203.0.113.9"


def oci_error(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse({"errors": [{"code": code, "message": message}]}, status=status)


@pytest.mark.parametrize(
    ("path", "response", "expected"),
    [
        (
            "/v2/team/app/manifests/nope",
            oci_error("MANIFEST_UNKNOWN", "manifest unknown", 404),
            ("MANIFEST_UNKNOWN", "manifest unknown"),
        ),
        (
            "/v2/team/app/manifests/x",
            oci_error("DENIED", "requested access to the resource is denied", 403),
            ("AccessDenied", "requested access to the resource is denied"),
        ),
        (
            "/v2/team/app/tags/list",
            oci_error("UNAUTHORIZED", "authentication required", 401),
            ("AccessDenied", "authentication required"),
        ),
        (
            "/api/v1/repositories",
            JsonResponse({"code": "repository_not_empty", "detail": "it holds images"}, status=409),
            ("repository_not_empty", "it holds images"),
        ),
        (
            "/api/v1/repositories",
            JsonResponse(
                {
                    "code": "invalid",
                    "detail": "name: bad",
                    "errors": [{"field": "name", "code": "required", "message": "bad"}],
                },
                status=400,
            ),
            ("invalid", "name: bad"),
        ),
        ("/v2/team/app/manifests/x", HttpResponse(status=404), ("NotFound", "Not Found")),
        (
            "/v2/team/app/manifests/x",
            HttpResponse("<h1>Server Error (500)</h1>", status=500),
            ("InternalFailure", "Internal Server Error"),
        ),
        ("/v2/team/app/manifests/x", HttpResponse("fine", status=200), ("", "")),
        ("/v2/team/app/manifests/x", HttpResponse(status=307), ("", "")),
    ],
)
def test_the_error_code_comes_from_the_response(path, response, expected):
    run(RequestFactory().get(path), response)

    event = Event.objects.get()
    assert (event.error_code, event.error_message) == expected


def test_an_error_the_handler_set_is_kept():
    def view(request):
        draft = events.begin(request, event_name="BatchGetImage", actor=root_actor("111122223333"), read_only=True)
        draft.refuse("not in the policy")
        return oci_error("NAME_UNKNOWN", "repository name not known", 404)

    AuditMiddleware(view)(RequestFactory().get("/v2/x/manifests/y"))

    event = Event.objects.get()
    assert (event.error_code, event.error_message) == ("AccessDenied", "not in the policy")


def test_a_streaming_response_is_passed_on_unread(tmp_path):
    blob = tmp_path / "blob"
    blob.write_bytes(b"layer bytes" * 1000)
    with blob.open("rb") as handle:
        response, _ = run(RequestFactory().get("/v2/team/app/blobs/sha256:x"), FileResponse(handle))

        assert response.streaming
        assert Event.objects.get().error_code == ""
        assert b"".join(response.streaming_content) == b"layer bytes" * 1000


def test_a_request_without_an_event_records_nothing():
    response, _ = run(RequestFactory().get("/"), HttpResponse("home"), begin=False)
    assert response.status_code == 200
    assert not Event.objects.exists()


def test_an_event_recorded_with_its_change_is_not_recorded_again():
    from django.db import transaction

    from apps.audit import services

    def view(request):
        draft = events.begin(request, event_name="PutImage", actor=root_actor("111122223333"), read_only=False)
        with transaction.atomic():
            services.record(draft)
        return JsonResponse({}, status=201)

    AuditMiddleware(view)(RequestFactory().put("/v2/team/app/manifests/v1"))
    assert Event.objects.count() == 1


def test_an_event_whose_change_rolled_back_is_recorded_as_a_failed_write():
    from django.db import transaction

    from apps.audit import services

    def view(request):
        draft = events.begin(request, event_name="PutImage", actor=root_actor("111122223333"), read_only=False)
        try:
            with transaction.atomic():
                services.record(draft)
                raise ValueError("the tag is immutable")
        except ValueError:
            return JsonResponse({"code": "image_tag_already_exists", "detail": "the tag is immutable"}, status=409)

    AuditMiddleware(view)(RequestFactory().post("/api/v1/repositories/team/app/-/images"))

    event = Event.objects.get()
    assert (event.event_name, event.error_code) == ("PutImage", "image_tag_already_exists")


def test_audit_trouble_never_breaks_the_response(monkeypatch, caplog):
    from apps.audit import recorder

    def broken(draft):
        raise RuntimeError("database gone")

    monkeypatch.setattr(recorder, "submit", broken)
    response, _ = run(RequestFactory().get("/v2/"), HttpResponse("still served"))

    assert response.content == b"still served"
    assert "could not record audit event" in caplog.text


def test_the_middleware_runs_for_real_requests(client):
    assert len(client.get("/v2/")["X-Request-Id"]) == 32
    assert len(client.get("/api/v1/no-such-endpoint")["X-Request-Id"]) == 32
