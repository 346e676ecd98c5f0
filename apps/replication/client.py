"""The outbound OCI distribution client: how Berth talks to another registry.

Replication pushes through it to a destination and the pull-through cache reads
through it from an upstream, so it must cope with what real registries and real
networks do: Docker token auth (and plain Basic), answers that fail and succeed
on the next try (exponential back-off with full jitter, ``Retry-After``
honoured), uploads that break half-way (resumed from the offset the registry
reports), downloads that break half-way (resumed with ``Range``), blobs served
from another host through a redirect (never handed the registry's credentials),
and cross-repository mounts that spare copying a blob the destination has.

Its refusals are domain errors (``RegistryClientError`` and subclasses) that
carry the other side's HTTP status and OCI code as data, for the status a
replication or a cache rule shows; none of them ever holds a credential.

One client is one registry and one set of credentials. A client may be shared by
threads (the token cache is locked), but a ``BlobStream`` belongs to the thread
that opened it. docs/outbound-client.md describes the behaviour and its limits.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import importlib.metadata
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode, urljoin, urlsplit, urlunsplit

import requests

from apps.kernel.digests import ALGORITHMS, DigestInvalid, parse_digest
from apps.kernel.errors import DomainError
from apps.kernel.names import TAG_PATTERN
from apps.kernel.outbound import AddressDenied, GuardedAdapter

logger = logging.getLogger(__name__)

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_MEDIA_TYPES = (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST)

# OCI's recommended ceiling for a manifest, and Berth's own default limit: a larger
# answer is not a manifest any client would accept.
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
DOWNLOAD_CHUNK_BYTES = 1024 * 1024
# A download reads in smaller pieces than it yields: a read that a broken
# connection cuts short loses its piece (urllib3 drops a partial read), so the
# piece bounds what a resume fetches again.
DOWNLOAD_READ_BYTES = 64 * 1024
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 30.0
# A Retry-After is honoured, but an upstream asking for an hour must not park a
# worker for an hour: past this the caller's own retry (a task's) is the better wait.
RETRY_AFTER_LIMIT_SECONDS = 300.0
# A token is renewed this long before the expiry its service announced, so that a
# request does not leave with a token that expires on the way.
TOKEN_EXPIRY_MARGIN_SECONDS = 10.0
DEFAULT_TOKEN_SECONDS = 60
MAX_REDIRECTS = 5
MAX_PAGES = 10_000
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
_TAG = re.compile(TAG_PATTERN)


def _default_user_agent() -> str:
    try:
        version = importlib.metadata.version("berth")
    except importlib.metadata.PackageNotFoundError:  # a source tree not installed
        version = "dev"
    return f"berth/{version} (replication)"


DEFAULT_USER_AGENT = _default_user_agent()


# --------------------------------------------------------------------------- errors


class RegistryClientError(DomainError):
    """The other registry refused or failed a request. ``status`` is its HTTP status
    (0 when there was no answer), ``code`` the OCI error code it gave ("" without
    one), ``message`` says what happened (the registry's own words when it gave
    some). A refusal that no subclass names (a 400 MANIFEST_INVALID, say) is
    raised as this class itself."""

    default_message = "the other registry refused the request"

    def __init__(self, message: str | None = None, *, status: int = 0, code: str = "") -> None:
        self.status = status
        self.code = code
        super().__init__(message)


class NotFound(RegistryClientError):
    """404, or an OCI ``*_UNKNOWN`` code: the repository, manifest, blob or upload is not there."""

    default_message = "not found on the other registry"


class AccessDenied(RegistryClientError):
    """401 or 403 after authenticating: the credentials are wrong or do not allow this."""

    default_message = "the other registry denied access"


class Unavailable(RegistryClientError):
    """No usable answer after every attempt: connection refused or reset, timeouts,
    5xx, 429."""

    default_message = "the other registry is unavailable"


class AddressRefused(RegistryClientError):
    """The registry's address (or a redirect's) is in a network Berth does not
    connect to (apps.kernel.outbound); never retried."""

    default_message = "the other registry's address is one Berth does not connect to"


class DigestMismatch(RegistryClientError):
    """Content whose digest is not the one it was asked for or announced with."""

    default_message = "the content does not match its digest"

    def __init__(self, message: str | None = None, *, expected: str = "", actual: str = "", **kwargs) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(message or f"expected {expected}, got {actual}", **kwargs)


class ProtocolError(RegistryClientError):
    """An answer that breaks the distribution spec (a missing Location, a wrong
    Content-Range, a body that is not JSON, ...)."""

    default_message = "the other registry answered outside the distribution spec"


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    artifact_type: str = ""
    # Not hashed (a dict is not hashable); a descriptor still goes in a set or a dict's keys.
    annotations: dict = field(default_factory=dict, hash=False)

    @classmethod
    def from_json(cls, data: object) -> Descriptor:
        if not isinstance(data, dict):
            raise ProtocolError("a descriptor is not a JSON object")
        digest, size = data.get("digest"), data.get("size")
        if not isinstance(digest, str) or not isinstance(size, int) or isinstance(size, bool):
            raise ProtocolError("a descriptor lacks its digest or size")
        annotations = data.get("annotations") or {}
        return cls(
            media_type=str(data.get("mediaType") or ""),
            digest=digest,
            size=size,
            artifact_type=str(data.get("artifactType") or ""),
            annotations=dict(annotations) if isinstance(annotations, dict) else {},
        )


@dataclass(frozen=True)
class FetchedManifest:
    body: bytes
    media_type: str
    digest: str


# --------------------------------------------------------------------------- helpers


def _digest_of(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{ALGORITHMS[algorithm][0](data).hexdigest()}"


def _checked_digest(digest: str) -> tuple[str, str]:
    try:
        return parse_digest(digest)
    except DigestInvalid as exc:
        raise ValueError(exc.message) from None


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip()


def _parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="...",service="...",scope="..."`` -> ("bearer", {...})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {
        key.lower(): value for key, value in re.findall(r'([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*"((?:[^"\\]|\\.)*)"', rest)
    }
    for key, value in re.findall(r'([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*([^",\s]+)', rest):
        params.setdefault(key.lower(), value)
    return scheme.lower(), params


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return min(max(seconds, 0.0), RETRY_AFTER_LIMIT_SECONDS)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _where(method: str, url: str) -> str:
    """A request as messages name it: no query string (a presigned URL's signature
    is a credential), no user info."""
    parts = urlsplit(url)
    return f"{method} {parts.hostname or ''}{':' + str(parts.port) if parts.port else ''}{parts.path}"


def _reason(exc: BaseException) -> str:
    """What broke a connection, without the URL requests puts in its messages."""
    if isinstance(exc, requests.Timeout):
        return "timed out"
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return "connection refused"
        if isinstance(current, ConnectionResetError):
            return "connection reset"
        if isinstance(current, OSError) and current.strerror:
            return current.strerror.lower()
        current = (
            current.__cause__
            or current.__context__
            or getattr(current, "reason", None)
            or (current.args[0] if current.args else None)
        )
        if not isinstance(current, BaseException):
            break
    if isinstance(exc, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
        return "connection broken"
    return type(exc).__name__


def _error_from(response: requests.Response, method: str, body: bytes | None = None) -> RegistryClientError:
    """The exception for a failed answer, from the OCI error envelope when there is one."""
    status = response.status_code
    code, detail = "", ""
    if body is None:
        try:
            body = response.content[:65536] if method != "HEAD" else b""
        except requests.RequestException:
            body = b""
    try:
        errors = json.loads(body).get("errors") if body else None
    except (ValueError, AttributeError):
        errors = None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        code = str(errors[0].get("code") or "")
        detail = str(errors[0].get("message") or "")
    where = _where(method, response.url or "")
    text = f"{where}: HTTP {status}" + (f" {code}" if code else "") + (f": {detail[:500]}" if detail else "")
    if status == 404 or code.endswith("_UNKNOWN"):
        return NotFound(text, status=status, code=code)
    if status in (401, 403) or code in ("UNAUTHORIZED", "DENIED"):
        return AccessDenied(text, status=status, code=code)
    if status in RETRIED_STATUSES:
        return Unavailable(text, status=status, code=code)
    return RegistryClientError(text, status=status, code=code)


def _content_range(value: str) -> tuple[int, int, int | None] | None:
    """``bytes 5-9/10`` -> (5, 9, 10); the total None for ``*``."""
    match = re.fullmatch(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*", value or "")
    if not match:
        return None
    total = None if match.group(3) == "*" else int(match.group(3))
    return int(match.group(1)), int(match.group(2)), total


def _upload_range_end(value: str | None) -> int | None:
    """The Range an upload reports, ``0-N``, as N (-1 for "nothing"; None when absent)."""
    if not value:
        return None
    match = re.fullmatch(r"\s*(?:bytes=)?0-(-?\d+)\s*", value)
    if not match:
        raise ProtocolError(f"malformed upload Range {value[:100]!r}")
    return int(match.group(1))


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    extra = urlencode(params)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


class _ChunkedBody:
    """An iterable body of known length: requests sends it with a Content-Length
    instead of chunked transfer encoding, which some registries refuse for blobs."""

    def __init__(self, chunks: Iterable[bytes], length: int) -> None:
        self._chunks = chunks
        self._length = length

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[bytes]:
        sent = 0
        for chunk in self._chunks:
            sent += len(chunk)
            if sent > self._length:
                raise ValueError(f"the source gives more than the {self._length} bytes announced")
            yield chunk


def _rechunk(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    """The bytes of ``chunks`` in pieces of ``size`` (the last one shorter)."""
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)


# --------------------------------------------------------------------------- the client


class RegistryClient:
    """The distribution API of one registry at ``base_url`` (``https://host[:port]``)."""

    def __init__(
        self,
        base_url: str,
        *,
        username: str = "",
        password: str = "",
        timeout: float = 30.0,
        max_attempts: int = 5,
        chunk_size: int = 16 * 1024 * 1024,
        sleep: Callable[[float], object] = time.sleep,
        user_agent: str = DEFAULT_USER_AGENT,
    ) -> None:
        base = base_url.strip().rstrip("/")
        if "://" not in base:
            base = "https://" + base
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("a registry URL is http(s)://host[:port]")
        if parts.username or parts.password:
            # Credentials in the URL would travel into every message that names it.
            raise ValueError("pass the registry's credentials as username and password, not in its URL")
        path = parts.path[: -len("/v2")] if parts.path.endswith("/v2") else parts.path
        self.base_url = urlunsplit((parts.scheme, parts.netloc, path, "", ""))
        self._origin = _origin(self.base_url)
        if max_attempts < 1:
            raise ValueError("max_attempts is at least 1")
        if chunk_size < 1:
            raise ValueError("chunk_size is at least 1")
        self._username = username
        self._password = password
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.chunk_size = chunk_size
        self._sleep = sleep
        self._random = random.Random()
        self._clock = time.monotonic
        self.session = requests.Session()
        self.session.headers["User-Agent"] = user_agent
        # Never take credentials from ~/.netrc or proxies from the environment's
        # settings meant for other programs: what Berth sends is what Berth decided.
        self.session.trust_env = False
        for prefix in ("http://", "https://"):
            self.session.mount(prefix, GuardedAdapter())
        self._lock = threading.Lock()
        self._scheme: str | None = None  # "bearer" or "basic" once a challenge named it
        self._challenge: dict[str, str] = {}
        self._tokens: dict[frozenset[str], tuple[str, float]] = {}

    def __repr__(self) -> str:
        return f"RegistryClient({self.base_url!r})"

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # ---------------------------------------------------------------- transport

    def _url(self, path: str) -> str:
        return self.base_url + path

    def _backoff(self, retry: int, retry_after: float | None = None) -> float:
        """Sleep before retry number ``retry`` (0 for the first): full jitter over an
        exponentially growing ceiling, or what the registry's Retry-After asked."""
        if retry_after is not None:
            delay = retry_after
        else:
            delay = self._random.uniform(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**retry))
        self._sleep(delay)
        return delay

    def _send(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        data=None,
        stream: bool = False,
        retry: bool = True,
        auth_header: str | None = None,
    ) -> requests.Response:
        """One request, tried again (up to max_attempts in all) after a connection
        error, a timeout, 429 or a 5xx when ``retry``. A response that is still an
        error after the last try is returned for the caller to judge."""
        all_headers = dict(headers or {})
        if auth_header and _origin(url) == self._origin:
            all_headers["Authorization"] = auth_header
        attempts = self.max_attempts if retry else 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = self.session.request(
                    method,
                    url,
                    headers=all_headers,
                    data=data,
                    stream=stream,
                    timeout=self.timeout,
                    allow_redirects=False,
                )
            except AddressDenied as exc:
                raise AddressRefused(f"{_where(method, url)}: {exc}") from None
            except (requests.ConnectionError, requests.Timeout) as exc:
                reason = _reason(exc)
                if last:
                    raise Unavailable(
                        f"{_where(method, url)}: {reason} (after {attempt + 1} attempt{'s' * bool(attempt)})"
                    ) from None
                delay = self._backoff(attempt)
                logger.info("%s: %s; trying again in %.2fs", _where(method, url), reason, delay)
                continue
            if response.status_code in RETRIED_STATUSES and not last:
                retry_after = _retry_after(response)
                response.close()
                delay = self._backoff(attempt, retry_after)
                logger.info("%s: HTTP %s; trying again in %.2fs", _where(method, url), response.status_code, delay)
                continue
            return response
        raise AssertionError("unreachable")  # the loop returns or raises on its last attempt

    def _token(self, scopes: frozenset[str], *, fresh: bool = False) -> str:
        """A bearer token for ``scopes`` from the challenge's realm, cached until
        shortly before it expires."""
        now = self._clock()
        with self._lock:
            cached = self._tokens.get(scopes)
            if cached and not fresh and cached[1] > now:
                return cached[0]
            challenge = dict(self._challenge)
        realm = challenge.get("realm", "")
        realm_scheme = _origin(realm)[0]
        if realm_scheme not in ("http", "https"):
            raise ProtocolError(f"the registry's token realm {realm[:200]!r} is not an http(s) URL")
        if realm_scheme == "http" and self._origin[0] == "https" and (self._username or self._password):
            # The credentials would cross the network in the clear to get a token for TLS.
            raise ProtocolError(f"an https registry sends its credentials' token realm to plain http ({realm[:200]!r})")
        params: list[tuple[str, str]] = []
        if challenge.get("service"):
            params.append(("service", challenge["service"]))
        params.extend(("scope", scope) for scope in sorted(scopes))
        headers = {"Accept": "application/json"}
        if self._username or self._password:
            headers["Authorization"] = self._basic()
        url = realm + ("&" if "?" in realm else "?") + urlencode(params) if params else realm
        # The realm may be another host (auth.docker.io): the credentials go to it on
        # purpose, which is what the token spec asks; _send's own rule is for the registry.
        response = self._send("GET", url, headers=headers)
        with response:
            if response.status_code != 200:
                raise _error_from(response, "GET")
            try:
                answer = response.json()
            except ValueError:
                raise ProtocolError(f"{_where('GET', url)}: the token answer is not JSON") from None
        token = answer.get("token") or answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise ProtocolError(f"{_where('GET', url)}: the token answer holds no token")
        expires_in = answer.get("expires_in")
        if not isinstance(expires_in, int | float) or isinstance(expires_in, bool) or expires_in <= 0:
            expires_in = DEFAULT_TOKEN_SECONDS
        lifetime = max(expires_in - TOKEN_EXPIRY_MARGIN_SECONDS, expires_in / 2)
        with self._lock:
            self._tokens[scopes] = (token, now + lifetime)
        return token

    def _basic(self) -> str:
        pair = f"{self._username}:{self._password}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")

    def _authorization(self, scopes: frozenset[str], *, fresh: bool = False) -> str | None:
        if self._scheme == "bearer":
            return "Bearer " + self._token(scopes, fresh=fresh)
        if self._scheme == "basic" and (self._username or self._password):
            return self._basic()
        return None

    def _request(
        self,
        method: str,
        url: str,
        *,
        scopes: Iterable[str] = (),
        headers: dict[str, str] | None = None,
        data=None,
        stream: bool = False,
        retry: bool = True,
    ) -> requests.Response:
        """A request to the registry, authenticated as its challenge asks: the first
        401 teaches the scheme (and a bearer token is fetched for the scopes), a 401
        with a cached token renews it once; a 401 after that is an AccessDenied."""
        wanted = frozenset(scopes)
        renewed = False
        while True:
            authorization = self._authorization(wanted)
            if callable(data):
                body = data()  # a body that can only be read once is made anew for each send
            else:
                body = data
            response = self._send(
                method, url, headers=headers, data=body, stream=stream, retry=retry, auth_header=authorization
            )
            if response.status_code != 401 or renewed:
                return response
            header = response.headers.get("WWW-Authenticate", "")
            scheme, params = _parse_challenge(header)
            if scheme == "bearer" and params.get("realm"):
                with self._lock:
                    self._scheme, self._challenge = "bearer", params
                challenged = {s for s in params.get("scope", "").split(" ") if s}
                if challenged - wanted:
                    wanted = wanted | challenged
                    self._token(wanted, fresh=True)
                else:
                    self._token(wanted, fresh=authorization is not None)
            elif scheme == "basic" and (self._username or self._password) and self._scheme != "basic":
                self._scheme = "basic"
            else:
                return response
            response.close()
            renewed = True

    def _check(self, response: requests.Response, method: str, *expected: int) -> requests.Response:
        if response.status_code not in expected:
            with response:
                raise _error_from(response, method)
        return response

    @staticmethod
    def _scope(repository: str, actions: str) -> str:
        return f"repository:{repository}:{actions}"

    def _path(self, repository: str, kind: str, reference: str = "") -> str:
        path = f"/v2/{quote(repository, safe='/')}/{kind}"
        return path + (f"/{quote(reference, safe=':')}" if reference else "")

    # ---------------------------------------------------------------- the API

    def ping(self) -> None:
        """GET /v2/ with the credentials: raises unless the registry answers and
        accepts them (anonymous access when there are none)."""
        response = self._request("GET", self._url("/v2/"))
        with response:
            if response.status_code == 404:
                raise ProtocolError(f"{_where('GET', response.url)}: no distribution API here", status=404)
            self._check(response, "GET", 200)

    def head_manifest(self, repository: str, reference: str, *, accept=MANIFEST_MEDIA_TYPES) -> Descriptor | None:
        """The manifest's descriptor, None when the registry has no such manifest."""
        url = self._url(self._path(repository, "manifests", reference))
        headers = {"Accept": ", ".join(accept)}
        response = self._request("HEAD", url, scopes=[self._scope(repository, "pull")], headers=headers)
        with response:
            if response.status_code == 404:
                return None
            self._check(response, "HEAD", 200)
            digest = response.headers.get("Docker-Content-Digest", "")
            length = response.headers.get("Content-Length", "")
            media_type = _media_type(response.headers.get("Content-Type"))
        if not digest and ":" in reference:
            digest = reference
        if not digest or not length.isdigit() or not media_type:
            # A registry that does not say it in a HEAD says it in a GET.
            fetched = self.get_manifest(repository, reference, accept=accept)
            return Descriptor(media_type=fetched.media_type, digest=fetched.digest, size=len(fetched.body))
        return Descriptor(media_type=media_type, digest=digest, size=int(length))

    def get_manifest(self, repository: str, reference: str, *, accept=MANIFEST_MEDIA_TYPES) -> FetchedManifest:
        """The manifest's bytes, media type and digest. By digest, the bytes are
        checked against it; by tag, against the registry's Docker-Content-Digest."""
        url = self._url(self._path(repository, "manifests", reference))
        headers = {"Accept": ", ".join(accept)}
        response = self._request("GET", url, scopes=[self._scope(repository, "pull")], headers=headers, stream=True)
        with response:
            self._check(response, "GET", 200)
            body = self._read_limited(response, MAX_MANIFEST_BYTES)
            announced = response.headers.get("Docker-Content-Digest", "")
            media_type = _media_type(response.headers.get("Content-Type"))
        if media_type not in accept:
            # Some registries answer application/json or octet-stream; the manifest names itself.
            try:
                named = json.loads(body).get("mediaType")
            except (ValueError, AttributeError):
                named = None
            media_type = named if isinstance(named, str) and named else media_type
        expected = reference if ":" in reference else announced
        if expected:
            try:
                algorithm, _ = parse_digest(expected)
            except DigestInvalid:
                raise ProtocolError(f"the registry announced an invalid digest {expected[:200]!r}") from None
            actual = _digest_of(body, algorithm)
            if actual != expected:
                raise DigestMismatch(
                    f"manifest {repository}@{reference[:100]}: expected {expected}, got {actual}",
                    expected=expected,
                    actual=actual,
                )
            digest = actual
        else:
            digest = _digest_of(body)
        return FetchedManifest(body=body, media_type=media_type, digest=digest)

    def _read_limited(self, response: requests.Response, limit: int) -> bytes:
        body = bytearray()
        try:
            for chunk in response.iter_content(65536):
                body += chunk
                if len(body) > limit:
                    raise ProtocolError(f"{_where('GET', response.url)}: an answer larger than {limit} bytes")
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
            raise Unavailable(f"{_where('GET', response.url)}: {_reason(exc)} while reading the answer") from None
        return bytes(body)

    def put_manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> str:
        """Store a manifest under a tag or its digest; its digest."""
        url = self._url(self._path(repository, "manifests", reference))
        response = self._request(
            "PUT",
            url,
            scopes=[self._scope(repository, "pull,push")],
            headers={"Content-Type": media_type},
            data=bytes(body),
        )
        with response:
            self._check(response, "PUT", 201, 200, 202)
            announced = response.headers.get("Docker-Content-Digest", "")
        algorithm = "sha256"
        if ":" in reference:
            algorithm, _ = _checked_digest(reference)
        digest = _digest_of(bytes(body), algorithm)
        if ":" in reference and digest != reference:
            raise DigestMismatch(f"manifest {repository}: its bytes are {digest}", expected=reference, actual=digest)
        if announced and announced.split(":", 1)[0] == algorithm and announced != digest:
            raise DigestMismatch(
                f"manifest {repository}: the registry stored {announced}, the bytes are {digest}",
                expected=digest,
                actual=announced,
            )
        return digest

    def delete_manifest(self, repository: str, digest: str) -> bool:
        """Delete a manifest by digest; False when it was not there."""
        _checked_digest(digest)
        return self._delete_reference(repository, digest)

    def delete_tag(self, repository: str, tag: str) -> bool:
        """Delete a tag, leaving its manifest (OCI distribution 1.1; a registry that
        deletes only manifests refuses: RegistryClientError with its code, 405
        UNSUPPORTED as a rule); False when the tag was not there."""
        if not _TAG.match(tag):
            raise ValueError(f"not a tag: {tag[:200]!r}")
        return self._delete_reference(repository, tag)

    def _delete_reference(self, repository: str, reference: str) -> bool:
        url = self._url(self._path(repository, "manifests", reference))
        response = self._request("DELETE", url, scopes=[self._scope(repository, "delete")])
        with response:
            if response.status_code == 404:
                return False
            self._check(response, "DELETE", 202, 200, 204)
        return True

    def has_blob(self, repository: str, digest: str) -> bool:
        return self._has_blob(repository, digest, "pull")

    def _has_blob(self, repository: str, digest: str, actions: str) -> bool:
        url = self._url(self._path(repository, "blobs", digest))
        response = self._request("HEAD", url, scopes=[self._scope(repository, actions)])
        with response:
            if response.status_code == 404:
                return False
            # A redirect to the storage holding it says as much as a 200.
            self._check(response, "HEAD", 200, 301, 302, 303, 307, 308)
        return True

    # ---------------------------------------------------------------- downloads

    def open_blob(self, repository: str, digest: str, *, offset: int = 0) -> BlobStream:
        """A stream of the blob's bytes from ``offset``; see BlobStream."""
        algorithm, _ = _checked_digest(digest)
        if offset < 0:
            raise ValueError("offset is not negative")
        stream = BlobStream(self, repository, digest, offset, algorithm)
        stream._connect()
        return stream

    def _get_blob(self, repository: str, digest: str, position: int) -> requests.Response:
        """GET the blob from ``position``, following redirects by hand: another host
        (a presigned storage URL) gets no Authorization header."""
        url = self._url(self._path(repository, "blobs", digest))
        headers = {"Range": f"bytes={position}-"} if position else {}
        scopes = [self._scope(repository, "pull")]
        response = self._request("GET", url, scopes=scopes, headers=headers, stream=True)
        for _ in range(MAX_REDIRECTS):
            if response.status_code not in (301, 302, 303, 307, 308):
                return response
            location = response.headers.get("Location", "")
            response.close()
            if not location:
                raise ProtocolError(f"{_where('GET', url)}: a redirect without a Location", status=307)
            url = urljoin(url, location)
            if _origin(url) == self._origin:
                response = self._request("GET", url, scopes=scopes, headers=headers, stream=True)
            else:
                response = self._send("GET", url, headers=headers, stream=True)
        response.close()
        raise ProtocolError(f"{_where('GET', url)}: more than {MAX_REDIRECTS} redirects")

    # ---------------------------------------------------------------- uploads

    def upload_blob(
        self,
        repository: str,
        digest: str,
        size: int,
        source: Callable[[int], Iterable[bytes]],
        *,
        mount_from: Sequence[str] = (),
    ) -> str:
        """Make the registry hold the blob in ``repository``: "present" when it does
        already, "mounted" when a cross-repository mount from one of ``mount_from``
        gave it, "uploaded" when its bytes were sent. ``source(offset)`` yields the
        blob's bytes from ``offset``; it is called again to resume after a failure."""
        _checked_digest(digest)
        if size < 0:
            raise ValueError("size is not negative")
        if self._has_blob(repository, digest, "pull,push"):
            return "present"
        location = None
        candidates = [other for other in dict.fromkeys(mount_from) if other != repository]
        for index, other in enumerate(candidates):
            outcome = self._mount(repository, digest, other)
            if outcome == "mounted":
                return "mounted"
            if outcome is None:
                continue
            if index < len(candidates) - 1:
                # The registry began a plain upload (it could not mount from there);
                # another candidate may still mount, so this session is let go.
                self._cancel_upload(outcome, repository)
                continue
            location = outcome
        self._upload(repository, digest, size, source, location)
        return "uploaded"

    def _mount(self, repository: str, digest: str, other: str) -> str | None:
        """'mounted', the Location of the upload the registry began instead, or None
        when this source cannot be mounted from (unknown there, or not ours to read)."""
        url = self._url(self._path(repository, "blobs/uploads/")) + "?" + urlencode({"mount": digest, "from": other})
        scopes = [self._scope(repository, "pull,push"), self._scope(other, "pull")]
        response = self._request("POST", url, scopes=scopes)
        with response:
            if response.status_code == 201:
                return "mounted"
            if response.status_code == 202:
                return self._location(response, url)
            error = _error_from(response, "POST")
        if isinstance(error, NotFound | AccessDenied):
            # Distribution refuses the whole request when the token may not read the
            # source; the plain upload that follows says whether pushing is allowed.
            logger.info("mount of %s from %s into %s refused: %s", digest, other, repository, error.message)
            return None
        raise error

    def _cancel_upload(self, location: str, repository: str) -> None:
        """DELETE an upload session; a registry that keeps it lets it expire."""
        try:
            response = self._request("DELETE", location, scopes=[self._scope(repository, "pull,push")], retry=False)
        except RegistryClientError as exc:
            logger.info("could not cancel an upload to %s: %s", repository, exc.message)
            return
        response.close()

    def _location(self, response: requests.Response, request_url: str) -> str:
        location = response.headers.get("Location", "")
        if not location:
            raise ProtocolError(
                f"{_where(response.request.method, request_url)}: no Location in the answer",
                status=response.status_code,
            )
        return urljoin(request_url, location)

    def _start_upload(self, repository: str, scopes: list[str]) -> str:
        url = self._url(self._path(repository, "blobs/uploads/"))
        response = self._request("POST", url, scopes=scopes)
        with response:
            self._check(response, "POST", 202)
            return self._location(response, url)

    def _upload(
        self,
        repository: str,
        digest: str,
        size: int,
        source: Callable[[int], Iterable[bytes]],
        location: str | None,
    ) -> None:
        """POST (unless a mount began the session), PATCH chunks, PUT ?digest=.

        A PATCH or PUT that breaks (no answer, or 5xx/429) is not sent again
        blindly: the upload's status (GET on its Location) says how many bytes the
        registry holds, and the upload goes on from there. A session the registry
        forgot starts over. Every failure counts against max_attempts."""
        scopes = [self._scope(repository, "pull,push")]
        failures = 0
        monolithic = False

        def failed(error: RegistryClientError, retry_after: float | None = None) -> None:
            nonlocal failures
            failures += 1
            if failures >= self.max_attempts:
                raise Unavailable(
                    f"upload of {digest} to {repository}: {error.message} (after {failures} attempts)",
                    status=error.status,
                    code=error.code,
                ) from None
            delay = self._backoff(failures - 1, retry_after)
            logger.info("upload of %s to %s: %s; going on in %.2fs", digest, repository, error.message, delay)

        state = _UploadState(location or "")
        while True:
            if not state.location:
                state = _UploadState(self._start_upload(repository, scopes))
            try:
                if monolithic:
                    self._put_whole(state.location, digest, size, source, scopes)
                else:
                    self._patch_all(state, size, source, scopes)
                    self._put_final(state.location, digest, scopes)
                return
            except _Interrupted as broken:
                failed(broken.error, broken.retry_after)
                if broken.error.status == 416 and state.position == 0:
                    # Refused at 0, so it holds something: its "0-0" then means one byte.
                    state.confirmed = max(state.confirmed, 1)
                if broken.patch_refused or monolithic:
                    # A monolithic PUT that broke cannot be resumed: a fresh session.
                    monolithic = True
                    if not broken.patch_refused:
                        state.location = ""
                    continue
                status = self._upload_status(state.location, scopes, state.confirmed)
                if status is None:
                    if self._has_blob(repository, digest, "pull,push"):
                        return  # the PUT that broke had completed the upload
                    state.location = ""  # the session is gone: a fresh one
                    continue
                state.location, state.position = status
                state.confirmed = state.position

    def _upload_status(self, location: str, scopes: list[str], confirmed: int) -> tuple[str, int] | None:
        """(location, bytes held) of an upload session, None when the registry forgot it."""
        response = self._request("GET", location, scopes=scopes)
        with response:
            if response.status_code == 404:
                return None
            self._check(response, "GET", 204, 200)
            end = _upload_range_end(response.headers.get("Range"))
            new_location = (
                urljoin(location, response.headers["Location"]) if "Location" in response.headers else location
            )
        if end is None:
            return new_location, 0
        # "0-0" is what distribution answers for both nothing and one byte.
        held = end + 1 if end > 0 or confirmed > 0 else 0
        return new_location, held

    def _patch_all(
        self, state: _UploadState, size: int, source: Callable[[int], Iterable[bytes]], scopes: list[str]
    ) -> None:
        """PATCH from ``state.position`` to the end, a chunk each, keeping ``state``
        at the last answer's Location and what it acknowledged, for a resume."""
        position = state.position
        chunks = source(position)
        try:
            for chunk in _rechunk(chunks, self.chunk_size):
                if not chunk:
                    continue
                if position + len(chunk) > size:
                    raise ValueError(f"the source gives more than the {size} bytes announced")
                end = position + len(chunk) - 1
                headers = {
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"{position}-{end}",
                    "Content-Length": str(len(chunk)),
                }
                response = self._attempt("PATCH", state.location, scopes, headers, chunk)
                with response:
                    if response.status_code in (405, 501):
                        raise _Interrupted(_error_from(response, "PATCH"), patch_refused=True)
                    if response.status_code == 416:
                        raise _Interrupted(_error_from(response, "PATCH"))
                    if response.status_code == 404:
                        # The session expired or was lost: the status check will say so.
                        raise _Interrupted(_error_from(response, "PATCH"))
                    self._check(response, "PATCH", 202, 204)
                    state.location = self._location(response, state.location)
                    held = _upload_range_end(response.headers.get("Range"))
                if held is not None and held != end:
                    # Not what was sent: the upload's status says where to go on from.
                    raise _Interrupted(
                        ProtocolError(f"the registry holds {held + 1} bytes of an upload sent {end + 1}")
                    )
                position = state.position = state.confirmed = end + 1
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        if position != size:
            raise ValueError(f"the source gave {position} bytes of the {size} announced")

    def _attempt(self, method: str, url: str, scopes: list[str], headers: dict[str, str], data) -> requests.Response:
        """One try of an upload step: a broken connection or a 5xx/429 becomes an
        _Interrupted for the upload loop to resume from, never a blind resend."""
        try:
            response = self._request(method, url, scopes=scopes, headers=headers, data=data, retry=False)
        except Unavailable as exc:
            raise _Interrupted(exc) from None
        if response.status_code in RETRIED_STATUSES:
            with response:
                raise _Interrupted(_error_from(response, method), retry_after=_retry_after(response))
        return response

    def _put_final(self, location: str, digest: str, scopes: list[str]) -> None:
        url = _with_query(location, digest=digest)
        headers = {"Content-Type": "application/octet-stream", "Content-Length": "0"}
        response = self._attempt("PUT", url, scopes, headers, b"")
        with response:
            if response.status_code == 404:
                # The session is gone; the status check tells a completed upload from a lost one.
                raise _Interrupted(_error_from(response, "PUT"))
            self._check_put(response, digest)

    def _put_whole(
        self, location: str, digest: str, size: int, source: Callable[[int], Iterable[bytes]], scopes: list[str]
    ) -> None:
        """The monolithic upload, for a registry that refuses PATCH: one PUT with the body."""
        url = _with_query(location, digest=digest)
        headers = {"Content-Type": "application/octet-stream"}
        response = self._attempt("PUT", url, scopes, headers, lambda: _ChunkedBody(source(0), size))
        with response:
            self._check_put(response, digest)

    def _check_put(self, response: requests.Response, digest: str) -> None:
        if response.status_code == 400:
            error = _error_from(response, "PUT")
            if error.code in ("DIGEST_INVALID", "SIZE_INVALID"):
                raise DigestMismatch(error.message, expected=digest, status=400, code=error.code)
            raise error
        self._check(response, "PUT", 201, 204)
        stored = response.headers.get("Docker-Content-Digest", "")
        if stored and stored != digest:
            raise DigestMismatch(f"the registry stored {stored} for {digest}", expected=digest, actual=stored)

    # ---------------------------------------------------------------- listings

    def _pages(self, url: str, scopes: list[str], headers: dict[str, str] | None = None) -> Iterator[dict]:
        """The JSON bodies of a listing, following ``Link: <...>; rel="next"``."""
        for _ in range(MAX_PAGES):
            response = self._request("GET", url, scopes=scopes, headers=headers, stream=True)
            with response:
                self._check(response, "GET", 200)
                body = self._read_limited(response, MAX_MANIFEST_BYTES * 4)
                following = response.links.get("next", {}).get("url")
            try:
                page = json.loads(body)
            except ValueError:
                raise ProtocolError(f"{_where('GET', url)}: the answer is not JSON") from None
            if not isinstance(page, dict):
                raise ProtocolError(f"{_where('GET', url)}: the answer is not a JSON object")
            yield page
            if not following:
                return
            url = urljoin(url, following)
            if _origin(url) != self._origin:
                raise ProtocolError(f"{_where('GET', url)}: a next page on another host")
        raise ProtocolError(f"{_where('GET', url)}: more than {MAX_PAGES} pages")

    def list_tags(self, repository: str) -> list[str]:
        url = self._url(self._path(repository, "tags/list"))
        tags: list[str] = []
        for page in self._pages(url, [self._scope(repository, "pull")]):
            names = page.get("tags") or []
            if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
                raise ProtocolError(f"tags of {repository}: 'tags' is not a list of names")
            tags.extend(names)
        return tags

    def referrers(self, repository: str, digest: str) -> list[Descriptor]:
        """What refers to the manifest ``digest`` (signatures, SBOMs, ...): the OCI 1.1
        referrers API, or the referrers tag schema (``sha256-<hex>``) on a registry
        without it."""
        algorithm, encoded = _checked_digest(digest)
        url = self._url(self._path(repository, "referrers", digest))
        scopes = [self._scope(repository, "pull")]
        headers = {"Accept": OCI_INDEX}
        found: list[Descriptor] = []
        try:
            for page in self._pages(url, scopes, headers):
                found.extend(self._index_entries(page))
        except NotFound:
            return self._referrers_by_tag(repository, f"{algorithm}-{encoded}")
        except RegistryClientError as exc:
            if exc.status not in (400, 405):
                raise
            return self._referrers_by_tag(repository, f"{algorithm}-{encoded}")
        return found

    def _referrers_by_tag(self, repository: str, tag: str) -> list[Descriptor]:
        try:
            fetched = self.get_manifest(repository, tag, accept=(OCI_INDEX,))
        except NotFound:
            return []
        try:
            index = json.loads(fetched.body)
        except ValueError:
            raise ProtocolError(f"referrers tag {tag} of {repository} is not JSON") from None
        if not isinstance(index, dict):
            raise ProtocolError(f"referrers tag {tag} of {repository} is not an index")
        return self._index_entries(index)

    @staticmethod
    def _index_entries(index: dict) -> list[Descriptor]:
        entries = index.get("manifests") or []
        if not isinstance(entries, list):
            raise ProtocolError("an index whose 'manifests' is not a list")
        return [Descriptor.from_json(entry) for entry in entries]


