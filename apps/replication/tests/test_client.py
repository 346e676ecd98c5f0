"""The outbound registry client against a small in-memory registry on 127.0.0.1
that can be told to fail: drop a connection half-way through an upload chunk or a
download, answer 503/429 a few times, forget an upload session, refuse PATCH,
redirect blob downloads to another host, rotate its tokens.

The live round trips (a live Berth, Debian's docker-registry) are in
tests/e2e/test_outbound_client.py."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from apps.replication import client as rc
from apps.replication.client import (
    OCI_INDEX,
    OCI_MANIFEST,
    AccessDenied,
    AddressRefused,
    DigestMismatch,
    NotFound,
    ProtocolError,
    RegistryClient,
    RegistryClientError,
    Unavailable,
)

TIMEOUT = 5.0


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- the fake registry


class FakeRegistry:
    """Just enough of the distribution API, in memory, with faults to order.

    ``script`` is a list of (method, path regex, status, headers) answered once each,
    before the normal handling, by the first request that matches."""

    def __init__(self, *, auth: str = "", username: str = "", password: str = "") -> None:
        self.blobs: dict[str, bytes] = {}
        self.links: set[tuple[str, str]] = set()  # (repository, digest)
        self.manifests: dict[tuple[str, str], tuple[bytes, str]] = {}
        self.tags: dict[tuple[str, str], str] = {}
        self.uploads: dict[str, bytearray] = {}
        self.requests: list[tuple[str, str, dict]] = []  # (method, path?query, headers)
        self.script: list[tuple[str, str, int, dict]] = []
        self.auth = auth  # "", "basic" or "bearer"
        self.username, self.password = username, password
        self.tokens: dict[str, set[str]] = {}  # token -> scopes
        self.token_requests: list[dict] = []
        self.token_expires_in: int | None = 60
        self.token_field = "token"
        # faults
        self.break_patch_number: int | None = None  # the n-th PATCH (1-based) keeps half and hangs up
        self.forget_upload_on_break = False
        self.refuse_patch = False
        self.drop_download_after: int | None = None  # bytes of the first blob GET before hanging up
        self.drop_downloads = 0  # how many GETs break
        self.ignore_range = False
        self.corrupt_blobs = False
        self.blob_redirect: str | None = None  # base URL blobs GETs are redirected to
        self.mount_answers_202 = False
        self.referrers_api = True
        self.tag_page_size: int | None = None
        self.omit_manifest_digest = False
        self.patches = 0
        self.blob_gets = 0
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})

    def __enter__(self) -> FakeRegistry:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)

    def count(self, method: str, pattern: str = "") -> int:
        return sum(1 for m, path, _ in self.requests if m == method and re.search(pattern, path))

    def put_blob(self, repository: str, data: bytes) -> str:
        digest = sha256(data)
        self.blobs[digest] = data
        self.links.add((repository, digest))
        return digest

    def _handler(self):
        registry = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                """Silent: http.server logs each request to stderr; the test keeps its own record of them."""

            def _body(self) -> bytes:
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _answer(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
                self.send_response(status)
                headers = dict(headers or {})
                headers.setdefault("Content-Length", str(len(body)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                if body and self.command != "HEAD":
                    self.wfile.write(body)

            def _error(self, status: int, code: str, message: str, headers: dict | None = None) -> None:
                body = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
                self._answer(status, body, {"Content-Type": "application/json", **(headers or {})})

            def _hang_up(self) -> None:
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True

            def _authorized(self, path: str) -> bool:
                header = self.headers.get("Authorization", "")
                if registry.auth == "basic":
                    wanted = base64.b64encode(f"{registry.username}:{registry.password}".encode()).decode()
                    if header == f"Basic {wanted}":
                        return True
                    self._error(
                        401, "UNAUTHORIZED", "authentication required", {"WWW-Authenticate": 'Basic realm="fake"'}
                    )
                    return False
                if registry.auth == "bearer":
                    token = header.removeprefix("Bearer ")
                    if header.startswith("Bearer ") and token in registry.tokens:
                        return True
                    name = re.match(r"/v2/(.+?)/(?:manifests|blobs|tags|referrers)/", path)
                    scope = f',scope="repository:{name.group(1)}:pull"' if name else ""
                    challenge = f'Bearer realm="{registry.url}/token",service="fake"{scope}'
                    self._error(401, "UNAUTHORIZED", "authentication required", {"WWW-Authenticate": challenge})
                    return False
                return True

            def _token(self, query: dict) -> None:
                header = self.headers.get("Authorization", "")
                registry.token_requests.append({"query": query, "authorization": header})
                if header:
                    wanted = base64.b64encode(f"{registry.username}:{registry.password}".encode()).decode()
                    if header != f"Basic {wanted}":
                        self._error(401, "UNAUTHORIZED", "incorrect username or password")
                        return
                token = uuid.uuid4().hex
                registry.tokens[token] = set(query.get("scope", []))
                answer = {registry.token_field: token}
                if registry.token_expires_in is not None:
                    answer["expires_in"] = registry.token_expires_in
                self._answer(200, json.dumps(answer).encode(), {"Content-Type": "application/json"})

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                path, query = parts.path, parse_qs(parts.query)
                with registry._lock:
                    registry.requests.append((self.command, self.path, dict(self.headers)))
                    for index, (method, pattern, status, headers) in enumerate(registry.script):
                        if method == self.command and re.search(pattern, path):
                            del registry.script[index]
                            self._body()
                            self._error(status, "SCRIPTED", f"scripted {status}", headers)
                            return
                if path == "/token":
                    return self._token(query)
                if not self._authorized(path):
                    self._body()
                    return
                if path == "/v2/":
                    return self._answer(200, b"{}", {"Content-Type": "application/json"})
                match = re.fullmatch(r"/v2/(.+)/(manifests|blobs|tags|referrers)/(.*)", path)
                if not match:
                    return self._error(404, "NOT_FOUND", "no such endpoint")
                name, kind, rest = match.groups()
                getattr(self, f"_{kind}")(name, rest, query)

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _handle

            # -- blobs and uploads
            def _blobs(self, name: str, rest: str, query: dict) -> None:
                if rest.startswith("uploads"):
                    return self._uploads(name, rest.removeprefix("uploads").strip("/"), query)
                digest = rest
                if (name, digest) not in registry.links:
                    return self._error(404, "BLOB_UNKNOWN", "blob unknown")
                data = registry.blobs[digest]
                if self.command == "HEAD":
                    return self._answer(200, b"", {"Content-Length": str(len(data)), "Docker-Content-Digest": digest})
                if registry.blob_redirect:
                    return self._answer(307, b"", {"Location": f"{registry.blob_redirect}/storage/{digest}"})
                registry.blob_gets += 1
                if registry.corrupt_blobs:
                    data = bytes([data[0] ^ 0xFF]) + data[1:]
                start = 0
                match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
                status, headers = 200, {"Content-Type": "application/octet-stream"}
                if match and not registry.ignore_range:
                    start = int(match.group(1))
                    status = 206
                    headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
                body = data[start:]
                headers["Content-Length"] = str(len(body))
                if registry.drop_downloads and registry.drop_download_after is not None:
                    registry.drop_downloads -= 1
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(body[: registry.drop_download_after])
                    return self._hang_up()
                self._answer(status, body, headers)

            def _uploads(self, name: str, upload_id: str, query: dict) -> None:
                if not upload_id:  # POST /blobs/uploads/
                    self._body()
                    if "mount" in query:
                        digest, source = query["mount"][0], query.get("from", [""])[0]
                        if (source, digest) in registry.links and not registry.mount_answers_202:
                            registry.links.add((name, digest))
                            return self._answer(201, b"", {"Location": f"/v2/{name}/blobs/{digest}"})
                    upload = uuid.uuid4().hex
                    registry.uploads[upload] = bytearray()
                    return self._answer(
                        202, b"", {"Location": f"/v2/{name}/blobs/uploads/{upload}?_state=x", "Range": "0-0"}
                    )
                if upload_id not in registry.uploads:
                    self._body()
                    return self._error(404, "BLOB_UPLOAD_UNKNOWN", "upload unknown")
                held = registry.uploads[upload_id]
                next_location = f"{registry.url}/v2/{name}/blobs/uploads/{upload_id}?_state=y"  # absolute, this time
                if self.command == "GET":
                    return self._answer(204, b"", {"Location": next_location, "Range": f"0-{max(len(held) - 1, 0)}"})
                if self.command == "PATCH":
                    body = self._body()
                    if registry.refuse_patch:
                        return self._error(405, "UNSUPPORTED", "PATCH is not supported here")
                    start, _, _ = self.headers.get("Content-Range", "").partition("-")
                    if int(start or 0) != len(held):
                        return self._error(416, "RANGE_INVALID", "not where the upload is")
                    registry.patches += 1
                    if registry.patches == registry.break_patch_number:
                        held += body[: len(body) // 2]
                        if registry.forget_upload_on_break:
                            del registry.uploads[upload_id]
                        return self._hang_up()
                    held += body
                    return self._answer(202, b"", {"Location": next_location, "Range": f"0-{len(held) - 1}"})
                if self.command == "PUT":
                    held += self._body()
                    digest = query.get("digest", [""])[0]
                    if sha256(bytes(held)) != digest:
                        return self._error(400, "DIGEST_INVALID", "digest does not match")
                    del registry.uploads[upload_id]
                    registry.blobs[digest] = bytes(held)
                    registry.links.add((name, digest))
                    return self._answer(
                        201, b"", {"Location": f"/v2/{name}/blobs/{digest}", "Docker-Content-Digest": digest}
                    )
                if self.command == "DELETE":
                    del registry.uploads[upload_id]
                    return self._answer(204)
                self._error(405, "UNSUPPORTED", "method not allowed")

            # -- manifests, tags, referrers
            def _manifests(self, name: str, reference: str, query: dict) -> None:
                if self.command == "PUT":
                    body = self._body()
                    digest = sha256(body)
                    registry.manifests[(name, digest)] = (body, self.headers.get("Content-Type", ""))
                    if ":" not in reference:
                        registry.tags[(name, reference)] = digest
                    return self._answer(
                        201, b"", {"Docker-Content-Digest": digest, "Location": f"/v2/{name}/manifests/{digest}"}
                    )
                digest = reference if ":" in reference else registry.tags.get((name, reference), "")
                if (name, digest) not in registry.manifests:
                    return self._error(404, "MANIFEST_UNKNOWN", "manifest unknown")
                if self.command == "DELETE":
                    del registry.manifests[(name, digest)]
                    return self._answer(202)
                body, media_type = registry.manifests[(name, digest)]
                headers = {"Content-Type": media_type}
                if not registry.omit_manifest_digest:
                    headers["Docker-Content-Digest"] = digest
                self._answer(200, body, headers)

            def _tags(self, name: str, rest: str, query: dict) -> None:
                tags = sorted(tag for repo, tag in registry.tags if repo == name)
                if not tags:
                    return self._error(404, "NAME_UNKNOWN", "repository unknown")
                last = query.get("last", [""])[0]
                tags = [tag for tag in tags if tag > last]
                headers = {"Content-Type": "application/json"}
                if registry.tag_page_size and len(tags) > registry.tag_page_size:
                    tags = tags[: registry.tag_page_size]
                    headers["Link"] = f'</v2/{name}/tags/list?n={registry.tag_page_size}&last={tags[-1]}>; rel="next"'
                self._answer(200, json.dumps({"name": name, "tags": tags}).encode(), headers)

            def _referrers(self, name: str, digest: str, query: dict) -> None:
                if not registry.referrers_api:
                    return self._answer(404, b"404 page not found\n", {"Content-Type": "text/plain"})
                found = []
                for (repo, manifest_digest), (body, media_type) in registry.manifests.items():
                    manifest = json.loads(body)
                    if repo == name and manifest.get("subject", {}).get("digest") == digest:
                        found.append(
                            {
                                "mediaType": media_type,
                                "digest": manifest_digest,
                                "size": len(body),
                                "artifactType": manifest.get("artifactType", ""),
                            }
                        )
                index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": found}
                self._answer(200, json.dumps(index).encode(), {"Content-Type": OCI_INDEX})

        return Handler


class Storage:
    """Another host (another port is another origin) that serves redirected blobs
    and remembers the headers it was sent."""

    def __init__(self, registry: FakeRegistry, host: str = "127.0.0.1") -> None:
        self.seen: list[dict] = []
        storage = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                """Silent: http.server logs each request to stderr; the test keeps its own record of them."""

            def do_GET(self) -> None:
                storage.seen.append(dict(self.headers))
                data = registry.blobs[self.path.rsplit("/", 1)[1]]
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})

    def __enter__(self) -> Storage:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def registry():
    with FakeRegistry() as fake:
        yield fake


class Sleeps(list):
    """An injected sleep that records instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client_for(registry: FakeRegistry, **options) -> tuple[RegistryClient, Sleeps]:
    sleeps = Sleeps()
    options.setdefault("timeout", TIMEOUT)
    return RegistryClient(registry.url, sleep=sleeps, **options), sleeps


