"""A write PostgreSQL rolled back to break a deadlock runs again; nothing else does."""

from __future__ import annotations

import pytest
from django.db import OperationalError, transaction

from apps.kernel import transactions
from apps.kernel.transactions import retried_on_deadlock


class _DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def _failing(times: int, sqlstate: str):
    calls = []

    @retried_on_deadlock
    def write():
        calls.append(1)
        if len(calls) <= times:
            raise OperationalError("deadlock detected") from _DriverError(sqlstate)
        return "done"

    return write, calls


@pytest.fixture(autouse=True)
def _no_waiting(monkeypatch):
    monkeypatch.setattr(transactions.time, "sleep", lambda seconds: None)


def test_a_deadlock_victim_runs_again_until_it_succeeds():
    write, calls = _failing(2, "40P01")
    assert write() == "done"
    assert len(calls) == 3


def test_it_gives_up_after_the_last_attempt():
    write, calls = _failing(5, "40001")
    with pytest.raises(OperationalError):
        write()
    assert len(calls) == transactions.ATTEMPTS


def test_other_database_errors_are_not_retried():
    write, calls = _failing(1, "53100")  # disk full
    with pytest.raises(OperationalError):
        write()
    assert len(calls) == 1


@pytest.mark.django_db
def test_inside_a_callers_transaction_the_error_goes_up():
    write, calls = _failing(1, "40P01")
    with pytest.raises(OperationalError), transaction.atomic():
        write()
    assert len(calls) == 1
