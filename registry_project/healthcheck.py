"""`python -m registry_project.healthcheck [PATH]`: the container image's HEALTHCHECK.

GETs PATH (default /healthz) from the `berth serve` of this container, at the port of
BERTH_BIND, with a Host header Berth answers (the first name of ALLOWED_HOSTS as
registry_project.hosts derives it: a request for 127.0.0.1 would get 400 where
ALLOWED_HOSTS names only the public host). Exit status 0 on a 2xx answer, else 1 with
the reason. No Django: it runs every half minute."""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

from registry_project.hosts import allowed_hosts


def probe_host() -> str:
    """A Host header value ALLOWED_HOSTS accepts."""
    first = allowed_hosts(os.environ.get("ALLOWED_HOSTS", ""), os.environ.get("BERTH_PUBLIC_URL", "").rstrip("/"))[0]
    if first == "*":
        return "localhost"
    return first.lstrip(".")  # ".example.com" allows example.com and its subdomains


def probe_url(path: str) -> str:
    bind = os.environ.get("BERTH_BIND", "127.0.0.1:5000")
    port = bind.rpartition(":")[2] if bind.rpartition(":")[2].isdigit() else "5000"
    return f"http://127.0.0.1:{port}{path}"


def main(argv: list[str]) -> int:
    path = argv[0] if argv else "/healthz"
    request = urllib.request.Request(probe_url(path), headers={"Host": probe_host()})
    try:
        with urllib.request.urlopen(request, timeout=4) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except OSError as error:
        print(f"healthcheck: GET {path}: {error}", file=sys.stderr)
        return 1
    if 200 <= status < 300:
        return 0
    print(f"healthcheck: GET {path}: HTTP {status}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