def source_of(data: bytes, calls: list[int] | None = None):
    def source(offset: int):
        if calls is not None:
            calls.append(offset)
        for start in range(offset, len(data), 10_000):
            yield data[start : start + 10_000]

    return source


class MaxJitter:
    """A random source whose uniform() returns its upper bound: the back-off ceilings."""

    def uniform(self, low: float, high: float) -> float:
        return high


# --------------------------------------------------------------------------- retries


def test_503_then_200_is_retried_with_growing_jittered_backoff(registry):
    registry.script = [("GET", r"^/v2/$", 503, {})] * 3
    client, sleeps = client_for(registry)
    client.ping()
    assert registry.count("GET", r"^/v2/$") == 4
    assert len(sleeps) == 3
    # full jitter: each wait is somewhere under a ceiling that doubles from 0.5 s
    assert all(0 <= wait <= 0.5 * 2**retry for retry, wait in enumerate(sleeps))


def test_backoff_ceilings_double_up_to_the_cap(registry):
    registry.script = [("GET", r"^/v2/$", 502, {})] * 8
    client, sleeps = client_for(registry, max_attempts=9)
    client._random = MaxJitter()
    client.ping()
    assert sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_jitter_varies_the_waits(registry):
    registry.script = [("GET", r"^/v2/$", 504, {})] * 6
    client, sleeps = client_for(registry, max_attempts=7)
    client.ping()
    assert len(set(sleeps)) > 1
    assert max(sleeps) <= rc.BACKOFF_CAP_SECONDS


