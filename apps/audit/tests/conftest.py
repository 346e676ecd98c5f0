"""Drafts for the audit tests, built the way the request code builds them."""

from __future__ import annotations

import uuid

import pytest

from apps.audit.events import Actor, ActorType, EventDraft


def root_actor(account_id: str) -> Actor:
    return Actor(type=ActorType.ROOT, arn=f"arn:berth:iam::{account_id}:root", account_id=account_id)


def user_actor(account_id: str, username: str, access_key_id: str = "") -> Actor:
    return Actor(
        type=ActorType.IAM_USER,
        arn=f"arn:berth:iam::{account_id}:user/{username}",
        account_id=account_id,
        username=username,
        access_key_id=access_key_id,
    )


def make_draft(**fields) -> EventDraft:
    account_id = fields.pop("account_id", "111122223333")
    values = {
        "event_name": "BatchGetImage",
        "event_source": "ecr",
        "actor": root_actor(account_id),
        "source_ip": "192.0.2.10",
        "user_agent": "docker/27.0 go/go1.22",
        "request_id": uuid.uuid4().hex,
        "read_only": True,
        "recipient_account_id": account_id,
        "repository": "team/app",
    }
    values.update(fields)
    return EventDraft(**values)


@pytest.fixture
def draft_factory():
    return make_draft
