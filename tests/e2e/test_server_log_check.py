"""The check that fails a test when its live server logged a traceback: what it
finds in a log, what an allow-list lets through, and that it reads each line once."""

from __future__ import annotations

import re

from tests.e2e.conftest import BerthServer, tracebacks_in, unexpected_tracebacks

DJANGO_500 = """\
2026-01-01 10:00:00,000 ERROR django.request Internal Server Error: /v2/a/b/manifests/x
Traceback (most recent call last):
  File "/x/django/core/handlers/exception.py", line 55, in inner
    response = get_response(request)
KeyError: 'config'
"""
CHAINED_IN_A_TASK = """\
[2026-01-01 10:00:01,000: ERROR/ForkPoolWorker-1] Task apps.registry.tasks.record_image_details[1] raised unexpected: OSError()
Traceback (most recent call last):
  File "/x/a.py", line 1, in f
    g()
ValueError: inner

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/x/a.py", line 3, in f
    raise OSError
OSError
"""
REQUEST_LINES = '127.0.0.1 "GET /v2/ HTTP/1.1" 401 99 3ms\n'


def server_with_log(tmp_path, text: str) -> BerthServer:
    server = BerthServer(tmp_path, "")
    server.log_path = tmp_path / "server.log"
    server.log_path.write_text(text)
    return server


def test_each_traceback_is_found_with_the_record_that_printed_it():
    found = tracebacks_in(REQUEST_LINES + DJANGO_500 + REQUEST_LINES + CHAINED_IN_A_TASK + REQUEST_LINES)
    assert found == [DJANGO_500.rstrip("\n"), CHAINED_IN_A_TASK.rstrip("\n")]


def test_a_log_without_tracebacks_has_none():
    assert tracebacks_in(REQUEST_LINES * 3) == []


def test_an_allowed_traceback_passes_and_others_do_not(tmp_path):
    server = server_with_log(tmp_path, DJANGO_500 + CHAINED_IN_A_TASK)
    unexpected = unexpected_tracebacks([server], [re.compile(r"Internal Server Error: /v2/a/b/manifests/")])
    assert len(unexpected) == 1 and "record_image_details" in unexpected[0]


def test_each_line_is_checked_once_and_a_half_written_line_waits(tmp_path):
    server = server_with_log(tmp_path, DJANGO_500 + "Traceback (most recent")
    assert len(unexpected_tracebacks([server], [])) == 1
    assert unexpected_tracebacks([server], []) == []
    with server.log_path.open("a") as log:
        log.write(' call last):\n  File "a.py", line 1, in f\nRuntimeError\n')
    assert len(unexpected_tracebacks([server], [])) == 1


def test_a_json_log_lines_traceback_is_found_too():
    import json

    line = json.dumps(
        {
            "level": "ERROR",
            "logger": "django.request",
            "message": "Internal Server Error: /v2/",
            "request_id": "abc",
            "exception": 'Traceback (most recent call last):\n  File "x.py", line 1, in f\n    g()\nValueError: boom',
        }
    )
    found = tracebacks_in(REQUEST_LINES + line + "\n" + REQUEST_LINES)
    assert len(found) == 1 and found[0].startswith(line) and found[0].endswith("ValueError: boom")
