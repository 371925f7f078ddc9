"""The SQLite schema as one ordered list of named migrations, recorded in schema_migrations.

A migration is applied once, inside its own transaction, and never edited once released: the
list is the schema's history, so a database written by any release upgrades in place. A fresh
database runs them all (the rebuilding ones are instant on empty tables).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import NamedTuple

from soldscope_cli.datasets import registry
from soldscope_cli.datasets.spec import Dataset
from soldscope_cli.db.model import TOKEN_LEDGER_INDEX, to_db_time
from soldscope_cli.db.sql import ddl, newest_marks
from soldscope_cli.db.sqlite.dialect import DIALECT
from soldscope_cli.db.tables.rate_buckets import FLEET_TABLE as FLEET_BUCKETS
from soldscope_cli.db.tables.rate_buckets import TABLE as RATE_BUCKETS


class Migration(NamedTuple):
    """A named schema change."""

    name: str
    apply: Callable[[sqlite3.Connection], None]


def execute_script(conn: sqlite3.Connection, script: str) -> None:
    """Run `;`-separated DDL inside the caller's transaction (executescript would commit it)."""
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def _m0001_state(conn: sqlite3.Connection) -> None:
    execute_script(
        conn,
        """
        CREATE TABLE checks (
            id INTEGER PRIMARY KEY,
            store TEXT NOT NULL,
            checked_at TEXT NOT NULL,
            source TEXT NOT NULL,
            outcome TEXT NOT NULL,
            error_code TEXT,
            error_message TEXT,
            request_id TEXT
        );
        CREATE INDEX checks_store ON checks (store, id);
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            store TEXT,
            kind TEXT NOT NULL,
            detail TEXT
        );
        CREATE INDEX events_store ON events (store, id);
        CREATE TABLE sync_runs (
            id INTEGER PRIMARY KEY,
            store TEXT NOT NULL,
            dataset TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            outcome TEXT,
            rows_added INTEGER NOT NULL DEFAULT 0,
            rows_updated INTEGER NOT NULL DEFAULT 0,
            error_code TEXT,
            error_message TEXT,
            request_id TEXT
        );
        CREATE INDEX sync_runs_store ON sync_runs (store, id);
        CREATE TABLE sync_state (
            store TEXT NOT NULL,
            dataset TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (store, dataset, key)
        );
        """,
    )


def _m0100_inventory(conn: sqlite3.Connection) -> None:
    execute_script(
        conn,
        """
        CREATE TABLE inventory_summaries (
            store TEXT NOT NULL,
            marketplace_id TEXT NOT NULL,
            seller_sku TEXT NOT NULL,
            asin TEXT,
            fn_sku TEXT,
            condition TEXT,
            product_name TEXT,
            total_quantity INTEGER,
            fulfillable_quantity INTEGER,
            inbound_working_quantity INTEGER,
            inbound_shipped_quantity INTEGER,
            inbound_receiving_quantity INTEGER,
            reserved_quantity INTEGER,
            researching_quantity INTEGER,
            unfulfillable_quantity INTEGER,
            last_updated_time TEXT,
            raw TEXT NOT NULL,
            synced_at TEXT NOT NULL,
            PRIMARY KEY (store, marketplace_id, seller_sku)
        );
        CREATE INDEX inventory_summaries_asin ON inventory_summaries (store, asin);
        """,
    )


def _m0110_finances(conn: sqlite3.Connection) -> None:
    execute_script(
        conn,
        """
        CREATE TABLE financial_transactions (
            store TEXT NOT NULL,
            transaction_id TEXT NOT NULL,
            transaction_type TEXT,
            transaction_status TEXT,
            description TEXT,
            posted_date TEXT,
            total_amount REAL,
            total_currency TEXT,
            marketplace_id TEXT,
            order_id TEXT,
            financial_event_group_id TEXT,
            raw TEXT NOT NULL,
            synced_at TEXT NOT NULL,
            PRIMARY KEY (store, transaction_id)
        );
        CREATE INDEX financial_transactions_posted ON financial_transactions (store, posted_date);
        """,
    )


