"""Render the stored About and Usage texts again: their headings now sit a level
under the page's own h1 (apps.repositories.catalog.render_markdown)."""

from django.db import migrations


def render_again(apps, schema_editor):
    from apps.repositories.catalog import render_markdown

    catalog_data = apps.get_model("repositories", "RepositoryCatalogData")
    rows = catalog_data.objects.exclude(about_markdown="", usage_markdown="").only(
        "repository_id", "about_markdown", "usage_markdown"
    )
    for row in rows.iterator(chunk_size=500):
        catalog_data.objects.filter(pk=row.pk).update(
            about_html=render_markdown(row.about_markdown), usage_html=render_markdown(row.usage_markdown)
        )


class Migration(migrations.Migration):
    dependencies = [("repositories", "0004_repository_creation_templates")]

    operations = [migrations.RunPython(render_again, migrations.RunPython.noop)]
