"""The psycopg connection type every module of the PostgreSQL engine names."""

from __future__ import annotations

from typing import Any

import psycopg

Conn = psycopg.Connection[Any]
