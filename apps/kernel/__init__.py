"""The lowest floor: small, pure helpers every app may import (no Django, no app
imports), so that the identity floor (IAM's policy core) and the registry can share
them without importing each other."""
