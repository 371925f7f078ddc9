"""invitations and consent_states on PostgreSQL: pending links and the states their clicks mint."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from psycopg.types.json import Jsonb

from soldscope_cli.db.model import Invitation, NewInvitation, StateClaim
from soldscope_cli.db.sqlite.invitations import STATE_KEEP

if TYPE_CHECKING:
    from soldscope_cli.db.postgres.state import Connections

_COLUMNS = (
    "id, uid, token_hash, name, kind, region, marketplaces, region_wide, note, created_at,"
    " expires_at, used_at, revoked_at, selling_partner_id"
)
_PENDING = "used_at IS NULL AND revoked_at IS NULL AND expires_at > %s"


def _row(row: tuple[Any, ...]) -> Invitation:
    (id_, uid, token_hash, name, kind, region, markets, wide, note, created, expires) = row[:11]
    used, revoked, seller = row[11:14]
    return Invitation(
        uid=str(uid),
        token_hash=str(token_hash),
        name=str(name),
        kind=str(kind),
        region=str(region),
        marketplaces=tuple(str(m) for m in markets),
        region_wide=bool(wide),
        note=None if note is None else str(note),
        created_at=created,
        expires_at=expires,
        id=int(id_),
        used_at=used,
        revoked_at=revoked,
        selling_partner_id=None if seller is None else str(seller),
    )


class InvitationsTable:
    """Invitations by token hash; each write is one transaction."""

    def __init__(self, db: Connections) -> None:
        self._db = db

    def _one(self, where: str, params: tuple[Any, ...]) -> Invitation | None:
        rows = self._db.query(f"SELECT {_COLUMNS} FROM invitations WHERE {where}", params)  # noqa: S608
        return None if not rows else _row(rows[0])

    def create(self, invitation: NewInvitation) -> Invitation:
        """Store a new invitation."""
        with self._db.transaction() as tx:
            row = tx.execute(
                "INSERT INTO invitations (uid, token_hash, name, kind, region, marketplaces,"  # noqa: S608
                " region_wide, note, created_at, expires_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                f" RETURNING {_COLUMNS}",
                (
                    invitation.uid,
                    invitation.token_hash,
                    invitation.name,
                    invitation.kind,
                    invitation.region,
                    Jsonb(list(invitation.marketplaces)),
                    invitation.region_wide,
                    invitation.note,
                    invitation.created_at,
                    invitation.expires_at,
                ),
            ).fetchone()
        assert row is not None  # RETURNING of an INSERT
        return _row(row)

    def by_token_hash(self, token_hash: str) -> Invitation | None:
        """The invitation whose token hashes to `token_hash`, whatever its status."""
        return self._one("token_hash = %s", (token_hash,))

    def by_id(self, invitation_id: int) -> Invitation | None:
        """An invitation by its id."""
        return self._one("id = %s", (invitation_id,))

    def pending_for(self, name: str, now: datetime) -> Invitation | None:
        """The newest invitation for `name` that can still be used."""
        return self._one(f"name = %s AND {_PENDING} ORDER BY id DESC LIMIT 1", (name, now))

    def listing(self, now: datetime, *, include_done: bool) -> list[Invitation]:
        """Pending invitations (or all of them), oldest first."""
        if include_done:
            rows = self._db.query(f"SELECT {_COLUMNS} FROM invitations ORDER BY id")  # noqa: S608
        else:
            rows = self._db.query(
                f"SELECT {_COLUMNS} FROM invitations WHERE {_PENDING} ORDER BY id",  # noqa: S608
                (now,),
            )
        return [_row(row) for row in rows]

    def revoke(self, invitation_id: int, now: datetime) -> bool:
        """End a pending invitation; False when it was no longer pending."""
        with self._db.transaction() as tx:
            cur = tx.execute(
                f"UPDATE invitations SET revoked_at = %s WHERE id = %s AND {_PENDING}",  # noqa: S608
                (now, invitation_id, now),
            )
            return cur.rowcount == 1

    def add_state(
        self, state_hash: str, invitation_id: int, now: datetime, expires_at: datetime
    ) -> None:
        """Remember a fresh consent state (by its hash) for one click on an invitation."""
        with self._db.transaction() as tx:
            tx.execute("DELETE FROM consent_states WHERE expires_at < %s", (now - STATE_KEEP,))
            tx.execute(
                "INSERT INTO consent_states (state_hash, invitation_id, created_at, expires_at)"
                " VALUES (%s, %s, %s, %s)",
                (state_hash, invitation_id, now, expires_at),
            )

    def claim_state(self, state_hash: str, now: datetime) -> StateClaim:
        """Spend a consent state: once, before it expires; the invitation it was minted for."""
        with self._db.transaction() as tx:
            # FOR UPDATE: two callbacks with one state (two serve processes) spend it once.
            row = tx.execute(
                "SELECT invitation_id, expires_at, used_at FROM consent_states"
                " WHERE state_hash = %s FOR UPDATE",
                (state_hash,),
            ).fetchone()
            if row is None:
                return StateClaim(None, "unknown")
            if row[2] is not None:
                return StateClaim(None, "used")
            tx.execute(
                "UPDATE consent_states SET used_at = %s WHERE state_hash = %s", (now, state_hash)
            )
            found = tx.execute(
                f"SELECT {_COLUMNS} FROM invitations WHERE id = %s",  # noqa: S608
                (row[0],),
            ).fetchone()
        assert found is not None  # consent_states.invitation_id references invitations
        # An expired state still names its invitation: the seller is sent back to the link.
        return StateClaim(_row(found), "expired" if row[1] <= now else None)

    def mark_used(self, invitation_id: int, now: datetime, selling_partner_id: str) -> bool:
        """Record that a consent through the invitation was stored; False if it was not pending."""
        with self._db.transaction() as tx:
            cur = tx.execute(
                "UPDATE invitations SET used_at = %s, selling_partner_id = %s"
                " WHERE id = %s AND used_at IS NULL AND revoked_at IS NULL",
                (now, selling_partner_id, invitation_id),
            )
            return cur.rowcount == 1
