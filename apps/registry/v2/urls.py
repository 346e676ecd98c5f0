"""Routes of the registry API. Repository names contain '/', so the resource is
found from the end of the path."""

from django.urls import re_path

from . import blobs, catalog, manifests, referrers, root, tags, uploads

NAME = r"(?P<name>[^?#]+?)"
urlpatterns = [
    re_path(r"^v2/$", root.api_root),
    re_path(r"^v2/_catalog$", catalog.catalog),
    re_path(rf"^v2/{NAME}/tags/list$", tags.tag_list),
    re_path(rf"^v2/{NAME}/manifests/(?P<reference>[^/]+)$", manifests.manifest),
    re_path(rf"^v2/{NAME}/blobs/uploads/?$", uploads.start),
    re_path(rf"^v2/{NAME}/blobs/uploads/(?P<upload_id>[^/]+)$", uploads.session),
    re_path(rf"^v2/{NAME}/blobs/(?P<digest>[^/]+)$", blobs.blob),
    re_path(rf"^v2/{NAME}/referrers/(?P<digest>[^/]+)$", referrers.referrers),
    re_path(r"^v2/(?P<path>.*)$", root.unknown_endpoint),
]