def test_retry_after_is_honoured(registry):
    registry.script = [("GET", r"^/v2/$", 429, {"Retry-After": "7"}), ("GET", r"^/v2/$", 503, {"Retry-After": "0"})]
    client, sleeps = client_for(registry)
    client.ping()
    assert sleeps == [7.0, 0.0]


def test_503_on_every_attempt_is_unavailable_after_max_attempts(registry):
    registry.script = [("GET", r"/manifests/", 503, {})] * 10
    client, sleeps = client_for(registry, max_attempts=3)
    with pytest.raises(Unavailable) as caught:
        client.get_manifest("team/app", "v1")
    assert caught.value.status == 503 and caught.value.code == "SCRIPTED"
    assert registry.count("GET", r"/manifests/") == 3
    assert len(sleeps) == 2


@pytest.mark.parametrize(
    "status, error", [(404, NotFound), (401, AccessDenied), (403, AccessDenied), (400, RegistryClientError)]
)
def test_client_errors_are_not_retried(registry, status, error):
    registry.script = [("GET", r"/manifests/", status, {})]
    client, sleeps = client_for(registry)
    with pytest.raises(error) as caught:
        client.get_manifest("team/app", "v1")
    assert caught.value.status == status
    assert registry.count("GET", r"/manifests/") == 1
    assert sleeps == []


