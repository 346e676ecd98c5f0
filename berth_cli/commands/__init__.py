"""One module per command group of the `berth` client."""
