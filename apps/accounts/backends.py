"""Django's sign-in for people: the model backend, taking every sign-in name Berth
knows (an IAM user's `<account>/<name>`, a root's own name in any case) and closed to
users of a suspended account. Sessions ask the backend for their user on every
request, so a suspension ends the sessions already open too, not only new sign-ins.

Every password check comes through ``authenticate``: the website's and the staff
console's sign-in forms (with their request), `/token` and the API's key minting
(through apps.accounts.authentication.check_password, with the client address).
So it is where the sign-in throttle counts them."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from apps.kernel.requests import client_ip as request_client_ip

from . import selectors, throttle


class AccountStandingBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, client_ip=None, **kwargs):
        """The user, None for wrong credentials; raises throttle.Throttled while the
        user name is locked from this client address (``client_ip``, else the request's).
        Every name of one user (`<id>/<name>`, `<alias>/<name>`, any case) shares one count."""
        if username is None or password is None:
            return None
        if client_ip is None:
            client_ip = request_client_ip(request) if request is not None else ""
        stored = selectors.stored_username(username)

        def verify():
            return super(AccountStandingBackend, self).authenticate(request, stored, password, **kwargs)

        return throttle.check(throttle.user_subject(stored), client_ip, verify)

    def user_can_authenticate(self, user) -> bool:
        membership = getattr(user, "membership", None)
        return super().user_can_authenticate(user) and not (membership and membership.account.is_suspended)

    def get_user(self, user_id):
        user = get_user_model()._default_manager.select_related("membership__account").filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None