def test_connection_refused_is_unavailable_after_max_attempts():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    sleeps = Sleeps()
    client = RegistryClient(f"http://127.0.0.1:{port}", sleep=sleeps, max_attempts=4, timeout=TIMEOUT)
    with pytest.raises(Unavailable) as caught:
        client.ping()
    assert caught.value.status == 0
    assert "connection refused" in caught.value.message
    assert len(sleeps) == 3


def test_a_server_that_never_answers_times_out():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        sleeps = Sleeps()
        client = RegistryClient(
            f"http://127.0.0.1:{silent.getsockname()[1]}", sleep=sleeps, max_attempts=2, timeout=0.3
        )
        started = time.monotonic()
        with pytest.raises(Unavailable, match="timed out"):
            client.ping()
    assert time.monotonic() - started < 3
    assert len(sleeps) == 1


# --------------------------------------------------------------------------- uploads


def test_a_patch_that_breaks_midway_resumes_from_the_offset_the_registry_reports(registry):
    data = bytes(range(256)) * 1200  # 307,200 bytes: five chunks of 64 KiB
    digest = sha256(data)
    registry.break_patch_number = 2  # keeps half of the second chunk, then hangs up
    client, sleeps = client_for(registry, chunk_size=65536)
    calls: list[int] = []
    assert client.upload_blob("team/app", digest, len(data), source_of(data, calls)) == "uploaded"
    assert registry.blobs[digest] == data
    assert calls == [0, 65536 + 32768]  # from where the upload's status said
    assert registry.count("GET", r"/blobs/uploads/") == 1
    assert registry.count("POST", r"/blobs/uploads/") == 1
    assert len(sleeps) == 1


