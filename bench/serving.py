"""What the bench scripts share about the servers they start."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request


def wait_until_answering(url: str, process: subprocess.Popen, *, what: str, timeout: float = 120) -> None:
    """Wait until the `berth serve` at ``url`` answers `/v2/` (a 401 is an answer);
    exit naming ``what`` (its log, say) when it stops or ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(f"{url}/v2/", timeout=2)
            return
        except urllib.error.HTTPError:
            return  # 401: it answers
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                sys.exit(f"berth serve did not come up ({what})")
            time.sleep(0.3)
