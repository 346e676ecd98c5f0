from django.contrib import admin

from .models import WebhookDelivery, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ("id", "account", "url", "active", "created_at")
    list_filter = ("active",)
    search_fields = ("account__id", "url")
    # The sealed secret is never shown, even sealed.
    exclude = ("sealed_secret",)
    readonly_fields = ("account", "url", "events", "created_at", "updated_at")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("id", "endpoint", "event_name", "status", "attempts", "last_status_code", "created_at")
    list_filter = ("status", "event_name")
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]