def _m0120_brand_analytics(conn: sqlite3.Connection) -> None:
    # Rows carry a small integer load id rather than (marketplace, week, report): half the bytes
    # per row and an integer index, which is what makes the load fast. A load's rows are visible
    # only once ba_search_terms_weeks points at that load.
    execute_script(
        conn,
        """
        CREATE TABLE ba_search_terms_loads (
            load_id INTEGER PRIMARY KEY,
            store TEXT NOT NULL,
            marketplace_id TEXT NOT NULL,
            week_start TEXT NOT NULL,
            report_id TEXT NOT NULL,
            started_at TEXT NOT NULL
        );
        CREATE INDEX ba_search_terms_loads_week
            ON ba_search_terms_loads (store, marketplace_id, week_start);
        CREATE TABLE ba_search_terms_rows (
            load_id INTEGER NOT NULL,
            store TEXT NOT NULL,
            department_name TEXT,
            search_term TEXT,
            search_frequency_rank INTEGER,
            clicked_asin TEXT,
            clicked_item_name TEXT,
            click_share_rank INTEGER,
            click_share REAL,
            conversion_share REAL
        );
        CREATE INDEX ba_search_terms_rows_load ON ba_search_terms_rows (load_id);
        CREATE TABLE ba_search_terms_weeks (
            store TEXT NOT NULL,
            marketplace_id TEXT NOT NULL,
            week_start TEXT NOT NULL,
            week_end TEXT NOT NULL,
            report_id TEXT NOT NULL,
            processing_status TEXT NOT NULL,
            row_count INTEGER NOT NULL,
            load_id INTEGER,
            loaded_at TEXT NOT NULL,
            PRIMARY KEY (store, marketplace_id, week_start)
        );
        CREATE VIEW ba_search_terms AS
            SELECT w.store, w.marketplace_id, w.week_start, w.week_end, r.department_name,
                   r.search_term, r.search_frequency_rank, r.clicked_asin, r.clicked_item_name,
                   r.click_share_rank, r.click_share, r.conversion_share
            FROM ba_search_terms_weeks w
            JOIN ba_search_terms_rows r ON r.load_id = w.load_id;
        """,
    )


def decimal_text(value: object) -> str | None:
    """A stored amount as exact decimal text; a REAL becomes its shortest round-trip form."""
    if value is None:
        return None
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")
    if isinstance(value, int):
        return str(value)
    return format(Decimal(str(value)), "f")


