"""The dataset registry is the one list the runner, --dataset, purge and docs agree with."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from soldscope_cli.datasets import registry
from soldscope_cli.db.database import STORE_TABLES
from soldscope_cli.errors import UsageError
from soldscope_cli.sync import runner

DOCS = Path(__file__).parent.parent.parent / "docs" / "sync.md"


def test_the_runner_runs_exactly_the_registered_datasets() -> None:
    assert tuple(runner.DATASETS) == registry.NAMES
    assert runner.SyncOptions().datasets == registry.NAMES


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], registry.NAMES),
        (["ba", "inventory"], ("inventory", "brand-analytics")),
        (["Finance", " brand_analytics "], ("finances", "brand-analytics")),
    ],
)
def test_dataset_spellings(values: list[str], expected: tuple[str, ...]) -> None:
    assert registry.parse(values) == expected


def test_an_unknown_dataset_lists_the_known_ones() -> None:
    with pytest.raises(UsageError) as info:
        registry.parse(["no-such-dataset"])
    assert info.value.hint == f"use one of: {', '.join(registry.NAMES)}"


def test_every_dataset_has_a_sync_module_and_tables_the_database_purges() -> None:
    for dataset in registry.DATASETS:
        assert callable(importlib.import_module(dataset.module).sync)
        assert set(dataset.table_names) <= set(STORE_TABLES)


def test_docs_describe_every_dataset_and_its_tables() -> None:
    text = DOCS.read_text()
    for dataset in registry.DATASETS:
        assert f"| `{dataset.name}` |" in text
        for alias in dataset.aliases:
            assert f"`{alias}`" in text
        for table in dataset.table_names:
            assert f"`{table}`" in text


def test_importing_the_registry_imports_no_dataset() -> None:
    code = "import sys, soldscope_cli.datasets.registry; print('\\n'.join(sys.modules))"
    modules = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "soldscope_cli.sync.inventory" not in modules and "httpx" not in modules
