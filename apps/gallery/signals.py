"""Keep the gallery's rows in step with the models they summarize.

Signals rather than one call per service: what a row shows is changed by services
of four apps (repositories, catalog data, registry pushes and deletes, image details
worked out later) and by the staff admin (verifying or suspending a publisher),
and each of them saves through Model.save/create/delete, which is where these
receivers listen. Each receiver runs inside the writer's transaction."""
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from apps.accounts.models import Account, Alias
from apps.registry.models import Manifest, Tag
from apps.repositories.models import Repository, RepositoryCatalogData

from . import services


@receiver(post_save, sender=Repository, dispatch_uid="gallery.repository_saved")
def _repository_saved(sender, instance: Repository, raw: bool = False, **kwargs) -> None:
    if not raw:
        services.refresh_entry(repository_id=instance.pk)


@receiver(post_save, sender=RepositoryCatalogData, dispatch_uid="gallery.catalog_saved")
@receiver(post_save, sender=Tag, dispatch_uid="gallery.tag_saved")
def _repository_content_saved(sender, instance, raw: bool = False, **kwargs) -> None:
    if not raw:
        services.refresh_entry(repository_id=instance.repository_id)


@receiver(post_delete, sender=RepositoryCatalogData, dispatch_uid="gallery.catalog_deleted")
@receiver(post_delete, sender=Tag, dispatch_uid="gallery.tag_deleted")
def _repository_content_deleted(sender, instance, origin=None, **kwargs) -> None:
    # When the repository itself is being deleted its row goes with it (CASCADE);
    # rebuilding it from the half-deleted repository would bring it back.
    origin_model = getattr(origin, "model", type(origin))
    if origin_model is not Repository:
        services.refresh_entry(repository_id=instance.repository_id)


@receiver(post_save, sender=Manifest, dispatch_uid="gallery.manifest_saved")
def _manifest_details_recorded(sender, instance: Manifest, raw: bool = False, update_fields=None, **kwargs) -> None:
    # Platforms arrive after the push (tasks.record_image_details); a new manifest
    # shows up through its tag instead.
    if not raw and update_fields and "platforms" in update_fields:
        services.refresh_entry(repository_id=instance.repository_id)


@receiver(post_save, sender=Account, dispatch_uid="gallery.account_saved")
def _account_saved(sender, instance: Account, raw: bool = False, **kwargs) -> None:
    if not raw:
        services.refresh_account(account_id=instance.pk)


@receiver(post_save, sender=Alias, dispatch_uid="gallery.alias_saved")
def _alias_saved(sender, instance: Alias, raw: bool = False, **kwargs) -> None:
    if not raw:
        services.refresh_account(account_id=instance.account_id)
