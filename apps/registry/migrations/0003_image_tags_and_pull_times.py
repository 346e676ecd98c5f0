from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0002_manifest_conversion'),
    ]

    operations = [
        migrations.AddField(
            model_name='manifest',
            name='last_pulled_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name='manifestconversion',
            name='variant',
            field=models.CharField(blank=True, default='', max_length=1024),
        ),
        migrations.AlterField(
            model_name='tag',
            name='name',
            field=models.CharField(max_length=300),
        ),
        migrations.AlterField(
            model_name='taghistory',
            name='tag',
            field=models.CharField(max_length=300),
        ),
    ]
