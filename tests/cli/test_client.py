"""The API client against a small real HTTP server: Basic auth, errors, paging."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest

from berth_cli.client import ApiError, Client, ClientError, repository_path

ITEMS = [{"name": f"repo-{number:03}"} for number in range(7)]


class FakeApi(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str, dict, str | None]]] = []

    def log_message(self, *args):
        pass

    def _send(self, status: int, body, content_type: str = "application/json") -> None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        self.seen.append(("GET", url.path, query, self.headers.get("Authorization")))
        if url.path == "/api/v1/repositories":
            size = int(query.get("max_results", 3))
            start = int(query.get("next", 0))
            end = start + size
            self._send(200, {"repositories": ITEMS[start:end], "next": str(end) if end < len(ITEMS) else None})
        elif url.path == "/api/v1/invalid":
            self._send(
                400,
                {
                    "code": "invalid",
                    "detail": "name: too long; tags: not a list",
                    "errors": [
                        {"field": "name", "message": "too long", "code": "max_length"},
                        {"field": "tags", "message": "not a list", "code": "not_a_list"},
                    ],
                },
            )
        elif url.path == "/api/v1/html":
            self._send(
                502, "<html><head><title>Bad gateway</title></head><body><h1>Oops</h1></body></html>", "text/html"
            )
        else:
            self._send(404, {"code": "not_found", "detail": f"nothing at {url.path}"})

    def do_DELETE(self):
        self.seen.append(("DELETE", self.path, {}, self.headers.get("Authorization")))
        self.send_response(204)
        self.end_headers()


@pytest.fixture(scope="module")
def api():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def fresh_log():
    FakeApi.seen.clear()


def test_pages_follows_next_to_the_last_page_with_basic_auth(api):
    client = Client(api, "BKIAEXAMPLE", "secret")
    sizes = []

    names = [
        item["name"]
        for item in client.pages("/repositories", "repositories", params={"max_results": 3}, on_page=sizes.append)
    ]

    assert names == [item["name"] for item in ITEMS]
    assert sizes == [3, 3, 1]
    assert [query for _, _, query, _ in FakeApi.seen] == [
        {"max_results": "3"},
        {"max_results": "3", "next": "3"},
        {"max_results": "3", "next": "6"},
    ]
    assert all(auth.startswith("Basic ") for _, _, _, auth in FakeApi.seen)


def test_an_api_error_carries_code_detail_and_field_errors(api):
    with pytest.raises(ApiError) as error:
        Client(api).get("/invalid")

    assert (error.value.status, error.value.code) == (400, "invalid")
    assert error.value.detail == "name: too long; tags: not a list"
    assert [item["code"] for item in error.value.errors] == ["max_length", "not_a_list"]
    assert str(error.value) == "name: too long; tags: not a list (invalid, HTTP 400)"


def test_an_error_that_is_not_the_api_says_what_came_back(api):
    with pytest.raises(ApiError) as error:
        Client(api).get("/html")
    assert error.value.detail == f"GET {api}/api/v1/html answered 502: Bad gateway"
    assert (error.value.status, error.value.code) == (502, "http_error")


def test_no_content_is_none_and_parameters_left_out_are_not_sent(api):
    assert Client(api).delete("/repositories/team/app", force=None) is None
    assert FakeApi.seen[-1][:2] == ("DELETE", "/api/v1/repositories/team/app")


def test_an_unreachable_server_is_a_plain_message():
    with pytest.raises(ClientError, match=r"cannot reach http://127.0.0.1:9: Connection refused"):
        Client("http://127.0.0.1:9").get("/repositories")


def test_repository_paths_keep_slashes_and_quote_the_rest():
    assert repository_path("team/app") == "/repositories/team/app"
    assert repository_path("team/app", "images", "describe") == "/repositories/team/app/-/images/describe"
    assert repository_path("a b?c") == "/repositories/a%20b%3Fc"