def test_a_lost_upload_session_starts_over(registry):
    data = b"layer" * 30_000
    digest = sha256(data)
    registry.break_patch_number = 2
    registry.forget_upload_on_break = True
    client, _ = client_for(registry, chunk_size=50_000)
    calls: list[int] = []
    assert client.upload_blob("team/app", digest, len(data), source_of(data, calls)) == "uploaded"
    assert registry.blobs[digest] == data
    assert calls == [0, 0]
    assert registry.count("POST", r"/blobs/uploads/") == 2


def test_upload_failures_are_bounded_by_max_attempts(registry):
    data = b"x" * 10_000
    registry.script = [("PATCH", r"/blobs/uploads/", 503, {})] * 10
    client, sleeps = client_for(registry, max_attempts=3)
    with pytest.raises(Unavailable) as caught:
        client.upload_blob("team/app", sha256(data), len(data), source_of(data))
    assert caught.value.status == 503
    assert registry.count("PATCH", r"/blobs/uploads/") == 3
    assert len(sleeps) == 2


def test_a_registry_refusing_patch_gets_a_monolithic_put(registry):
    data = b"monolithic" * 5_000
    digest = sha256(data)
    registry.refuse_patch = True
    client, _ = client_for(registry, chunk_size=4096)
    assert client.upload_blob("team/app", digest, len(data), source_of(data)) == "uploaded"
    assert registry.blobs[digest] == data
    assert registry.count("PATCH", "") == 1
    put = [headers for method, path, headers in registry.requests if method == "PUT" and "digest=" in path]
    assert put[-1]["Content-Length"] == str(len(data))


def test_patches_carry_content_range_and_follow_each_location(registry):
    data = b"abcdefghij" * 1000
    client, _ = client_for(registry, chunk_size=3000)
    client.upload_blob("team/app", sha256(data), len(data), source_of(data))
    patches = [(path, headers) for method, path, headers in registry.requests if method == "PATCH"]
    assert [headers["Content-Range"] for _, headers in patches] == ["0-2999", "3000-5999", "6000-8999", "9000-9999"]
    assert all(headers["Content-Type"] == "application/octet-stream" for _, headers in patches)
    assert "_state=x" in patches[0][0] and all("_state=y" in path for path, _ in patches[1:])


def test_present_mounted_and_a_mount_that_starts_an_upload(registry):
    data = b"shared layer" * 100
    digest = registry.put_blob("team/base", data)
    client, _ = client_for(registry)
    assert client.upload_blob("team/base", digest, len(data), source_of(data)) == "present"
    assert (
        client.upload_blob("team/app", digest, len(data), source_of(data), mount_from=["team/other", "team/base"])
        == "mounted"
    )
    assert ("team/app", digest) in registry.links
    registry.mount_answers_202 = True
    assert client.upload_blob("team/third", digest, len(data), source_of(data), mount_from=["team/base"]) == "uploaded"
    assert registry.count("POST", r"/team/third/blobs/uploads/") == 1  # the mount's session was used
    # a candidate that cannot mount begins an upload that is let go when another may mount
    registry.mount_answers_202 = False
    assert (
        client.upload_blob("team/fourth", digest, len(data), source_of(data), mount_from=["team/none", "team/base"])
        == "mounted"
    )
    assert registry.count("DELETE", r"/team/fourth/blobs/uploads/") == 1


def test_a_source_with_other_bytes_is_a_digest_mismatch(registry):
    data = b"what was promised"
    client, _ = client_for(registry)
    with pytest.raises(DigestMismatch):
        client.upload_blob("team/app", sha256(b"something else!!!"), len(data), source_of(data))


def test_an_empty_blob_uploads(registry):
    client, _ = client_for(registry)
    assert client.upload_blob("team/app", sha256(b""), 0, source_of(b"")) == "uploaded"
    assert registry.blobs[sha256(b"")] == b""


