from django.contrib import admin

from .models import Repository


@admin.register(Repository)
class RepositoryAdmin(admin.ModelAdmin):
    list_display = ("name", "account", "visibility", "created_at")
    list_filter = ("visibility",)
    search_fields = ("name", "account__id", "account__name")
    raw_id_fields = ("account",)
