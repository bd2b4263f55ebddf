"""The partners page: who this node shares what with, in words, what it receives, and what
is still owed to each partner.

The node's objects (its policy, partner keys, stores) are reached through the running node
(``app.state.node``) and read as they are — the words here describe the rules the node's
``policy.toml`` holds (``keiretsu.node.policy.Rule``), the counts come from the store (the
ingest log, the outbox) and from each partner's own view of the log (what it can query)."""

from __future__ import annotations

from typing import Any

from keiretsu.web.pages import plain


def _list(values: Any, what: str) -> str | None:
    if not values:
        return None
    return f"{what} " + ", ".join(str(v) for v in values)


def rule_in_words(rule: Any) -> str:
    """One sharing rule said as a sentence (what it lets leave, to whom, by which channel)."""
    who = ", ".join(rule.subjects)
    rights = ", ".join(rule.rights)
    if getattr(rule, "for_lessons", False):
        what = "kaizen lessons"
        parts = [
            _list(rule.wastes, "about the wastes"),
            _list(rule.statuses, "of experiments that are"),
            _list(rule.withhold, "withholding"),
        ]
    elif rule.share == "aggregate":
        what = f"daily totals ({rule.measure})" if rule.measure else "daily totals"
        parts = [_list(rule.biz_steps, "of the steps"), _list(rule.locations, "at")]
    else:
        what = "events"
        parts = [
            _list(rule.event_types, "of the types"),
            _list(rule.biz_steps, "at the steps"),
            _list(rule.epcis_event_types, "of the EPCIS kinds"),
            _list(rule.object_types, "touching"),
            _list(rule.locations, "at"),
            f"from {rule.time_from.isoformat()}" if rule.time_from else None,
            f"until {rule.time_until.isoformat()}" if rule.time_until else None,
            f"when {len(rule.when)} condition(s) hold" if rule.when else None,
            _list(rule.keep_attributes, "keeping only the attributes"),
            _list(rule.remove_attributes, "removing the attributes"),
            _list(rule.share_objects, "with the objects of the types"),
            _list(rule.pseudonymise, "under pseudonyms for"),
            "with pseudonymous event ids" if rule.pseudonymise_event_ids else None,
        ]
    verb = "lets" if rule.effect == "permit" else "stops"
    detail = "; ".join(p for p in parts if p)
    sentence = f"Rule “{rule.id}” {verb} {what} go to {who} by {rights}"
    if detail:
        sentence += f" — {detail}"
    if rule.description:
        sentence += f". {rule.description}"
    return sentence + "."


def partners_page(node: Any) -> dict[str, Any]:
    """Per partner: its URL, the rules that name it (in words), how many events it can query
    now (its view), what it sent this node (documents and events from the ingest log), and
    the delivery backlog (the outbox)."""

    cursor = node.store.con.cursor()  # its own: nothing another reader left on a shared one
    try:
        return _partners_page(node, cursor)
    finally:
        cursor.close()


def _partners_page(node: Any, cursor: Any) -> dict[str, Any]:
    from keiretsu.store.ingest_log import ingest_log

    policy = node.policy()
    partners = node.partners()
    status = {r["partner"]: plain(r) for r in node.store.outbox_status(cursor).to_pylist()}
    received: dict[str, dict[str, int]] = {}
    for r in ingest_log(cursor).to_pylist():
        if r["source"] == "local" or r["status"] != "accepted":
            continue
        got = received.setdefault(r["source"], {"documents": 0, "events": 0})
        got["documents"] += 1
        got["events"] += int(r["events_new"] or 0)
    rows = []
    for name in sorted(set(partners) | set(status) | set(received)):
        key = partners.get(name)
        rules = [rule_in_words(r) for r in policy.rules if r.names(name)]
        try:
            found = node.views.cursor(name, "query").execute("SELECT count(*) FROM ocel_event")
            visible: int | None = int(found.fetchall()[0][0])
        except Exception:  # a partner no longer known, or a view that cannot be built now
            visible = None
        rows.append(
            {
                "name": name,
                "url": key.url if key is not None else None,
                "rules": rules,
                "queryable_events": visible,
                "received": received.get(name, {"documents": 0, "events": 0}),
                "delivery": status.get(name),
            }
        )
    problem = node.policy_problem()
    return {
        "partners": rows,
        "policy_present": node.home.policy_path.exists(),
        "policy_problem": problem,
        "unnamed_rules": [
            rule_in_words(r) for r in policy.rules if not any(r.names(p) for p in partners)
        ],
    }
