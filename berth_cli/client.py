"""HTTP to a Berth server's management API: one requests session signed with an
access key (HTTP Basic; temporary credentials add `X-Berth-Security-Token`), API
errors raised as `ApiError` with the server's `code` and `detail`, and paging that
follows `next` to the last page."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import requests

API_PREFIX = "/api/v1"
TIMEOUT = (10, 300)  # connect, read: a forced repository delete may take a while
USER_AGENT = "berth-cli/0.1"
SECURITY_TOKEN_HEADER = "X-Berth-Security-Token"


class ClientError(Exception):
    """Anything that stops a command; its text is what the user reads."""


class ApiError(ClientError):
    def __init__(self, status: int, code: str, detail: str, errors: list[dict] | None = None):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.errors = errors or []

    def __str__(self) -> str:
        return f"{self.detail} ({self.code}, HTTP {self.status})"

    @classmethod
    def from_response(cls, response: requests.Response) -> ApiError:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and "detail" in body:
            return cls(response.status_code, str(body.get("code") or "error"), str(body["detail"]), body.get("errors"))
        return cls(
            response.status_code,
            "http_error",
            f"{response.request.method} {response.url} answered {response.status_code}: {_gist(response)}",
        )


def repository_path(name: str, *rest: str) -> str:
    """`/repositories/<name>[/-/<rest>]`: the name keeps its slashes, everything else is quoted."""
    path = f"/repositories/{quote(name, safe='/')}"
    return f"{path}/-/{'/'.join(rest)}" if rest else path


class Client:
    def __init__(
        self,
        endpoint: str,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
    ):
        self.endpoint = endpoint.rstrip("/")
        self.session = requests.Session()
        self.session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        if access_key_id and secret_access_key:
            self.session.auth = (access_key_id, secret_access_key)
        if session_token:
            self.session.headers[SECURITY_TOKEN_HEADER] = session_token

    def request(self, method: str, path: str, *, params: dict | None = None, json: Any = None) -> Any:
        url = f"{self.endpoint}{API_PREFIX}{path}"
        try:
            response = self.session.request(method, url, params=params, json=json, timeout=TIMEOUT)
        except requests.ConnectionError as exc:
            raise ClientError(f"cannot reach {self.endpoint}: {_reason(exc)}") from None
        except requests.Timeout:
            raise ClientError(f"{self.endpoint} did not answer {method} {path} in time") from None
        except requests.RequestException as exc:
            raise ClientError(f"{method} {url} failed: {exc}") from None
        if response.status_code >= 400:
            raise ApiError.from_response(response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ClientError(
                f"{method} {url} answered {response.status_code} without JSON: is {self.endpoint} a Berth server?"
            ) from None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=_present(params))

    def post(self, path: str, body: Any = None) -> Any:
        return self.request("POST", path, json=body)

    def put(self, path: str, body: Any) -> Any:
        return self.request("PUT", path, json=body)

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, json=body)

    def delete(self, path: str, **params: Any) -> Any:
        return self.request("DELETE", path, params=_present(params))

    def pages(
        self, path: str, key: str, *, params: dict | None = None, on_page: Callable[[int], None] | None = None
    ) -> Iterator[dict]:
        """Every item of a paged listing: `key` of each page, following `next` until it is null."""
        params = _present(params or {})
        while True:
            page = self.get(path, **params)
            items = page.get(key) or []
            if on_page is not None:
                on_page(len(items))
            yield from items
            token = page.get("next")
            if not token:
                return
            params = {**params, "next": token}


def _gist(response: requests.Response) -> str:
    """A non-API error page in a line: its HTML title, or the start of its text."""
    title = re.search(r"<title[^>]*>(.*?)</title>", response.text, re.IGNORECASE | re.DOTALL)
    text = title.group(1) if title else re.sub(r"<[^>]+>", " ", response.text)
    return " ".join(text.split())[:200] or response.reason or "no explanation"


def _present(params: dict) -> dict:
    return {name: value for name, value in params.items() if value is not None}


def _reason(exc: requests.ConnectionError) -> str:
    """urllib3's innermost reason ("Connection refused", "Name or service not known"), not its retry story."""
    text = str(exc)
    found = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    return found.group(1).strip() if found else text
