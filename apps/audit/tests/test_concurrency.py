"""Several writers at once (request threads recording with their changes, flushers
writing batches) still give one gapless chain that verifies."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction

from apps.audit import chain, services
from apps.audit.models import ChainHead, Event

from .conftest import make_draft

THREADS = 8
EVENTS_PER_THREAD = 25


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_give_a_gapless_verifying_chain():
    if connection.vendor != "postgresql":
        pytest.skip("row locks (select_for_update) are what is tested: PostgreSQL only")
    start = threading.Barrier(THREADS)
    failures: list[BaseException] = []

    def writer(number: int) -> None:
        try:
            start.wait()
            for n in range(EVENTS_PER_THREAD):
                if n % 5 == 4:
                    services.record_many(
                        [make_draft(request_parameters={"writer": number, "n": n, "batch": b}) for b in range(3)]
                    )
                else:
                    with transaction.atomic():
                        services.record(make_draft(request_parameters={"writer": number, "n": n}))
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(number,)) for number in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not failures, failures
    expected = THREADS * (EVENTS_PER_THREAD + EVENTS_PER_THREAD // 5 * 2)
    assert list(Event.objects.order_by("sequence").values_list("sequence", flat=True)) == list(range(1, expected + 1))
    assert ChainHead.objects.get().last_sequence == expected
    # each writer's events keep its own order within the chain
    for number in range(THREADS):
        mine = [
            e["n"]
            for e in Event.objects.filter(request_parameters__writer=number)
            .order_by("sequence")
            .values_list("request_parameters", flat=True)
        ]
        assert mine == sorted(mine)
    report = chain.verify()
    assert report.intact and report.count == expected, str(report)
