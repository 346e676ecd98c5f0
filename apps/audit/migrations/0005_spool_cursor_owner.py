"""Spool cursors keyed by their owner (the spool directory's id) as well as the
file's name. A primary key cannot be moved to another column in place on every
database, so the cursors move to a new table; the ones kept until now come over
unowned (owner ""), and the ingester whose directory holds such a file takes its
cursor over (apps.audit.spool)."""

from django.db import migrations, models


def carry_over(apps, schema_editor):
    legacy = apps.get_model("audit", "LegacySpoolCursor")
    cursor = apps.get_model("audit", "SpoolCursor")
    cursor.objects.bulk_create(
        cursor(owner="", name=name, offset=offset) for name, offset in legacy.objects.values_list("name", "offset")
    )


def carry_back(apps, schema_editor):
    """Back to cursors keyed by the file's name alone (file names never repeat across
    directories: they hold the host, the process id, the time and random digits)."""
    legacy = apps.get_model("audit", "LegacySpoolCursor")
    cursor = apps.get_model("audit", "SpoolCursor")
    legacy.objects.bulk_create(
        (legacy(name=name, offset=offset) for name, offset in cursor.objects.values_list("name", "offset")),
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0004_drop_event_name_index"),
    ]

    operations = [
        migrations.RenameModel("SpoolCursor", "LegacySpoolCursor"),
        migrations.CreateModel(
            name="SpoolCursor",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("owner", models.CharField(blank=True, max_length=64)),
                ("name", models.CharField(max_length=255)),
                ("offset", models.BigIntegerField(default=0)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("owner", "name"), name="audit_spool_cursor_once_per_owner")
                ],
            },
        ),
        migrations.RunPython(carry_over, carry_back),
        migrations.DeleteModel("LegacySpoolCursor"),
    ]