# --------------------------------------------------------------------------- downloads


def test_a_download_that_breaks_resumes_with_range(registry):
    data = bytes(range(256)) * 4096  # 1 MiB
    digest = registry.put_blob("team/app", data)
    registry.drop_download_after, registry.drop_downloads = 300_000, 2
    client, sleeps = client_for(registry)
    with client.open_blob("team/app", digest) as stream:
        assert stream.size == len(data)
        assert b"".join(stream) == data
    ranges = [
        headers.get("Range") for method, path, headers in registry.requests if method == "GET" and "/blobs/" in path
    ]
    assert ranges[0] is None and len(ranges) == 3
    starts = [int(re.fullmatch(r"bytes=(\d+)-", value).group(1)) for value in ranges[1:]]
    # each resume asks for the rest from what had arrived (less at most the read cut short)
    assert 300_000 - rc.DOWNLOAD_READ_BYTES < starts[0] <= 300_000
    assert starts[0] + 300_000 - rc.DOWNLOAD_READ_BYTES < starts[1] <= starts[0] + 300_000
    assert len(sleeps) == 2


def test_a_200_to_a_range_request_skips_what_was_yielded(registry):
    data = b"0123456789" * 50_000
    digest = registry.put_blob("team/app", data)
    registry.drop_download_after, registry.drop_downloads = 123_457, 1
    registry.ignore_range = True
    client, _ = client_for(registry)
    assert client.open_blob("team/app", digest).read() == data


def test_a_download_from_an_offset(registry):
    data = b"abcdef" * 1000
    digest = registry.put_blob("team/app", data)
    client, _ = client_for(registry)
    stream = client.open_blob("team/app", digest, offset=5000)
    assert stream.size == len(data)
    assert stream.read() == data[5000:]
    registry.ignore_range = True
    assert client.open_blob("team/app", digest, offset=5000).read() == data[5000:]


def test_download_breaks_are_bounded_by_max_attempts(registry):
    data = b"z" * 100_000
    digest = registry.put_blob("team/app", data)
    registry.drop_download_after, registry.drop_downloads = 10, 100
    client, sleeps = client_for(registry, max_attempts=3)
    with pytest.raises(Unavailable, match="at byte"):
        client.open_blob("team/app", digest).read()
    assert registry.blob_gets == 3
    assert len(sleeps) == 2


def test_corrupt_bytes_are_a_digest_mismatch(registry):
    data = b"the real layer" * 100
    digest = registry.put_blob("team/app", data)
    registry.corrupt_blobs = True
    client, _ = client_for(registry)
    with pytest.raises(DigestMismatch) as caught:
        client.open_blob("team/app", digest).read()
    assert caught.value.expected == digest


def test_a_redirect_to_another_host_carries_no_authorization():
    with FakeRegistry(auth="bearer", username="alice", password="s3cret") as registry, Storage(registry) as storage:
        data = b"redirected layer" * 1000
        digest = registry.put_blob("team/app", data)
        registry.blob_redirect = storage.url
        client, _ = client_for(registry, username="alice", password="s3cret")
        assert client.open_blob("team/app", digest).read() == data
        assert len(storage.seen) == 1 and "Authorization" not in storage.seen[0]
        gets = [headers for method, path, headers in registry.requests if method == "GET" and "/blobs/" in path]
        assert gets[-1]["Authorization"].startswith("Bearer ")


def test_a_registry_in_a_denied_network_is_never_sent_a_byte(registry, settings):
    settings.BERTH_OUTBOUND_DENIED_NETWORKS = ["10.0.0.0/8", "127.0.0.0/8"]
    client, sleeps = client_for(registry)
    with pytest.raises(AddressRefused) as caught:
        client.ping()
    assert "127.0.0.1" in caught.value.message and "127.0.0.0/8" in caught.value.message
    assert registry.requests == [] and sleeps == []  # refused at once, never retried


def test_a_redirect_into_a_denied_network_is_refused(registry, settings):
    # Linux answers on all of 127.0.0.0/8: the storage host stands for a metadata address.
    settings.BERTH_OUTBOUND_DENIED_NETWORKS = ["127.0.0.2/32"]
    with Storage(registry, host="127.0.0.2") as storage:
        digest = registry.put_blob("team/app", b"layer")
        registry.blob_redirect = storage.url
        client, _ = client_for(registry)
        assert client.has_blob("team/app", digest)  # the registry itself may be reached
        with pytest.raises(AddressRefused):
            client.open_blob("team/app", digest).read()
        assert storage.seen == []


