"""The website's account pages: sign-up (which mails a link to verify the email), the
link's page, and the settings page, where the account's aliases are listed, a
custom alias is asked for (once the email is verified) and the publisher's profile
(display name, bio, logo) is set, each as far as the signed-in user's policies
allow (apps.iam.enforcement.authorize, as the API asks). Sign-in, sign-out and
password reset are Django's own views (routed in urls.py); the reset's mail links to
BERTH_PUBLIC_URL (apps.accounts.links)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from apps.accounts import email_verification, links, selectors, services, throttle
from apps.accounts.forms import AliasRequestForm, PasswordResetForm, PublisherProfileForm, SignUpForm
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
            if email_verification.send_link(account=account, site_url=links.site_url(request)):
                mailed = f"We mailed a link to {user.email}: follow it to verify your email."
            else:
                mailed = "We could not mail you a verification link just now: send it again from your settings page."
            messages.success(request, f"Welcome to Berth. Your account {account.id} is ready. {mailed}")
            return redirect(settings.LOGIN_REDIRECT_URL)  # the console's getting started page
    return render(request, "accounts/signup.html", {"form": form}, status=400 if form.errors else 200)


@require_http_methods(["GET"])
def verify_email(request, token: str):
    """The link mailed at sign-up: verifies the email whoever follows it (the token
    is the proof), then sends a signed-in owner to the settings page."""
    try:
        verified = email_verification.verify(token)
    except email_verification.VerificationLinkInvalid as error:
        return render(request, "accounts/verify_email_failed.html", {"reason": str(error)}, status=400)
    message = "Your email was already verified." if verified.already else "Thank you: your email is verified."
    if request.user.is_authenticated and request.user.pk == verified.user_id:
        messages.success(request, f"{message} You may ask for a custom alias.")
        return redirect("accounts:settings")
    return render(request, "accounts/email_verified.html", {"message": message, "account": verified.account})


# The settings page shows the account's registry as Amazon ECR Public's DescribeRegistries
# does; asking for an alias and setting the publisher's profile are Berth's own actions.
# The root may do all; others need a policy.
DESCRIBE_REGISTRIES = "ecr-public:DescribeRegistries"
REQUEST_ALIAS = "berth:RequestAlias"
UPDATE_PUBLISHER_PROFILE = "berth:UpdatePublisherProfile"


def _not_authorized(request, caller, refusal):
    context = {"action": refusal.action, "caller_arn": caller.arn, "user_name": selectors.user_name_of(request.user)}
    return render(request, "accounts/not_authorized.html", context, status=403)


def _settings_page(request, account, caller, *, form=None, profile_form=None):
    form = form or AliasRequestForm(account=account)
    if profile_form is None:
        profile_form = PublisherProfileForm(initial={"display_name": account.display_name, "bio": account.bio})
    alias_requests = list(selectors.alias_requests_of(account))
    aliases = list(selectors.aliases_of(account))
    context = {
        "account": account,
        "aliases": aliases,
        "primary_alias": next((alias.name for alias in aliases if alias.is_primary), aliases[0].name),
        "alias_requests": alias_requests,
        "pending_request": next((r for r in alias_requests if r.is_pending), None),
        "may_request_alias": enforcement.decide(caller, REQUEST_ALIAS, resource_arn="*", request=request).allowed,
        "request_alias_action": REQUEST_ALIAS,
        "may_update_profile": enforcement.decide(
            caller, UPDATE_PUBLISHER_PROFILE, resource_arn="*", request=request
        ).allowed,
        "update_profile_action": UPDATE_PUBLISHER_PROFILE,
        "is_root": caller.is_root,
        "form": form,
        "profile_form": profile_form,
    }
    status = 400 if form.errors or profile_form.errors else 200
    return render(request, "accounts/settings.html", context, status=status)


def _signed_in_account(request):
    """(account, caller, refusal page): the page when the user has no account or may
    not DescribeRegistries."""
    account = selectors.account_of(request.user)
    if account is None:
        # A staff operator outside any account has no aliases to manage.
        return None, None, render(request, "accounts/no_account.html", status=404)
    caller = iam_selectors.caller_for_user(request.user)
    try:
        enforcement.authorize(request, caller, DESCRIBE_REGISTRIES)
    except enforcement.NotAuthorized as refusal:
        return account, caller, _not_authorized(request, caller, refusal)
    return account, caller, None


@login_required
@require_http_methods(["GET", "POST"])
def account_settings(request):
    account, caller, refused = _signed_in_account(request)
    if refused is not None:
        return refused
    if request.method == "GET":
        return _settings_page(request, account, caller)
    try:
        # Before the form is read: whether a name is taken is the account's data too.
        enforcement.authorize(request, caller, REQUEST_ALIAS)
    except enforcement.NotAuthorized as refusal:
        return _not_authorized(request, caller, refusal)
    form = AliasRequestForm(request.POST, account=account)
    if form.is_valid():
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
    return _settings_page(request, account, caller, form=form)


@login_required
@require_http_methods(["POST"])
def publisher_profile(request):
    account, caller, refused = _signed_in_account(request)
    if refused is not None:
        return refused
    try:
        enforcement.authorize(request, caller, UPDATE_PUBLISHER_PROFILE)
    except enforcement.NotAuthorized as refusal:
        return _not_authorized(request, caller, refusal)
    profile_form = PublisherProfileForm(request.POST, request.FILES)
    if profile_form.is_valid():
        saved = profile_form.save(account=account, actor=caller.actor(), context=request_context(request))
        if saved is not None:
            messages.success(request, "Your publisher profile is saved.")
            return redirect(reverse("accounts:settings") + "#profile-heading")
    account.refresh_from_db()  # a refused logo or name leaves what is stored on the page
    return _settings_page(request, account, caller, profile_form=profile_form)


@login_required
@require_http_methods(["POST"])
def resend_verification(request):
    """The settings page's button: the root user has the link mailed again (throttled)."""
    account, caller, refused = _signed_in_account(request)
    if refused is not None:
        return refused
    if not caller.is_root:
        return render(request, "accounts/not_root.html", status=403)
    if account.email_verified:
        messages.info(request, "Your email is already verified.")
    else:
        try:
            sent = email_verification.resend_link(account=account, site_url=links.site_url(request))
        except throttle.Throttled as refusal:
            messages.error(request, str(refusal))
        else:
            if sent:
                messages.success(request, "We mailed you a new verification link.")
            else:
                messages.error(request, "We could not mail the link just now; try again in a while.")
    return redirect("accounts:settings")


class PasswordResetView(auth_views.PasswordResetView):
    """Django's, mailing a link to BERTH_PUBLIC_URL rather than to the request's Host header."""

    form_class = PasswordResetForm

    def form_valid(self, form):
        self.extra_email_context = {"site_url": links.site_url(self.request)}
        return super().form_valid(form)
