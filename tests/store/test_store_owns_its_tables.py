"""Every table, view, schema and sequence of a node's DuckDB file is declared in ``store/``.

The store migrates a file from one schema version to the next (``store/schema.py``); a table
some other room creates on the side (the node once made its named-query and subscription tables
itself) is missed by the migrations and by the partner views, which shadow every table of the
store. So no code outside ``store/`` may create or alter a persistent object in the file:
temporary tables (a session's scratch space) are fine, and so are ``io/`` writers of other
formats (the OCEL 2.0 SQLite export writes its own file).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "keiretsu"
OWNERS = (SRC / "store", SRC / "io")

DDL = re.compile(
    r"\b(CREATE|ALTER)\s+(OR\s+REPLACE\s+)?(TABLE|VIEW|SCHEMA|SEQUENCE|INDEX|MACRO)\b",
    re.IGNORECASE,
)


def _ddl_outside_store() -> list[str]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if any(path.is_relative_to(owner) for owner in OWNERS):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                match = DDL.search(node.value)
                if match:
                    where = path.relative_to(SRC.parent)
                    found.append(f"{where}:{node.lineno}: {match.group(0)}")
    return found


def test_no_room_but_the_store_creates_a_table_in_the_node_file() -> None:
    assert _ddl_outside_store() == []


def test_the_check_sees_a_table_created_elsewhere() -> None:
    sql = "CREATE TABLE IF NOT EXISTS node_query (name VARCHAR)"
    assert DDL.search(sql)
    assert DDL.search("create or replace view v as select 1")
    assert not DDL.search("CREATE OR REPLACE TEMP TABLE k_touch AS SELECT 1")