def _m0200_stores(conn: sqlite3.Connection) -> None:
    """Connections get stable ids, amounts become exact text, history gets its read indexes.

    A name reused after `delete` must not inherit another seller's rows, so every row points at
    its connection's `stores` row; the name stays beside it where people and exports read it.
    An old database gets one stores row per distinct name in its history (every table that held
    a store name), marked deleted when its last event is `deleted`; every row keeps its id and
    order.
    """
    conn.create_function("decimal_text", 1, decimal_text, deterministic=True)
    execute_script(
        conn,
        """
        CREATE TABLE stores (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            selling_partner_id TEXT,
            region TEXT,
            created_at TEXT NOT NULL,
            deleted_at TEXT
        );
        CREATE UNIQUE INDEX stores_live_name ON stores (name) WHERE deleted_at IS NULL;
        INSERT INTO stores (name, created_at)
            SELECT name, MIN(seen) FROM (
                SELECT store AS name, checked_at AS seen FROM checks
                UNION ALL SELECT store, at FROM events WHERE store IS NOT NULL
                UNION ALL SELECT store, started_at FROM sync_runs
                UNION ALL SELECT store, updated_at FROM sync_state
                UNION ALL SELECT store, synced_at FROM inventory_summaries
                UNION ALL SELECT store, synced_at FROM financial_transactions
                UNION ALL SELECT store, started_at FROM ba_search_terms_loads
                UNION ALL SELECT store, loaded_at FROM ba_search_terms_weeks
                UNION ALL SELECT r.store, l.started_at FROM ba_search_terms_rows r
                    JOIN ba_search_terms_loads l ON l.load_id = r.load_id WHERE r.store != l.store
            ) GROUP BY name ORDER BY MIN(seen), name;
        UPDATE stores SET deleted_at = (
            SELECT e.at FROM events e WHERE e.store = stores.name ORDER BY e.id DESC LIMIT 1
        ) WHERE (
            SELECT e.kind FROM events e WHERE e.store = stores.name ORDER BY e.id DESC LIMIT 1
        ) = 'deleted';

        CREATE TABLE checks_new (
            id INTEGER PRIMARY KEY,
            store_id INTEGER NOT NULL REFERENCES stores (id),
            store TEXT NOT NULL,
            checked_at TEXT NOT NULL,
            source TEXT NOT NULL,
            outcome TEXT NOT NULL,
            error_code TEXT,
            error_message TEXT,
            request_id TEXT
        );
        INSERT INTO checks_new SELECT c.id, s.id, c.store, c.checked_at, c.source, c.outcome,
            c.error_code, c.error_message, c.request_id
            FROM checks c JOIN stores s ON s.name = c.store ORDER BY c.id;
        DROP TABLE checks;
        ALTER TABLE checks_new RENAME TO checks;
        CREATE INDEX checks_store ON checks (store_id, id);
        CREATE INDEX checks_conclusive ON checks (store_id, id) WHERE outcome IN ('ok', 'problem');
        CREATE INDEX checks_time ON checks (checked_at);

        CREATE TABLE events_new (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            store_id INTEGER REFERENCES stores (id),
            store TEXT,
            kind TEXT NOT NULL,
            detail TEXT
        );
        INSERT INTO events_new SELECT e.id, e.at, s.id, e.store, e.kind, e.detail
            FROM events e LEFT JOIN stores s ON s.name = e.store ORDER BY e.id;
        DROP TABLE events;
        ALTER TABLE events_new RENAME TO events;
        CREATE INDEX events_store ON events (store, id);
        CREATE INDEX events_time ON events (at);

        CREATE TABLE sync_runs_new (
            id INTEGER PRIMARY KEY,
            store_id INTEGER NOT NULL REFERENCES stores (id),
            store TEXT NOT NULL,
            dataset TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            outcome TEXT,
            rows_added INTEGER NOT NULL DEFAULT 0,
            rows_updated INTEGER NOT NULL DEFAULT 0,
            error_code TEXT,
            error_message TEXT,
            request_id TEXT
        );
        INSERT INTO sync_runs_new SELECT r.id, s.id, r.store, r.dataset, r.started_at,
            r.finished_at, r.outcome, r.rows_added, r.rows_updated, r.error_code, r.error_message,
            r.request_id
            FROM sync_runs r JOIN stores s ON s.name = r.store ORDER BY r.id;
        DROP TABLE sync_runs;
        ALTER TABLE sync_runs_new RENAME TO sync_runs;
        CREATE INDEX sync_runs_store ON sync_runs (store_id, id);
        CREATE INDEX sync_runs_ok ON sync_runs (store_id, finished_at) WHERE outcome = 'ok';
        CREATE INDEX sync_runs_time ON sync_runs (started_at);

        CREATE TABLE sync_state_new (
            store_id INTEGER NOT NULL REFERENCES stores (id),
            dataset TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (store_id, dataset, key)
        );
        INSERT INTO sync_state_new SELECT s.id, t.dataset, t.key, t.value, t.updated_at
            FROM sync_state t JOIN stores s ON s.name = t.store;
        DROP TABLE sync_state;
        ALTER TABLE sync_state_new RENAME TO sync_state;

        CREATE TABLE inventory_summaries_new (
            store_id INTEGER NOT NULL REFERENCES stores (id),
            store TEXT NOT NULL,
            marketplace_id TEXT NOT NULL,
            seller_sku TEXT NOT NULL,
            asin TEXT,
            fn_sku TEXT,
            condition TEXT,
            product_name TEXT,
            total_quantity INTEGER,
            fulfillable_quantity INTEGER,
            inbound_working_quantity INTEGER,
            inbound_shipped_quantity INTEGER,
            inbound_receiving_quantity INTEGER,
            reserved_quantity INTEGER,
            researching_quantity INTEGER,
            unfulfillable_quantity INTEGER,
            last_updated_time TEXT,
            raw TEXT NOT NULL,
            synced_at TEXT NOT NULL,
            PRIMARY KEY (store_id, marketplace_id, seller_sku)
        );
        INSERT INTO inventory_summaries_new SELECT s.id, i.store, i.marketplace_id, i.seller_sku,
            i.asin, i.fn_sku, i.condition, i.product_name, i.total_quantity,
            i.fulfillable_quantity, i.inbound_working_quantity, i.inbound_shipped_quantity,
            i.inbound_receiving_quantity, i.reserved_quantity, i.researching_quantity,
            i.unfulfillable_quantity, i.last_updated_time, i.raw, i.synced_at
            FROM inventory_summaries i JOIN stores s ON s.name = i.store;
        DROP TABLE inventory_summaries;
        ALTER TABLE inventory_summaries_new RENAME TO inventory_summaries;
        CREATE INDEX inventory_summaries_asin ON inventory_summaries (store_id, asin);

        CREATE TABLE financial_transactions_new (
            store_id INTEGER NOT NULL REFERENCES stores (id),
            store TEXT NOT NULL,
            transaction_id TEXT NOT NULL,
            transaction_type TEXT,
            transaction_status TEXT,
            description TEXT,
            posted_date TEXT,
            total_amount TEXT,
            total_currency TEXT,
            marketplace_id TEXT,
            order_id TEXT,
            financial_event_group_id TEXT,
            raw TEXT NOT NULL,
            synced_at TEXT NOT NULL,
            PRIMARY KEY (store_id, transaction_id)
        );
        INSERT INTO financial_transactions_new SELECT s.id, f.store, f.transaction_id,
            f.transaction_type, f.transaction_status, f.description, f.posted_date,
            decimal_text(f.total_amount), f.total_currency, f.marketplace_id, f.order_id,
            f.financial_event_group_id, f.raw, f.synced_at
            FROM financial_transactions f JOIN stores s ON s.name = f.store;
        DROP TABLE financial_transactions;
        ALTER TABLE financial_transactions_new RENAME TO financial_transactions;
        CREATE INDEX financial_transactions_posted
            ON financial_transactions (store_id, posted_date);

        DROP VIEW ba_search_terms;
        CREATE TABLE ba_search_terms_loads_new (
            load_id INTEGER PRIMARY KEY,
            store_id INTEGER NOT NULL REFERENCES stores (id),
            marketplace_id TEXT NOT NULL,
            week_start TEXT NOT NULL,
            report_id TEXT NOT NULL,
            started_at TEXT NOT NULL
        );
        INSERT INTO ba_search_terms_loads_new SELECT l.load_id, s.id, l.marketplace_id,
            l.week_start, l.report_id, l.started_at
            FROM ba_search_terms_loads l JOIN stores s ON s.name = l.store ORDER BY l.load_id;
        DROP TABLE ba_search_terms_loads;
        ALTER TABLE ba_search_terms_loads_new RENAME TO ba_search_terms_loads;
        CREATE INDEX ba_search_terms_loads_week
            ON ba_search_terms_loads (store_id, marketplace_id, week_start);

        CREATE TABLE ba_search_terms_rows_new (
            load_id INTEGER NOT NULL,
            store_id INTEGER NOT NULL,
            department_name TEXT,
            search_term TEXT,
            search_frequency_rank INTEGER,
            clicked_asin TEXT,
            clicked_item_name TEXT,
            click_share_rank INTEGER,
            click_share REAL,
            conversion_share REAL
        );
        INSERT INTO ba_search_terms_rows_new SELECT r.load_id, s.id, r.department_name,
            r.search_term, r.search_frequency_rank, r.clicked_asin, r.clicked_item_name,
            r.click_share_rank, r.click_share, r.conversion_share
            FROM ba_search_terms_rows r JOIN stores s ON s.name = r.store ORDER BY r.rowid;
        DROP TABLE ba_search_terms_rows;
        ALTER TABLE ba_search_terms_rows_new RENAME TO ba_search_terms_rows;
        CREATE INDEX ba_search_terms_rows_load ON ba_search_terms_rows (load_id);

        CREATE TABLE ba_search_terms_weeks_new (
            store_id INTEGER NOT NULL REFERENCES stores (id),
            marketplace_id TEXT NOT NULL,
            week_start TEXT NOT NULL,
            week_end TEXT NOT NULL,
            report_id TEXT NOT NULL,
            processing_status TEXT NOT NULL,
            row_count INTEGER NOT NULL,
            load_id INTEGER,
            loaded_at TEXT NOT NULL,
            PRIMARY KEY (store_id, marketplace_id, week_start)
        );
        INSERT INTO ba_search_terms_weeks_new SELECT s.id, w.marketplace_id, w.week_start,
            w.week_end, w.report_id, w.processing_status, w.row_count, w.load_id, w.loaded_at
            FROM ba_search_terms_weeks w JOIN stores s ON s.name = w.store;
        DROP TABLE ba_search_terms_weeks;
        ALTER TABLE ba_search_terms_weeks_new RENAME TO ba_search_terms_weeks;

        CREATE VIEW ba_search_terms AS
            SELECT s.name AS store, w.store_id, w.marketplace_id, w.week_start, w.week_end,
                   r.department_name, r.search_term, r.search_frequency_rank, r.clicked_asin,
                   r.clicked_item_name, r.click_share_rank, r.click_share, r.conversion_share
            FROM ba_search_terms_weeks w
            JOIN stores s ON s.id = w.store_id
            JOIN ba_search_terms_rows r ON r.load_id = w.load_id;
        """,
    )


