"""Synced data: the runner, the report lifecycle, and one sync module per declared dataset."""
