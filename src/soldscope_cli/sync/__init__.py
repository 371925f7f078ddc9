"""Synced data: the runner, one module per dataset, and the registry that lists them."""