def _m0300_read_indexes(conn: sqlite3.Connection) -> None:
    """Indexes for `log`, `data` and `export`: history by connection, runs by dataset."""
    execute_script(
        conn,
        """
        CREATE INDEX events_store_id ON events (store_id, id);
        CREATE INDEX sync_runs_dataset ON sync_runs (store_id, dataset, id);
        CREATE INDEX inventory_summaries_updated
            ON inventory_summaries (store_id, last_updated_time);
        """,
    )


def _m0310_invitations(conn: sqlite3.Connection) -> None:
    """Invitation links (`soldscope invite`) and the consent states `soldscope serve` mints.

    Only hashes of the link tokens and of the states are kept: a copy of the database lets
    nobody open a consent or answer one.
    """
    execute_script(
        conn,
        """
        CREATE TABLE invitations (
            id INTEGER PRIMARY KEY,
            uid TEXT NOT NULL UNIQUE,
            token_hash TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('new', 'renewal')),
            region TEXT NOT NULL,
            marketplaces TEXT NOT NULL,
            region_wide INTEGER NOT NULL DEFAULT 0,
            note TEXT,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            used_at TEXT,
            revoked_at TEXT,
            selling_partner_id TEXT
        );
        CREATE INDEX invitations_name ON invitations (name, id);
        CREATE TABLE consent_states (
            state_hash TEXT PRIMARY KEY,
            invitation_id INTEGER NOT NULL REFERENCES invitations (id),
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            used_at TEXT
        );
        CREATE INDEX consent_states_expiry ON consent_states (expires_at);
        """,
    )


