"""invitations and consent_states: pending links, and the single-use states their clicks mint."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from soldscope_cli.db.model import Invitation, InvitationFailure, NewInvitation, StateClaim
from soldscope_cli.db.sql import Dialect, Ids, Json, Tx
from soldscope_cli.db.tables.base import Engine

# Spent or expired states are kept a day (enough to tell "used" from "unknown"), then removed.
STATE_KEEP = timedelta(days=1)

_COLUMNS = (
    "id, uid, token_hash, name, kind, region, marketplaces, region_wide, note, created_at,"
    " expires_at, used_at, revoked_at, selling_partner_id"
)
_PENDING = "used_at IS NULL AND revoked_at IS NULL AND expires_at > ?"


def _row(d: Dialect, row: tuple[Any, ...]) -> Invitation:
    (id_, uid, token_hash, name, kind, region, markets, wide, note, created, expires) = row[:11]
    used, revoked, seller = row[11:14]
    created_at, expires_at = d.time(created), d.time(expires)
    assert created_at is not None and expires_at is not None  # NOT NULL columns
    return Invitation(
        uid=str(uid),
        token_hash=str(token_hash),
        name=str(name),
        kind=str(kind),
        region=str(region),
        marketplaces=tuple(str(m) for m in d.json(markets) or ()),
        region_wide=bool(wide),
        note=None if note is None else str(note),
        created_at=created_at,
        expires_at=expires_at,
        id=int(id_),
        used_at=d.time(used),
        revoked_at=d.time(revoked),
        selling_partner_id=None if seller is None else str(seller),
    )


def _last_failures(tx: Tx, invitations: Sequence[Invitation]) -> dict[int, InvitationFailure]:
    """The newest `invitation_failed` event of each invitation, by invitation id."""
    wanted = {inv.id for inv in invitations}
    if not wanted:
        return {}
    names = sorted({inv.name for inv in invitations})
    rows = tx.all(
        "SELECT at, detail FROM events WHERE kind = 'invitation_failed' AND "  # noqa: S608
        + tx.d.in_ids("store")
        + " ORDER BY id",
        (Ids(names),),
    )
    found: dict[int, InvitationFailure] = {}
    for at, detail in rows:
        data = tx.d.json(detail) or {}
        when = tx.d.time(at)
        invitation_id = data.get("invitation_id") if isinstance(data, dict) else None
        if invitation_id not in wanted or not isinstance(invitation_id, int) or when is None:
            continue
        message = data.get("message")
        found[invitation_id] = InvitationFailure(
            when, str(data.get("reason", "?")), message if isinstance(message, str) else None
        )
    return found


class InvitationsTable:
    """Invitations by token hash; each write is one transaction."""

    def __init__(self, db: Engine) -> None:
        self._db = db

    def _one(self, where: str, params: tuple[Any, ...]) -> Invitation | None:
        with self._db.reading() as tx:
            row = tx.one(f"SELECT {_COLUMNS} FROM invitations WHERE {where}", params)  # noqa: S608
            return None if row is None else _row(tx.d, row)

    def create(self, invitation: NewInvitation) -> Invitation:
        """Store a new invitation; returns it with its id."""
        with self._db.writing() as tx:
            new_id = tx.insert(
                "INSERT INTO invitations (uid, token_hash, name, kind, region, marketplaces,"
                " region_wide, note, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    invitation.uid,
                    invitation.token_hash,
                    invitation.name,
                    invitation.kind,
                    invitation.region,
                    Json(list(invitation.marketplaces)),
                    invitation.region_wide,
                    invitation.note,
                    invitation.created_at,
                    invitation.expires_at,
                ),
            )
            row = tx.one(f"SELECT {_COLUMNS} FROM invitations WHERE id = ?", (new_id,))  # noqa: S608
            assert row is not None  # just inserted
            return _row(tx.d, row)

    def by_token_hash(self, token_hash: str) -> Invitation | None:
        """The invitation whose link token hashes to this, or None."""
        return self._one("token_hash = ?", (token_hash,))

    def by_id(self, invitation_id: int) -> Invitation | None:
        """The invitation with this id, or None."""
        return self._one("id = ?", (invitation_id,))

    def pending_for(self, name: str, now: datetime) -> Invitation | None:
        """The newest pending invitation for a store name, or None."""
        return self._one(f"name = ? AND {_PENDING} ORDER BY id DESC LIMIT 1", (name, now))

    def listing(self, now: datetime, *, include_done: bool) -> list[Invitation]:
        """Invitations oldest first: all of them, or only the pending ones."""
        with self._db.reading() as tx:
            if include_done:
                rows = tx.all(f"SELECT {_COLUMNS} FROM invitations ORDER BY id")  # noqa: S608
            else:
                rows = tx.all(
                    f"SELECT {_COLUMNS} FROM invitations WHERE {_PENDING} ORDER BY id",  # noqa: S608
                    (now,),
                )
            return [_row(tx.d, row) for row in rows]

    def last_failures(self, invitations: Sequence[Invitation]) -> dict[int, InvitationFailure]:
        """The newest failed consent (`invitation_failed` event) of each invitation, by its id."""
        with self._db.reading() as tx:
            return _last_failures(tx, invitations)

    def revoke(self, invitation_id: int, now: datetime) -> bool:
        """End a pending invitation; False when it was no longer pending."""
        with self._db.writing() as tx:
            return (
                tx.count(
                    f"UPDATE invitations SET revoked_at = ? WHERE id = ? AND {_PENDING}",  # noqa: S608
                    (now, invitation_id, now),
                )
                == 1
            )

    def add_state(
        self, state_hash: str, invitation_id: int, now: datetime, expires_at: datetime
    ) -> None:
        """Remember a fresh consent state (by its hash) for one click on an invitation."""
        with self._db.writing() as tx:
            tx.execute("DELETE FROM consent_states WHERE expires_at < ?", (now - STATE_KEEP,))
            tx.execute(
                "INSERT INTO consent_states (state_hash, invitation_id, created_at, expires_at)"
                " VALUES (?, ?, ?, ?)",
                (state_hash, invitation_id, now, expires_at),
            )

    def claim_state(self, state_hash: str, now: datetime) -> StateClaim:
        """Spend a consent state: once, before it expires; the invitation it was minted for."""
        with self._db.writing() as tx:
            # Locked: two callbacks with one state (two serve processes) spend it once.
            row = tx.one(
                "SELECT invitation_id, expires_at, used_at FROM consent_states"  # noqa: S608 (dialect clauses)
                f" WHERE state_hash = ?{tx.d.lock()}",
                (state_hash,),
            )
            if row is None:
                return StateClaim(None, "unknown")
            if row[2] is not None:
                return StateClaim(None, "used")
            tx.execute(
                "UPDATE consent_states SET used_at = ? WHERE state_hash = ?", (now, state_hash)
            )
            found = tx.one(f"SELECT {_COLUMNS} FROM invitations WHERE id = ?", (row[0],))  # noqa: S608
            assert found is not None  # a state's invitation is never removed
            expires = tx.d.time(row[1])
            # An expired state still names its invitation: the seller is sent back to the link.
            return StateClaim(
                _row(tx.d, found), "expired" if expires is not None and expires <= now else None
            )

    def mark_used(self, invitation_id: int, now: datetime, selling_partner_id: str) -> bool:
        """Claim the invitation for one consent; False if it was not pending (another won).

        One conditional UPDATE: of two callbacks racing on one link, in any processes or on any
        hosts sharing the database, exactly one sees True.
        """
        with self._db.writing() as tx:
            return (
                tx.count(
                    "UPDATE invitations SET used_at = ?, selling_partner_id = ?"  # noqa: S608
                    f" WHERE id = ? AND {_PENDING}",
                    (now, selling_partner_id, invitation_id, now),
                )
                == 1
            )

    def release(self, invitation_id: int, claimed_at: datetime, selling_partner_id: str) -> None:
        """Undo a claim whose connection could not be stored: the link can be used again."""
        with self._db.writing() as tx:
            tx.execute(
                "UPDATE invitations SET used_at = NULL, selling_partner_id = NULL"
                " WHERE id = ? AND used_at = ? AND selling_partner_id = ?",
                (invitation_id, claimed_at, selling_partner_id),
            )
