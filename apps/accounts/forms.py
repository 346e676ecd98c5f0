"""The website's account forms. They check what a form can see and hand the rest
to the services, whose errors they show on the field they concern."""

from __future__ import annotations

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.forms import PasswordResetForm as DjangoPasswordResetForm
from django.contrib.auth.password_validation import password_validators_help_text_html, validate_password
from django.core.exceptions import ValidationError
from django.urls import reverse

from apps.kernel import images

from . import links, selectors, services, throttle
from .models import CUSTOM_ALIAS_MAX_LENGTH, PUBLISHER_BIO_MAX_LENGTH, REGISTRY_DISPLAY_NAME_MAX_LENGTH, Account

# The email is the user name too, and user names are at most this long.
EMAIL_MAX_LENGTH = 150


class _PlainLabels:
    """Labels read as written ("Password", not Django's "Password:")."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class SignUpForm(_PlainLabels, forms.Form):
    email = forms.EmailField(max_length=EMAIL_MAX_LENGTH, widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()

    def clean(self):
        cleaned = super().clean()
        email, password1, password2 = cleaned.get("email"), cleaned.get("password1"), cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", "the two passwords differ")
        elif password1 and email:
            try:
                validate_password(password1, get_user_model()(username=email, email=email))
            except ValidationError as error:
                self.add_error("password1", error)
        return cleaned

    def sign_up(self) -> Account | None:
        """The new account, or None with the form's errors set."""
        try:
            return services.sign_up(email=self.cleaned_data["email"], password=self.cleaned_data["password1"])
        except services.EmailTaken as error:
            self.add_error("email", str(error))
        except services.UsernameInvalid as error:
            self.add_error("email", f"this email cannot be your user name: {error}")
        except ValidationError as error:
            self.add_error("password1", error)
        return None


def _throttled(refusal: throttle.Throttled) -> ValidationError:
    return ValidationError(str(refusal), code="throttled")


class SignInForm(_PlainLabels, AuthenticationForm):
    """Django's sign-in form, asking for the email (or, for users made on the
    command line, the user name; for an IAM user, `<account id or alias>/<user name>`)
    and saying why a suspended account is refused and how long a throttled one waits."""

    username = forms.CharField(
        label="Email or user name",
        help_text="An IAM user gives its account too: account id or alias, then its name (123456789012/alice).",
        max_length=254,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )

    def clean(self):
        try:
            return super().clean()
        except throttle.Throttled as refusal:
            raise _throttled(refusal) from None
        except ValidationError:
            # Only someone who knows the password learns that the account is suspended.
            username, password = self.cleaned_data.get("username", ""), self.cleaned_data.get("password", "")
            if selectors.is_suspended_sign_in(username, password):
                raise ValidationError(
                    "this account is suspended; its owner has been told why by the operators", code="suspended"
                ) from None
            raise


class StaffSignInForm(AdminAuthenticationForm):
    """The staff console's sign-in form, saying how long a throttled sign-in waits."""

    def clean(self):
        try:
            return super().clean()
        except throttle.Throttled as refusal:
            raise _throttled(refusal) from None


class PasswordResetForm(DjangoPasswordResetForm):
    """Django's, whose mail links to the ``site_url`` its view puts in the mail's
    context (links.site_url), never to the request's Host header."""

    def send_mail(self, subject_template_name, email_template_name, context, *args, **kwargs):
        path = reverse("accounts:password_reset_confirm", kwargs={"uidb64": context["uid"], "token": context["token"]})
        context["reset_link"] = links.mailed_link(context["site_url"], path)
        super().send_mail(subject_template_name, email_template_name, context, *args, **kwargs)


class AliasRequestForm(_PlainLabels, forms.Form):
    alias = forms.CharField(
        max_length=CUSTOM_ALIAS_MAX_LENGTH + 10,  # a little over, so a long one gets the rule's message
        help_text="2 to 50 characters: a letter first, then lowercase letters and digits, with single . _ or - "
        "between them. Staff review each request; it takes a few days.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"}),
    )

    def __init__(self, *args, account: Account, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.account = account

    def clean_alias(self) -> str:
        alias = self.cleaned_data["alias"].strip()
        services.validate_custom_alias(alias, account=self.account)
        return alias


class PublisherProfileForm(_PlainLabels, forms.Form):
    """The publisher's profile: checked by services.update_publisher_profile, whose
    errors land on the field they concern."""

    display_name = forms.CharField(
        required=False,
        max_length=REGISTRY_DISPLAY_NAME_MAX_LENGTH,
        help_text="Your organisation or project as people know it. The gallery shows it once staff verify you as "
        "a publisher; until then it shows your alias.",
    )
    bio = forms.CharField(
        required=False,
        strip=False,  # the service strips it once line breaks are one character each
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": PUBLISHER_BIO_MAX_LENGTH}),
        help_text=f"Plain text, up to {PUBLISHER_BIO_MAX_LENGTH} characters, shown on your publisher page as written.",
    )
    logo = forms.FileField(
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg"}),
        help_text=f"A PNG or JPEG image of at most {images.LOGO_MAX_BYTES // 1000} kB, each side "
        f"{images.LOGO_MIN_SIDE} to {images.LOGO_MAX_SIDE} pixels. Leave empty to keep the current one.",
    )
    remove_logo = forms.BooleanField(required=False, label="Remove the logo")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("logo") and cleaned.get("remove_logo"):
            self.add_error("remove_logo", "give a new logo or remove the logo, not both")
        return cleaned

    def logo_bytes(self) -> bytes | None:
        """The uploaded logo, read no further than one byte past the limit (which
        is enough to refuse it)."""
        upload = self.cleaned_data.get("logo")
        return upload.read(images.LOGO_MAX_BYTES + 1) if upload else None

    def save(self, *, account: Account, actor, context) -> Account | None:
        """The account with its profile updated, or None with the form's errors set."""
        try:
            return services.update_publisher_profile(
                account=account,
                display_name=self.cleaned_data["display_name"],
                bio=self.cleaned_data["bio"],
                logo=self.logo_bytes(),
                remove_logo=self.cleaned_data["remove_logo"],
                actor=actor,
                context=context,
            )
        except services.PublisherProfileInvalid as error:
            self.add_error(error.field if error.field in self.fields else None, str(error))
        return None
