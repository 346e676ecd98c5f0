"""The root-user marker is the accounts app's model now (accounts 0006); its table
stays: state only."""
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("iam", "0002_builtin_policies_and_root_users"),
        ("accounts", "0006_rootuser"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="RootUser")]),
    ]
