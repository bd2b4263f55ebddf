"""Each partner's view of the log, kept current: what every partner channel is answered on.

The store keeps, per partner and channel (``query``, ``subscribe``), the log as the sharing
policy projects it for that partner (:mod:`keiretsu.store.partner_view`). This module decides
what goes in and keeps it current:

* after every document the node accepts, the writer projects that document's events (and the
  events it corrected) into every view, before any subscriber is told of the document;
* before a partner is answered, the view is checked against the policy in force and the
  node's own documents: a policy edited since the view was built (or a table added to the
  store) rebuilds it whole, documents stored while the node was down are projected, and only
  then is the question answered;
* only the node's own events are projected: events received from partners never leave by any
  channel (a partner's data is not the node's to forward).

A rebuild reads every own event once and runs the policy over it in chunks, in one
transaction: partners keep getting answers from the previous view until the new one is whole.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from keiretsu.store import Store
from keiretsu.store.partner_view import (
    affected_events,
    build_view,
    catalog_signature,
    local_ocel,
    local_watermark,
    own_event_ids,
    replace_events,
    view_schema,
)

if TYPE_CHECKING:
    import duckdb

    from keiretsu.model.ocel import Ocel
    from keiretsu.node.policy import Policy
    from keiretsu.node.runtime import Node

__all__ = ["CHANNELS", "PartnerViews"]

CHANNELS = ("query", "subscribe")
"""The channels a partner reads by, each with its own view (a policy may grant one and not
the other)."""

REBUILD_CHUNK = 250_000
"""Events projected at a time when a view is rebuilt (bounds the memory a rebuild takes)."""


class PartnerViews:
    """The partner views of one node. Writes run on the node's writer thread; reads use
    per-thread cursors with the view's schema first on their search path."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self._lock = threading.Lock()
        # (partner, channel) → (fingerprint, watermark) of the view as last written
        self._state: dict[tuple[str, str], tuple[str, int]] = {}
        self._local = threading.local()
        self._policy_seen: tuple[Policy, str] | None = None
        self._catalog: str | None = None

    # --- reading ------------------------------------------------------------------------------

    def cursor(self, partner: str, channel: str) -> duckdb.DuckDBPyConnection:
        """A read cursor on ``partner``'s view by ``channel``, brought up to date first."""
        if channel not in CHANNELS:
            raise ValueError(f"unknown channel {channel!r}: expected one of {CHANNELS}")
        self.ensure(partner, channel)
        cursors: dict[str, Any] | None = getattr(self._local, "cursors", None)
        if cursors is None:
            cursors = self._local.cursors = {}
        schema = view_schema(partner, channel)
        cur = cursors.get(schema)
        if cur is None:
            cur = self.node.store.con.cursor()
            cur.execute(f"SET search_path = '{schema}'")
            cursors[schema] = cur
        return cur

    def ensure(self, partner: str, channel: str) -> None:
        """Bring the view up to date with the policy and the node's own documents (on the
        writer thread; this waits for it). Cheap when nothing changed: one look at the policy
        file's time stamp and one at the newest own document."""
        key = (partner, channel)
        current = (self._fingerprint(), local_watermark(self.node.cursor()))
        with self._lock:
            known = self._state.get(key)
        if known == current:
            return
        self.node.writer.submit(lambda store: self.refresh(store, partner, channel)).result()

    # --- writing (on the writer thread) -------------------------------------------------------

    def _fingerprint(self, con: duckdb.DuckDBPyConnection | None = None) -> str:
        """The policy in force and the store's tables, as one digest: a view written under
        another one is rebuilt. The store's tables change only when it is opened (its schema
        is created or migrated then), so they are read once per run, and again by each
        refresh on the writer."""
        policy = self.node.policy()
        if self._policy_seen is None or self._policy_seen[0] is not policy:
            self._policy_seen = (policy, policy.fingerprint())
        if con is not None or self._catalog is None:
            self._catalog = catalog_signature(con if con is not None else self.node.cursor())
        return self._policy_seen[1] + self._catalog

    def refresh(self, store: Store, partner: str, channel: str) -> None:
        """Make ``partner``'s view by ``channel`` current: rebuilt whole if the policy or the
        store's tables changed since it was written, else the own documents accepted since
        projected."""
        con = store.con
        key = (partner, channel)
        schema = view_schema(partner, channel)
        fingerprint = self._fingerprint(con)
        watermark = local_watermark(con)
        row = con.execute(
            "SELECT fingerprint, watermark FROM partner_view WHERE view_schema = ?", [schema]
        ).fetchone()
        exists = bool(
            con.execute("SELECT 1 FROM duckdb_schemas() WHERE schema_name = ?", [schema]).fetchall()
        )
        if exists and row is not None and row[0] == fingerprint and int(row[1]) >= watermark:
            with self._lock:
                self._state[key] = (fingerprint, watermark)
            return
        con.execute("BEGIN TRANSACTION")
        try:
            # only events of a type some rule could let through are handed to the policy
            types = self.node.policy().candidate_types(partner, channel)
            if row is None or not exists or row[0] != fingerprint:
                build_view(con, schema)
                ids = own_event_ids(con, types)
                for start in range(0, len(ids), REBUILD_CHUNK):
                    self._project(con, schema, partner, channel, ids[start : start + REBUILD_CHUNK])
            elif int(row[1]) < watermark:
                changed, fresh = affected_events(con, int(row[1]), types=types)
                if changed:
                    loaded = local_ocel(con, changed, newer_than=int(row[1]) if fresh else None)
                    self._project(con, schema, partner, channel, changed, loaded, fresh=fresh)
            con.execute(
                "INSERT OR REPLACE INTO partner_view VALUES (?, ?, ?, ?, ?, ?)",
                [schema, partner, channel, fingerprint, watermark, datetime.now(UTC)],
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        with self._lock:
            self._state[key] = (fingerprint, watermark)

    def refresh_all(self, store: Store) -> None:
        """After a document is accepted: every view already built, brought up to date. The
        views that only lag behind the same documents share one read of them (one read of
        the store, then the policy once per view)."""
        con = store.con
        partners = self.node.partners()
        fingerprint = self._fingerprint(con)
        watermark = local_watermark(con)
        lagging: dict[int, list[tuple[str, str, str]]] = {}
        for schema, partner, channel, built_under, done in con.execute(
            "SELECT view_schema, partner, channel, fingerprint, watermark FROM partner_view"
            " ORDER BY partner, channel"
        ).fetchall():
            if partner not in partners:
                continue
            if built_under != fingerprint:  # to be rebuilt whole
                self.refresh(store, partner, channel)
            elif int(done) < watermark:
                lagging.setdefault(int(done), []).append((schema, partner, channel))
            else:
                with self._lock:
                    self._state[(partner, channel)] = (fingerprint, watermark)
        policy = self.node.policy()
        for done, views in lagging.items():
            wanted = [policy.candidate_types(p, c) for _, p, c in views]
            named = [t for t in wanted if t is not None]
            types = None if len(named) < len(wanted) else frozenset[str]().union(*named)
            changed, fresh = affected_events(con, done, types=types)
            con.execute("BEGIN TRANSACTION")
            try:
                loaded = (
                    local_ocel(con, changed, newer_than=done if fresh else None)
                    if changed
                    else None
                )
                for schema, partner, channel in views:
                    self._project(con, schema, partner, channel, changed, loaded, fresh=fresh)
                    con.execute(
                        "UPDATE partner_view SET watermark = ?, built_at = ? WHERE view_schema = ?",
                        [watermark, datetime.now(UTC), schema],
                    )
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            with self._lock:
                for _, partner, channel in views:
                    self._state[(partner, channel)] = (fingerprint, watermark)

    def _project(
        self,
        con: duckdb.DuckDBPyConnection,
        schema: str,
        partner: str,
        channel: str,
        event_ids: Sequence[str],
        loaded: tuple[Ocel, pa.Table] | None = None,
        *,
        fresh: bool = False,
    ) -> None:
        """Project ``event_ids`` (the node's own rows of them, ``loaded`` if already read)
        into one view. ``fresh``: none of them can be in the view yet (each came in a
        document the view has not seen), so nothing is taken out first."""
        if not event_ids:
            return
        node = self.node
        policy = node.policy()
        ocel, placement = loaded if loaded is not None else local_ocel(con, event_ids)
        # an aggregate rule's daily totals are pushed to the partner, never queried
        shared = policy.apply(ocel, partner, secret=node.secret, right=channel, aggregates=False)
        names = policy.event_names(event_ids, partner, secret=node.secret)
        placement = pa.table(
            {
                "ocel_id": pa.array(
                    policy.event_names(
                        placement.column("ocel_id").to_pylist(), partner, secret=node.secret
                    ),
                    pa.string(),
                ),
                "ingest_id": placement.column("ingest_id"),
                "ocel_seq": placement.column("ocel_seq"),
            }
        )
        replace_events(
            con,
            schema,
            remove=[] if fresh else sorted({*event_ids, *names}),
            shared=shared,
            placement=placement,
            visible_at=datetime.now(UTC),
        )
