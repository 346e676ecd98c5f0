"""The lowest floor: small helpers every app may import (no app imports; Django
only in `requests`, which reads a request's context), so that the identity floor
(IAM's policy core) and the registry can share them without importing each other."""
