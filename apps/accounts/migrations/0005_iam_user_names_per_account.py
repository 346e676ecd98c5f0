"""IAM user names become unique within their account instead of across Berth.

Every membership gets the name its account knows the user by: a root user keeps its
own user name (and signs in with it as before); an IAM user's Django username becomes
``<account-id>/<name>`` (its sign-in name with the account id), so that another
account may have a user of the same name."""
from django.conf import settings
from django.db import migrations, models
from django.db.models import F
from django.db.models.functions import Lower


def name_members(apps, schema_editor):
    Membership = apps.get_model("accounts", "Membership")
    User = apps.get_model(settings.AUTH_USER_MODEL)
    RootUser = apps.get_model("iam", "RootUser")
    roots = set(RootUser.objects.values_list("user_id", flat=True))
    names_in_account: dict[tuple[str, str], str] = {}
    for membership in Membership.objects.select_related("user").order_by("pk").iterator():
        user = membership.user
        name = user.username
        clash = names_in_account.setdefault((membership.account_id, name.lower()), name)
        if clash != name:
            raise RuntimeError(
                f"account {membership.account_id} has users named {clash!r} and {name!r}: user names are now "
                "unique within an account ignoring case, as in AWS. Rename or delete one of them and migrate again."
            )
        membership.user_name = name
        membership.save(update_fields=["user_name"])
        if user.pk not in roots:
            User.objects.filter(pk=user.pk).update(username=f"{membership.account_id}/{name}")


def restore_global_names(apps, schema_editor):
    Membership = apps.get_model("accounts", "Membership")
    User = apps.get_model(settings.AUTH_USER_MODEL)
    RootUser = apps.get_model("iam", "RootUser")
    roots = set(RootUser.objects.values_list("user_id", flat=True))
    for membership in Membership.objects.exclude(user_id__in=roots).iterator():
        User.objects.filter(pk=membership.user_id).update(username=membership.user_name)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_alias_requests_reserved_names_suspension"),
        ("iam", "0002_builtin_policies_and_root_users"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="membership",
            name="user_name",
            field=models.CharField(default="", max_length=150),
            preserve_default=False,
        ),
        migrations.RunPython(name_members, restore_global_names),
        migrations.AddConstraint(
            model_name="membership",
            constraint=models.UniqueConstraint(
                F("account"), Lower("user_name"), name="membership_user_name_unique_in_account"
            ),
        ),
        migrations.AddConstraint(
            model_name="membership",
            constraint=models.CheckConstraint(
                condition=models.Q(("user_name", ""), _negated=True), name="membership_user_name_not_empty"
            ),
        ),
    ]
