"""The OCI distribution (Docker Registry V2) HTTP API: one module per resource."""