def _m0320_secrets(conn: sqlite3.Connection) -> None:
    """Sealed secrets of the `database` backend: AES-GCM nonce and ciphertext, never a key.

    store_id names the connection a refresh token was sealed for. It is no foreign key: a deleted
    connection's `stores` row stays (marked), and `delete` removes the token in that transaction.
    """
    execute_script(
        conn,
        """
        CREATE TABLE secrets (
            name TEXT PRIMARY KEY,
            nonce BLOB NOT NULL,
            ciphertext BLOB NOT NULL,
            store_id INTEGER
        )
        """,
    )


def _m0710_newest_marks(conn: sqlite3.Connection) -> None:
    now = to_db_time(datetime.now(UTC))
    execute_script(conn, newest_marks(DIALECT, registry.DATASETS, f"'{now}'"))


def _declared(dataset: Dataset) -> Migration:
    """The migration that creates a dataset's tables from its declaration."""
    script = ";\n".join(ddl(table, DIALECT) for table in dataset.tables)
    return Migration(str(dataset.migration), lambda conn: execute_script(conn, script))


MIGRATIONS: tuple[Migration, ...] = (
    Migration("0001_state", _m0001_state),
    Migration("0100_inventory", _m0100_inventory),
    Migration("0110_finances", _m0110_finances),
    Migration("0120_brand_analytics", _m0120_brand_analytics),
    Migration("0200_stores", _m0200_stores),
    Migration("0300_read_indexes", _m0300_read_indexes),
    Migration("0310_invitations", _m0310_invitations),
    Migration("0320_secrets", _m0320_secrets),
    Migration("0410_rate_buckets", lambda conn: execute_script(conn, ddl(RATE_BUCKETS, DIALECT))),
    # doctor's one read of the ledger's token_written events, without scanning every event.
    Migration("0430_token_ledger", lambda conn: execute_script(conn, TOKEN_LEDGER_INDEX)),
    Migration("0440_fleet_buckets", lambda conn: execute_script(conn, ddl(FLEET_BUCKETS, DIALECT))),
    # Datasets added since: their tables as declared (soldscope_cli.datasets).
    *(_declared(d) for d in registry.DATASETS if d.migration),
    Migration("0710_newest_marks", _m0710_newest_marks),
)