@dataclass
class _UploadState:
    """Where an upload session stands: its latest Location (distribution's carries
    the offset in a signed ``_state``: an older one is refused), the next byte to
    send, and how many bytes the registry has acknowledged."""

    location: str
    position: int = 0
    confirmed: int = 0


class _Interrupted(Exception):
    """An upload step that broke; the upload loop resumes or gives up."""

    def __init__(
        self, error: RegistryClientError, *, retry_after: float | None = None, patch_refused: bool = False
    ) -> None:
        super().__init__(error.message)
        self.error = error
        self.retry_after = retry_after
        self.patch_refused = patch_refused


# --------------------------------------------------------------------------- blob streams


class BlobStream:
    """A blob's bytes from an offset, in chunks of up to 1 MiB. When the connection
    breaks mid-body the rest is asked for with ``Range: bytes=<received>-`` (up to
    max_attempts in all); a registry that answers 200 to that instead of 206 sends
    the whole blob again and what was already yielded is skipped. Read from offset
    0, the bytes are checked against the digest at the end (DigestMismatch).

    ``size`` is the blob's whole size; ``media_type`` what the registry served it as."""

    def __init__(self, client: RegistryClient, repository: str, digest: str, offset: int, algorithm: str) -> None:
        self._client = client
        self.repository = repository
        self.digest = digest
        self.offset = offset
        self._algorithm = algorithm
        self._hasher = hashlib.new(algorithm) if offset == 0 else None
        self._response: requests.Response | None = None
        self._position = offset  # the next byte to yield
        self._skip = 0  # bytes of the current answer that were already yielded
        self._started = False
        self.size = 0
        self.media_type = ""

    def _connect(self) -> None:
        response = self._client._get_blob(self.repository, self.digest, self._position)
        status = response.status_code
        if status not in (200, 206):
            with response:
                if status == 416:
                    raise ProtocolError(
                        f"blob {self.digest}: offset {self._position} is past its end", status=416
                    ) from None
                raise _error_from(response, "GET")
        headers = response.headers
        if status == 206:
            parsed = _content_range(headers.get("Content-Range", ""))
            if parsed is None or parsed[0] > self._position:
                response.close()
                raise ProtocolError(f"blob {self.digest}: a 206 whose Content-Range does not start at {self._position}")
            start, _, total = parsed
            self._skip = self._position - start
            size = total
        else:
            self._skip = self._position
            length = headers.get("Content-Length", "")
            size = int(length) if length.isdigit() and "Content-Encoding" not in headers else None
        if size is None:
            size = self.size or self._size_from_head()
        if self._started and size != self.size:
            response.close()
            raise ProtocolError(f"blob {self.digest}: its size changed from {self.size} to {size} while reading")
        self.size = size
        self.media_type = self.media_type or _media_type(headers.get("Content-Type"))
        if self._position > self.size:
            response.close()
            raise ProtocolError(f"blob {self.digest}: offset {self._position} is past its end ({self.size} bytes)")
        self._response = response
        self._started = True

    def _size_from_head(self) -> int:
        client = self._client
        url = client._url(client._path(self.repository, "blobs", self.digest))
        response = client._request("HEAD", url, scopes=[client._scope(self.repository, "pull")])
        with response:
            length = response.headers.get("Content-Length", "")
        if response.status_code != 200 or not length.isdigit():
            raise ProtocolError(f"blob {self.digest}: the registry does not say its size")
        return int(length)

    def __iter__(self) -> Iterator[bytes]:
        client = self._client
        breaks = 0
        while True:
            if self._response is None:
                self._connect()
            response = self._response
            buffer = bytearray()
            broken = None
            try:
                try:
                    for piece in response.iter_content(DOWNLOAD_READ_BYTES):
                        if self._skip:
                            dropped = min(self._skip, len(piece))
                            piece = piece[dropped:]
                            self._skip -= dropped
                        buffer += piece
                        if len(buffer) >= DOWNLOAD_CHUNK_BYTES:
                            yield self._take(buffer)
                    if self._position + len(buffer) < self.size:
                        broken = "the answer ended early"
                except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
                    broken = _reason(exc)
                if buffer:  # what arrived before a break is good: yielded, not fetched again
                    yield self._take(buffer)
            finally:
                response.close()
                self._response = None
            if broken is None:
                break
            breaks += 1
            if breaks >= client.max_attempts:
                raise Unavailable(
                    f"blob {self.digest}: {broken} at byte {self._position} of {self.size} (after {breaks} attempts)"
                )
            delay = client._backoff(breaks - 1)
            logger.info("blob %s: %s at byte %d; resuming in %.2fs", self.digest, broken, self._position, delay)
        if self._hasher is not None:
            actual = f"{self._algorithm}:{self._hasher.hexdigest()}"
            if actual != self.digest:
                raise DigestMismatch(f"blob {self.digest}: its bytes are {actual}", expected=self.digest, actual=actual)

    def _take(self, buffer: bytearray) -> bytes:
        chunk = bytes(buffer)
        buffer.clear()
        if self._position + len(chunk) > self.size:
            raise ProtocolError(f"blob {self.digest}: more than its {self.size} bytes")
        self._position += len(chunk)
        if self._hasher is not None:
            self._hasher.update(chunk)
        return chunk

    def read(self) -> bytes:
        """All of it (for small blobs: configs, tests)."""
        return b"".join(self)

    def close(self) -> None:
        if self._response is not None:
            self._response.close()
            self._response = None

    def __enter__(self) -> BlobStream:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
