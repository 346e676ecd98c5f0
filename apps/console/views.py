"""The website's account pages: sign-up, and the settings page, where the account's
aliases are listed and a custom alias is asked for, each as far as the signed-in
user's policies allow (apps.iam.enforcement.authorize, as the API asks). Sign-in, sign-out and
password reset are Django's own views (routed in urls.py); the reset's mail links to
BERTH_PUBLIC_URL (apps.accounts.links)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from apps.accounts import links, selectors, services, throttle
from apps.accounts.forms import AliasRequestForm, PasswordResetForm, SignUpForm
from apps.iam import enforcement
from apps.iam import selectors as iam_selectors
from apps.kernel.requests import client_ip, request_context


@require_http_methods(["GET", "POST"])
def sign_up(request):
    if request.user.is_authenticated:
        return redirect("accounts:settings")
    if request.method == "POST":
        try:
            throttle.count_sign_up(client_ip(request))
        except throttle.Throttled as refusal:
            form = SignUpForm(request.POST)
            form.add_error(None, str(refusal))
            return render(request, "accounts/signup.html", {"form": form}, status=429)
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        account = form.sign_up()
        if account is not None:
            user = account.memberships.select_related("user").get().user
            login(request, user, backend="apps.accounts.backends.AccountStandingBackend")
            messages.success(request, f"Welcome to Berth. Your account {account.id} is ready.")
            return redirect("accounts:settings")
    return render(request, "accounts/signup.html", {"form": form}, status=400 if form.errors else 200)


# The settings page shows the account's registry as Amazon ECR Public's DescribeRegistries
# does; asking for an alias is Berth's own action. The root may do both; others need a policy.
DESCRIBE_REGISTRIES = "ecr-public:DescribeRegistries"
REQUEST_ALIAS = "berth:RequestAlias"


@login_required
@require_http_methods(["GET", "POST"])
def account_settings(request):
    account = selectors.account_of(request.user)
    if account is None:
        # A staff operator outside any account has no aliases to manage.
        return render(request, "accounts/no_account.html", status=404)
    caller = iam_selectors.caller_for_user(request.user)
    try:
        enforcement.authorize(request, caller, DESCRIBE_REGISTRIES)
        if request.method == "POST":
            # Before the form is read: whether a name is taken is the account's data too.
            enforcement.authorize(request, caller, REQUEST_ALIAS)
    except enforcement.NotAuthorized as refusal:
        context = {
            "action": refusal.action,
            "caller_arn": caller.arn,
            "user_name": selectors.user_name_of(request.user),
        }
        return render(request, "accounts/not_authorized.html", context, status=403)
    form = AliasRequestForm(request.POST or None, account=account)
    if request.method == "POST" and form.is_valid():
        try:
            alias_request = services.request_alias(
                account=account,
                name=form.cleaned_data["alias"],
                requested_by=request.user,
                actor=caller.actor(),
                context=request_context(request),
            )
        except ValidationError as error:  # another request made at the same moment won
            form.add_error("alias", error)
        else:
            messages.success(
                request,
                f"Your request for the alias {alias_request.name} is pending. Review takes a few days; "
                "you will hear by email and on this page.",
            )
            return redirect("accounts:settings")
    alias_requests = list(selectors.alias_requests_of(account))
    context = {
        "account": account,
        "aliases": selectors.aliases_of(account),
        "alias_requests": alias_requests,
        "pending_request": next((r for r in alias_requests if r.is_pending), None),
        "may_request_alias": enforcement.decide(caller, REQUEST_ALIAS, resource_arn="*", request=request).allowed,
        "request_alias_action": REQUEST_ALIAS,
        "form": form,
    }
    return render(request, "accounts/settings.html", context, status=400 if form.errors else 200)


class PasswordResetView(auth_views.PasswordResetView):
    """Django's, mailing a link to BERTH_PUBLIC_URL rather than to the request's Host header."""

    form_class = PasswordResetForm

    def form_valid(self, form):
        self.extra_email_context = {"site_url": links.site_url(self.request)}
        return super().form_valid(form)