def test_a_missing_blob_is_not_found(registry):
    client, _ = client_for(registry)
    with pytest.raises(NotFound) as caught:
        client.open_blob("team/app", sha256(b"nothing"))
    assert (caught.value.status, caught.value.code) == (404, "BLOB_UNKNOWN")
    assert client.has_blob("team/app", sha256(b"nothing")) is False


# --------------------------------------------------------------------------- auth


def test_bearer_tokens_anonymous_cached_per_scope_and_renewed_on_expiry():
    with FakeRegistry(auth="bearer") as registry:
        registry.token_field = "access_token"
        registry.token_expires_in = None  # the spec's default: 60 s
        data = b"layer"
        digest = registry.put_blob("team/app", data)
        client, _ = client_for(registry)
        now = [1000.0]
        client._clock = lambda: now[0]
        assert client.has_blob("team/app", digest)
        assert client.has_blob("team/app", digest)
        assert len(registry.token_requests) == 1
        assert registry.token_requests[0]["authorization"] == ""  # anonymous
        assert registry.token_requests[0]["query"] == {"service": ["fake"], "scope": ["repository:team/app:pull"]}
        client.has_blob("team/other", digest)
        assert len(registry.token_requests) == 2  # another scope, another token
        now[0] += 45
        client.has_blob("team/app", digest)
        assert len(registry.token_requests) == 2  # still good
        now[0] += 10  # within the margin of its 60 s
        client.has_blob("team/app", digest)
        assert len(registry.token_requests) == 3


def test_a_rejected_cached_token_is_renewed_once():
    with FakeRegistry(auth="bearer", username="alice", password="s3cret") as registry:
        digest = registry.put_blob("team/app", b"layer")
        client, _ = client_for(registry, username="alice", password="s3cret")
        assert client.has_blob("team/app", digest)
        registry.tokens.clear()  # the registry forgets every token it issued
        assert client.has_blob("team/app", digest)
        assert len(registry.token_requests) == 2
        expected = "Basic " + base64.b64encode(b"alice:s3cret").decode()
        assert all(request["authorization"] == expected for request in registry.token_requests)


def test_wrong_credentials_are_access_denied_without_the_password():
    with FakeRegistry(auth="bearer", username="alice", password="s3cret") as registry:
        client, sleeps = client_for(registry, username="alice", password="wrong-password")
        with pytest.raises(AccessDenied) as caught:
            client.get_manifest("team/app", "v1")
        assert caught.value.status == 401
        assert "incorrect username or password" in caught.value.message
        assert "wrong-password" not in str(caught.value) and "wrong-password" not in repr(caught.value.args)
        assert sleeps == []


def test_basic_challenge_gets_basic_credentials():
    with FakeRegistry(auth="basic", username="bob", password="pw") as registry:
        client, _ = client_for(registry, username="bob", password="pw")
        client.ping()
        assert registry.requests[-1][2]["Authorization"] == "Basic " + base64.b64encode(b"bob:pw").decode()
        with pytest.raises(AccessDenied):
            client_for(registry, username="bob", password="nope")[0].ping()
        with pytest.raises(AccessDenied):
            client_for(registry)[0].ping()  # no credentials to answer with


def test_an_https_registry_never_sends_its_credentials_to_a_plain_http_realm():
    client = RegistryClient("https://registry.example", username="alice", password="s3cret")
    client._scheme, client._challenge = "bearer", {"realm": "http://registry.example/token", "service": "x"}
    with pytest.raises(ProtocolError, match="plain http") as caught:
        client._token(frozenset({"repository:team/app:pull"}))
    assert "s3cret" not in caught.value.message


def test_descriptors_compare_and_hash():
    signed = rc.Descriptor(OCI_MANIFEST, sha256(b"m"), 1, "application/x", {"a": "b"})
    assert signed == rc.Descriptor.from_json(
        {
            "mediaType": OCI_MANIFEST,
            "digest": sha256(b"m"),
            "size": 1,
            "artifactType": "application/x",
            "annotations": {"a": "b"},
        }
    )
    assert len({signed, rc.Descriptor(OCI_MANIFEST, sha256(b"m"), 1, "application/x", {"a": "b"})}) == 1
    with pytest.raises(ProtocolError):
        rc.Descriptor.from_json({"mediaType": OCI_MANIFEST, "size": 1})


