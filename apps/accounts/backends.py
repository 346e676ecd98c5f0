"""Django's sign-in for people: the model backend, taking every sign-in name Berth
knows (an IAM user's `<account>/<name>`, a root's own name) and closed to users of a
suspended account. Sessions ask the backend for their user on every request, so a
suspension ends the sessions already open too, not only new sign-ins."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from . import selectors


class AccountStandingBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        username = selectors.stored_username(username) if username is not None else None
        return super().authenticate(request, username=username, password=password, **kwargs)

    def user_can_authenticate(self, user) -> bool:
        membership = getattr(user, "membership", None)
        return super().user_can_authenticate(user) and not (membership and membership.account.is_suspended)

    def get_user(self, user_id):
        user = get_user_model()._default_manager.select_related("membership__account").filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None
