"""ECR Public's image, layer and token operations on the account's public
repositories (a private one is RepositoryNotFoundException here, as in AWS):
DescribeImages, DescribeImageTags, PutImage, BatchDeleteImage,
InitiateLayerUpload, UploadLayerPart, CompleteLayerUpload,
BatchCheckLayerAvailability and GetAuthorizationToken.

They are ECR's handlers (apps.aws.ecr.images, layers, tokens), which name their
actions after the service called (`ecr-public:PutImage`) and write ECR Public's
shapes; DescribeImageTags and GetAuthorizationToken's shape are ECR Public's own."""

from __future__ import annotations

from apps.registry import selectors as registry_selectors

from .. import protocol
from ..ecr import images, layers, tokens
from ..operations import Call, operation

for handler, name in [
    (images.describe_images, "DescribeImages"),
    (images.put_image, "PutImage"),
    (images.batch_delete_image, "BatchDeleteImage"),
    (layers.initiate_layer_upload, "InitiateLayerUpload"),
    (layers.upload_layer_part, "UploadLayerPart"),
    (layers.complete_layer_upload, "CompleteLayerUpload"),
    (layers.batch_check_layer_availability, "BatchCheckLayerAvailability"),
]:
    operation(protocol.ECR_PUBLIC, name)(handler)


@operation(protocol.ECR_PUBLIC, "DescribeImageTags")
def describe_image_tags(call: Call) -> dict:
    repository = images.authorized_repository(call, "DescribeImageTags")
    tags, next_token = registry_selectors.describe_image_tags(
        repository, limit=call.params.get("maxResults", images.DEFAULT_PAGE), next_token=call.params.get("nextToken")
    )
    return {
        "imageTagDetails": [
            {
                "imageTag": tag.name,
                "createdAt": tag.updated_at,  # when the tag came to point at this image
                "imageDetail": images.referenced_image_detail(tag.manifest) | {"imageStatus": "ACTIVE"},
            }
            for tag in tags
        ],
        "nextToken": next_token,
    }


@operation(protocol.ECR_PUBLIC, "GetAuthorizationToken")
def get_authorization_token(call: Call) -> dict:
    return {"authorizationData": tokens.authorization_data(tokens.login_password(call))}
