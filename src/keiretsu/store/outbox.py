"""The outbox: what each partner is owed of this node's documents, and how delivery went.

When the node accepts a document of its own, the partners its policy may share with are owed
it: one row per (document, partner) is written in the transaction that accepts the document,
so a document is never stored without its debts, nor owed without being stored. The delivery
worker (:mod:`keiretsu.node.delivery`) reads what is owed, applies the sharing policy to the
rows read back from the store, pushes them, and records each attempt here: delivered, or
failed with the reason (still owed, tried again later).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from keiretsu.store.arrow import arrow_table, rows

__all__ = ["OutboxMixin"]


def _owed_rows(con: duckdb.DuckDBPyConnection) -> int:
    found = rows(con, "SELECT count(*) FROM outbox")
    return int(found[0][0]) if found else 0


def _pending_rows(con: duckdb.DuckDBPyConnection, partner: str) -> int:
    found = rows(
        con, "SELECT count(*) FROM outbox WHERE partner = ? AND delivered_at IS NULL", [partner]
    )
    return int(found[0][0]) if found else 0


class OutboxMixin:
    """The outbox part of :class:`~keiretsu.store.Store` (its methods are the store's)."""

    con: duckdb.DuckDBPyConnection

    def outbox_add(
        self, partner: str, *, since_ingest: int | None = None, again: bool = False
    ) -> int:
        """Owe ``partner`` every accepted local document (from ``since_ingest`` on): for a
        partner introduced after events were already recorded. Returns the documents added.
        ``again``: owe it also those already delivered (for a partner the policy newly
        permits: they went out as the former policy allowed, perhaps empty; the partner's
        inbox keeps each event once). Then returns the documents owed anew."""
        if again:
            pending = _pending_rows(self.con, partner)
            self.con.execute(
                "UPDATE outbox SET delivered_at = NULL, last_error = NULL "
                "WHERE partner = ? AND ingest_id >= coalesce(?, 0)",
                [partner, since_ingest],
            )
            self.outbox_add(partner, since_ingest=since_ingest)
            return _pending_rows(self.con, partner) - pending
        before = _owed_rows(self.con)
        self.con.execute(
            """
            INSERT INTO outbox (ingest_id, partner, created_at)
            SELECT ingest_id, ?, now() FROM ingest_log
            WHERE status = 'accepted' AND source = 'local' AND events_new > 0
              AND ingest_id >= coalesce(?, 0)
            ON CONFLICT DO NOTHING
            """,
            [partner, since_ingest],
        )
        return _owed_rows(self.con) - before

    def outbox_pending(
        self, partner: str, *, limit: int = 100, con: duckdb.DuckDBPyConnection | None = None
    ) -> list[tuple[int, int]]:
        """The documents still owed to ``partner``, oldest first: (ingest_id, new events).
        ``con`` lets another thread read with its own cursor."""
        return [
            (int(r[0]), int(r[1]))
            for r in rows(
                con or self.con,
                """
                SELECT o.ingest_id, l.events_new + l.events_corrected
                FROM outbox o JOIN ingest_log l USING (ingest_id)
                WHERE o.partner = ? AND o.delivered_at IS NULL ORDER BY o.ingest_id LIMIT ?
                """,
                [partner, limit],
            )
        ]

    def outbox_done(
        self,
        partner: str,
        ingest_ids: Sequence[int],
        *,
        events_sent: int | None = None,
        error: str | None = None,
    ) -> None:
        """Record a delivery attempt of these documents to ``partner``: delivered (no
        ``error``) or failed with ``error`` (they stay owed)."""
        now = datetime.now(UTC)
        self.con.executemany(
            """
            UPDATE outbox SET attempts = attempts + 1, last_attempt_at = ?, last_error = ?,
                delivered_at = CASE WHEN ? IS NULL THEN ? ELSE delivered_at END,
                events_sent = CASE WHEN ? IS NULL THEN ? ELSE events_sent END
            WHERE partner = ? AND ingest_id = ?
            """,
            [
                [now, error, error, now, error, events_sent if i == 0 else 0, partner, ingest_id]
                for i, ingest_id in enumerate(ingest_ids)
            ],
        )

    def outbox_status(self, con: duckdb.DuckDBPyConnection | None = None) -> pa.Table:
        """Per partner: documents delivered and owed, events sent, the last error."""
        return arrow_table(
            con or self.con,
            """
            SELECT partner,
                   count(*) FILTER (WHERE delivered_at IS NOT NULL) AS documents_delivered,
                   count(*) FILTER (WHERE delivered_at IS NULL) AS documents_owed,
                   CAST(coalesce(sum(events_sent), 0) AS BIGINT) AS events_sent,
                   max(delivered_at) AS last_delivered_at,
                   arg_max(last_error, last_attempt_at)
                       FILTER (WHERE delivered_at IS NULL) AS last_error
            FROM outbox GROUP BY partner ORDER BY partner
            """,
        )
