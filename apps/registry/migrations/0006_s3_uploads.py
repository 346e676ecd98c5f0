from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0005_pending_blobs"),
    ]

    operations = [
        migrations.AddField(
            model_name="upload",
            name="multipart_id",
            field=models.CharField(blank=True, default="", max_length=1024),
        ),
        migrations.AddField(
            model_name="upload",
            name="parts",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="upload",
            name="tail_key",
            field=models.CharField(blank=True, default="", max_length=1024),
        ),
        migrations.AddField(
            model_name="upload",
            name="hash_state",
            field=models.BinaryField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="upload",
            name="assembled",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="upload",
            name="lease_token",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.AddField(
            model_name="upload",
            name="lease_expires_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
