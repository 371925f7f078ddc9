"""Synced data: one module per dataset, each owning its table, plus the runner that drives them.

Importing the package registers every dataset's migration and data table with the state database,
so anything that migrates or purges (`delete --purge-data`) should import it first.
"""

from __future__ import annotations

from soldscope_cli.sync import brand_analytics, finances, inventory

__all__ = ["brand_analytics", "finances", "inventory"]
