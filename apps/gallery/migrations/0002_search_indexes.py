"""PostgreSQL's search indexes: a GIN index over the stored search document, and a
trigram GIN index over the names (pg_trgm) for typo-tolerant matching. Other
databases search without them (see apps.gallery.selectors), so nothing runs there."""
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEXES = [
    (
        "gallery_entry_search_document",
        "CREATE INDEX IF NOT EXISTS gallery_entry_search_document ON gallery_galleryentry USING gin (search_document)",
    ),
    (
        "gallery_entry_title_trigram",
        "CREATE INDEX IF NOT EXISTS gallery_entry_title_trigram ON gallery_galleryentry USING gin (title gin_trgm_ops)",
    ),
]


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for _, sql in INDEXES:
            schema_editor.execute(sql)


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name, _ in INDEXES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("gallery", "0001_initial")]

    operations = [
        # CreateExtension itself does nothing on databases other than PostgreSQL.
        TrigramExtension(),
        migrations.RunPython(create_indexes, drop_indexes),
    ]
