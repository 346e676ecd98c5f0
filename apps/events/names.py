"""The domain events, by name. Payloads are JSON objects of ids and facts (no model
instances): a subscriber reads the rows it needs, as they are when it runs. Who
publishes and who subscribes: docs/events.md.

repository.created        {repositoryId, accountId, repository, visibility, creationTemplate (only when a template gave its settings)}
repository.changed        {repositoryId, accountId, repository, changed: [what, ...]}
repository.deleted        {repositoryId, accountId, repository, uploadIds: [id, ...]}
image.pushed              {repositoryId, accountId, repository, manifestId, digest, mediaType, tag}
image.details_recorded    {repositoryId, manifestId, digest}
image.deleted             {repositoryId, accountId, repository, digest, tags: [tag, ...], reason}
tag.moved                 {repositoryId, accountId, repository, tag, digest, previousDigest}
tag.deleted               {repositoryId, accountId, repository, tag, digest}
images.pulled             {pulls: [{accountId, repository, tag, digest, mediaType, day, count, lastPulledAt}]}
account.changed           {accountId, changed: [what, ...]}
alias_request.decided     {aliasRequestId, accountId, alias, status, siteUrl}
image.scan_requested      {repositoryId, manifestId, digest}
image.scan_completed      {repositoryId, accountId, repository, manifestId, digest, status, severityCounts}
images.rematched          {scans: [{repositoryId, accountId, repository, manifestId, digest, status, severityCounts}]}
advisories.changed        {advisoryIds: [id, ...]}
blobs.served              {batchId, served: [{day, repositoryId, accountId, repository, anonymous, bytes, requests}]}
image.replication_changed {repositoryId, accountId, repository, digest, action, tag, destination: {region, registryId,
                           endpoint}, status, failureCode, failureReason, attempts, backfillId}

``tag`` is null for a push by digest, ``previousDigest`` "" for a new tag; image.deleted's
``reason`` is "request", or the Berth component that deleted it ("lifecycle", "replication"); in
images.pulled ``tag`` is "" for a pull by digest."""

REPOSITORY_CREATED = "repository.created"
REPOSITORY_CHANGED = "repository.changed"
REPOSITORY_DELETED = "repository.deleted"
IMAGE_PUSHED = "image.pushed"
IMAGE_DETAILS_RECORDED = "image.details_recorded"
IMAGE_DELETED = "image.deleted"
TAG_MOVED = "tag.moved"
TAG_DELETED = "tag.deleted"
IMAGES_PULLED = "images.pulled"
ACCOUNT_CHANGED = "account.changed"
ALIAS_REQUEST_DECIDED = "alias_request.decided"
IMAGE_SCAN_REQUESTED = "image.scan_requested"
IMAGE_SCAN_COMPLETED = "image.scan_completed"
IMAGES_REMATCHED = "images.rematched"
ADVISORIES_CHANGED = "advisories.changed"
BLOBS_SERVED = "blobs.served"
IMAGE_REPLICATION_CHANGED = "image.replication_changed"

ALL = (
    REPOSITORY_CREATED, REPOSITORY_CHANGED, REPOSITORY_DELETED, IMAGE_PUSHED, IMAGE_DETAILS_RECORDED, IMAGE_DELETED,
    TAG_MOVED, TAG_DELETED, IMAGES_PULLED, ACCOUNT_CHANGED, ALIAS_REQUEST_DECIDED, IMAGE_SCAN_REQUESTED,
    IMAGE_SCAN_COMPLETED, IMAGES_REMATCHED, ADVISORIES_CHANGED, BLOBS_SERVED, IMAGE_REPLICATION_CHANGED,
)  # fmt: skip
