"""invitations and consent_states: pending links, and the single-use states their clicks mint."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from soldscope_cli.db.model import Invitation, NewInvitation, StateClaim, from_db_time, to_db_time

if TYPE_CHECKING:
    from soldscope_cli.db.sqlite.state import Connections

# Spent or expired states are kept a day (enough to tell "used" from "unknown"), then removed.
STATE_KEEP = timedelta(days=1)

_COLUMNS = (
    "id, uid, token_hash, name, kind, region, marketplaces, region_wide, note, created_at,"
    " expires_at, used_at, revoked_at, selling_partner_id"
)
_PENDING = "used_at IS NULL AND revoked_at IS NULL AND expires_at > ?"


def _time(value: str | None) -> datetime | None:
    return None if value is None else from_db_time(value)


def _row(row: sqlite3.Row | tuple[object, ...]) -> Invitation:
    (id_, uid, token_hash, name, kind, region, markets, wide, note, created, expires) = row[:11]
    used, revoked, seller = row[11:14]
    return Invitation(
        uid=str(uid),
        token_hash=str(token_hash),
        name=str(name),
        kind=str(kind),
        region=str(region),
        marketplaces=tuple(json.loads(str(markets))),
        region_wide=bool(wide),
        note=None if note is None else str(note),
        created_at=from_db_time(str(created)),
        expires_at=from_db_time(str(expires)),
        id=int(str(id_)),
        used_at=_time(None if used is None else str(used)),
        revoked_at=_time(None if revoked is None else str(revoked)),
        selling_partner_id=None if seller is None else str(seller),
    )


class InvitationsTable:
    """Invitations by token hash; each write is one transaction."""

    def __init__(self, db: Connections) -> None:
        self._db = db

    def create(self, invitation: NewInvitation) -> Invitation:
        """Store a new invitation."""
        with self._db.transaction() as tx:
            cur = tx.execute(
                "INSERT INTO invitations (uid, token_hash, name, kind, region, marketplaces,"
                " region_wide, note, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    invitation.uid,
                    invitation.token_hash,
                    invitation.name,
                    invitation.kind,
                    invitation.region,
                    json.dumps(list(invitation.marketplaces)),
                    int(invitation.region_wide),
                    invitation.note,
                    to_db_time(invitation.created_at),
                    to_db_time(invitation.expires_at),
                ),
            )
            row = tx.execute(
                f"SELECT {_COLUMNS} FROM invitations WHERE id = ?",  # noqa: S608 (fixed columns)
                (cur.lastrowid,),
            ).fetchone()
        return _row(row)

    def by_token_hash(self, token_hash: str) -> Invitation | None:
        """The invitation whose token hashes to `token_hash`, whatever its status."""
        row = (
            self._db.connection()
            .execute(
                f"SELECT {_COLUMNS} FROM invitations WHERE token_hash = ?",  # noqa: S608
                (token_hash,),
            )
            .fetchone()
        )
        return None if row is None else _row(row)

    def by_id(self, invitation_id: int) -> Invitation | None:
        """An invitation by its id."""
        row = (
            self._db.connection()
            .execute(f"SELECT {_COLUMNS} FROM invitations WHERE id = ?", (invitation_id,))  # noqa: S608
            .fetchone()
        )
        return None if row is None else _row(row)

    def pending_for(self, name: str, now: datetime) -> Invitation | None:
        """The newest invitation for `name` that can still be used."""
        row = (
            self._db.connection()
            .execute(
                f"SELECT {_COLUMNS} FROM invitations WHERE name = ? AND {_PENDING}"  # noqa: S608
                " ORDER BY id DESC LIMIT 1",
                (name, to_db_time(now)),
            )
            .fetchone()
        )
        return None if row is None else _row(row)

    def listing(self, now: datetime, *, include_done: bool) -> list[Invitation]:
        """Pending invitations (or all of them), oldest first."""
        conn = self._db.connection()
        if include_done:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM invitations ORDER BY id").fetchall()  # noqa: S608
        else:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM invitations WHERE {_PENDING} ORDER BY id",  # noqa: S608
                (to_db_time(now),),
            ).fetchall()
        return [_row(row) for row in rows]

    def revoke(self, invitation_id: int, now: datetime) -> bool:
        """End a pending invitation; False when it was no longer pending."""
        with self._db.transaction() as tx:
            cur = tx.execute(
                f"UPDATE invitations SET revoked_at = ? WHERE id = ? AND {_PENDING}",  # noqa: S608
                (to_db_time(now), invitation_id, to_db_time(now)),
            )
        return cur.rowcount == 1

    def add_state(
        self, state_hash: str, invitation_id: int, now: datetime, expires_at: datetime
    ) -> None:
        """Remember a fresh consent state (by its hash) for one click on an invitation."""
        with self._db.transaction() as tx:
            tx.execute(
                "DELETE FROM consent_states WHERE expires_at < ?", (to_db_time(now - STATE_KEEP),)
            )
            tx.execute(
                "INSERT INTO consent_states (state_hash, invitation_id, created_at, expires_at)"
                " VALUES (?, ?, ?, ?)",
                (state_hash, invitation_id, to_db_time(now), to_db_time(expires_at)),
            )

    def claim_state(self, state_hash: str, now: datetime) -> StateClaim:
        """Spend a consent state: once, before it expires; the invitation it was minted for."""
        with self._db.transaction() as tx:
            row = tx.execute(
                "SELECT invitation_id, expires_at, used_at FROM consent_states WHERE state_hash = ?",
                (state_hash,),
            ).fetchone()
            if row is None:
                return StateClaim(None, "unknown")
            if row[2] is not None:
                return StateClaim(None, "used")
            tx.execute(
                "UPDATE consent_states SET used_at = ? WHERE state_hash = ?",
                (to_db_time(now), state_hash),
            )
            found = tx.execute(
                f"SELECT {_COLUMNS} FROM invitations WHERE id = ?",  # noqa: S608
                (row[0],),
            ).fetchone()
        # An expired state still names its invitation: the seller is sent back to the link.
        return StateClaim(_row(found), "expired" if from_db_time(row[1]) <= now else None)

    def mark_used(self, invitation_id: int, now: datetime, selling_partner_id: str) -> bool:
        """Record that a consent through the invitation was stored; False if it was not pending."""
        with self._db.transaction() as tx:
            cur = tx.execute(
                "UPDATE invitations SET used_at = ?, selling_partner_id = ?"
                " WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL",
                (to_db_time(now), selling_partner_id, invitation_id),
            )
        return cur.rowcount == 1