def test_credentials_in_the_url_are_refused():
    with pytest.raises(ValueError):
        RegistryClient("https://alice:s3cret@registry.example")


# --------------------------------------------------------------------------- manifests, tags, referrers


def manifest_bytes(
    registry: FakeRegistry, repository: str, subject: str | None = None, artifact_type: str = ""
) -> bytes:
    config = registry.put_blob(repository, b"{}")
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
        "layers": [],
    }
    if subject:
        manifest["subject"] = {"mediaType": OCI_MANIFEST, "digest": subject, "size": 1}
        manifest["artifactType"] = artifact_type
    return json.dumps(manifest).encode()


def test_manifest_round_trip_and_digest_checks(registry):
    client, _ = client_for(registry)
    body = manifest_bytes(registry, "team/app")
    digest = client.put_manifest("team/app", "v1", body, OCI_MANIFEST)
    assert digest == sha256(body)
    fetched = client.get_manifest("team/app", "v1")
    assert (fetched.body, fetched.media_type, fetched.digest) == (body, OCI_MANIFEST, digest)
    assert client.head_manifest("team/app", "v1") == rc.Descriptor(OCI_MANIFEST, digest, len(body))
    assert client.head_manifest("team/app", "v2") is None
    assert registry.requests[-1][2]["Accept"] == ", ".join(rc.MANIFEST_MEDIA_TYPES)
    registry.omit_manifest_digest = True
    assert client.get_manifest("team/app", "v1").digest == digest  # computed
    # a registry serving other bytes for a digest is caught
    registry.manifests[("team/app", digest)] = (body + b" ", OCI_MANIFEST)
    with pytest.raises(DigestMismatch):
        client.get_manifest("team/app", digest)
    assert client.delete_manifest("team/app", digest) is True
    assert client.delete_manifest("team/app", digest) is False
    with pytest.raises(NotFound):
        client.get_manifest("team/app", digest)


def test_list_tags_follows_link_pagination(registry):
    client, _ = client_for(registry)
    body = manifest_bytes(registry, "team/app")
    for index in range(7):
        client.put_manifest("team/app", f"t{index}", body, OCI_MANIFEST)
    registry.tag_page_size = 3
    assert client.list_tags("team/app") == [f"t{index}" for index in range(7)]
    assert registry.count("GET", r"/tags/list") == 3
    with pytest.raises(NotFound):
        client.list_tags("team/none")


def test_referrers_from_the_api_and_from_the_tag_schema(registry):
    client, _ = client_for(registry)
    subject = client.put_manifest("team/app", "v1", manifest_bytes(registry, "team/app"), OCI_MANIFEST)
    signature = manifest_bytes(registry, "team/app", subject=subject, artifact_type="application/vnd.example.sig")
    signature_digest = client.put_manifest("team/app", sha256(signature), signature, OCI_MANIFEST)
    [found] = client.referrers("team/app", subject)
    assert (found.digest, found.artifact_type) == (signature_digest, "application/vnd.example.sig")

    registry.referrers_api = False
    assert client.referrers("team/app", subject) == []  # no API and no fallback tag
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                "mediaType": OCI_MANIFEST,
                "digest": signature_digest,
                "size": len(signature),
                "artifactType": "application/vnd.example.sig",
            }
        ],
    }
    client.put_manifest("team/app", "sha256-" + subject.removeprefix("sha256:"), json.dumps(index).encode(), OCI_INDEX)
    assert [d.digest for d in client.referrers("team/app", subject)] == [signature_digest]


def test_an_answer_outside_the_spec_is_a_protocol_error(registry):
    registry.script = [("POST", r"/blobs/uploads/", 202, {})]  # no Location
    client, _ = client_for(registry)
    data = b"blob"
    with pytest.raises(ProtocolError):
        client.upload_blob("team/app", sha256(data), len(data), source_of(data))


def test_user_agent(registry):
    client, _ = client_for(registry)
    client.ping()
    assert re.fullmatch(r"berth/\S+ \(replication\)", registry.requests[-1][2]["User-Agent"])
