"""The management API fuzzed from its own OpenAPI schema (schemathesis): whatever
the generated input, no operation may answer with a server error."""

from __future__ import annotations

import json

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.core import signals
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from apps.accounts import services as account_services
from apps.audit.events import Actor
from apps.conftest import basic_auth
from registry_project.wsgi import application

# Bounded: fifteen generated requests per operation (the suite runs within its 20 minutes).
EXAMPLES_PER_OPERATION = 15


@pytest.fixture
def in_test_transaction():
    """Requests go straight into the WSGI app, which closes the database connection
    at each request's end; inside the test's transaction that would break every
    later query (PostgreSQL). Django's test client disconnects the same handler."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(db, settings, in_test_transaction):
    # Throttling would turn a long fuzz run into 429s, which hide real answers.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_CLASSES": []}
    document = json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True), default=str))
    loaded = schemathesis.openapi.from_dict(document)
    loaded.app = application
    return loaded


@pytest.fixture
def signed_in(tenant):
    """Authorization for a user who owns an account, with a repository to find."""
    from apps.repositories.services import create_repository

    create_repository(actor=Actor.system("test"), account=tenant.account, name="fuzz/app")
    user = get_user_model().objects.get(username=tenant.username)
    key = account_services.create_access_key(actor=Actor.system("test"), user=user)
    return {"Authorization": basic_auth(key.access_key.access_key_id, key.secret)}


# Generated input finds most of its server errors in PostgreSQL's stricter types (NUL bytes, lengths).
@pytest.mark.database_independent(pass_="postgres")
def test_no_operation_answers_with_a_server_error(api_schema, signed_in):
    # Driven by hand rather than schemathesis' pytest plugin, which this pytest
    # version breaks; each operation gets its own bounded hypothesis run.
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 5
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def fuzz(case):
            case.call_and_validate(headers=signed_in, checks=[not_a_server_error])

        fuzz()
