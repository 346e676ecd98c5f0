"""Amazon's own wire protocols, so that the AWS CLI, boto3 and Terraform work
against Berth unchanged: ECR and ECR Public over AWS JSON 1.1, STS over the AWS
Query protocol, every request signed with AWS Signature Version 4.

- `views.py`: `POST /` (the endpoint a client's `--endpoint-url` names), told apart
  from the gallery's home page by method and the `X-Amz-Target` header (or, for
  STS, a form body with an `Action`).
- `signing.py`: verifies the signature against Berth access keys and role-session
  credentials.
- `protocol.py` (AWS JSON 1.1) and `query.py` (the Query protocol): read requests and
  write responses from botocore's own service models, so an operation is a handler
  and a table entry, never a serializer.
- `operations.py`: the table of operations and the `Call` a handler is given
  (who calls, for which account, `authorize` as every other surface does it).
- `ecr/`, `ecr_public/`, `sts.py`: the handlers, one module per area, each calling
  the same services and selectors as the management API; `handlers.py` lists them.
- `catalog.py`: the supported and unsupported operations, for the README and
  `berth aws_operations`."""
