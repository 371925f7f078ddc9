"""Monitoring exports: Prometheus metrics and the renewal calendar, from local state only."""
