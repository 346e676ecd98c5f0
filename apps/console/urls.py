"""Routes of the account pages under /accounts/ (the site's paths have no trailing slash)."""

from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from apps.accounts.forms import SignInForm

from . import views

app_name = "accounts"

urlpatterns = [
    path("signup", views.sign_up, name="signup"),
    path(
        "login",
        auth_views.LoginView.as_view(authentication_form=SignInForm, redirect_authenticated_user=True),
        name="login",
    ),
    path("logout", auth_views.LogoutView.as_view(), name="logout"),
    path("settings", views.account_settings, name="settings"),
    path("settings/profile", views.publisher_profile, name="publisher_profile"),
    path("settings/verification", views.resend_verification, name="resend_verification"),
    path("verify-email/<str:token>", views.verify_email, name="verify_email"),
    path(
        "password-reset",
        views.PasswordResetView.as_view(
            success_url=reverse_lazy("accounts:password_reset_done"),
            email_template_name="registration/password_reset_email.txt",
            subject_template_name="registration/password_reset_subject.txt",
        ),
        name="password_reset",
    ),
    path("password-reset/sent", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>",
        auth_views.PasswordResetConfirmView.as_view(success_url=reverse_lazy("accounts:password_reset_complete")),
        name="password_reset_confirm",
    ),
    path("password-reset/done", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
]
