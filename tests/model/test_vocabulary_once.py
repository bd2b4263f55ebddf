"""Every GS1 and CBV word of the house is written down once, in ``keiretsu.model``.

The check digit, the CBV code lists and their URN / web URI / ``cbv:`` prefixes, the GS1
Digital Link domain, the EPCIS event types: each lives in :mod:`keiretsu.model.gs1` or
:mod:`keiretsu.model.cbv`, and every reader, the validator, the hash, the mapping, the query,
the policy, the renderer and the analytics import it from there. Copies drift (the hash once
lacked sensor types the validator accepted; the store once kept as written EPCs the hash
converted), so this test reads the source and fails on a copy: a string in code (docstrings
and comments may quote the words) or a check-digit function anywhere else under
``src/keiretsu``.
"""

from __future__ import annotations

import ast
from pathlib import Path

from keiretsu.model import cbv

SRC = Path(__file__).resolve().parents[2] / "src" / "keiretsu"
HOMES = {SRC / "model" / "gs1.py", SRC / "model" / "cbv.py"}

# What only the two homes may spell out.
WORDS = (
    "urn:epcglobal:cbv:",  # CBV URNs: bizstep, disp, btt, sdt, er, bt, mda…
    "ref.gs1.org/cbv",  # CBV web URIs
    "gs1.org/voc",  # the GS1 Web Vocabulary (sensor types)
    "id.gs1.org",  # the canonical GS1 Digital Link domain
)


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of the string nodes that are docstrings (module, class, function)."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                out.add(id(body[0].value))
        # an attribute's docstring: a bare string right after an assignment
        for field in ("body", "orelse"):
            statements = getattr(node, field, None)
            if isinstance(statements, list):
                for statement in statements:
                    if isinstance(statement, ast.Expr) and isinstance(
                        statement.value, ast.Constant
                    ):
                        out.add(id(statement.value))
    return out


def _copies() -> list[str]:
    found: list[str] = []
    event_types = set(cbv.EVENT_TYPES)
    for path in sorted(SRC.rglob("*.py")):
        if path in HOMES:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        docs = _docstrings(tree)
        where = path.relative_to(SRC.parent)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if id(node) in docs:
                    continue
                for word in WORDS:
                    if word in node.value:
                        found.append(f"{where}:{node.lineno}: {word!r} in {node.value!r}")
            elif isinstance(node, ast.FunctionDef) and "check_digit" in node.name:
                found.append(f"{where}:{node.lineno}: a check digit function {node.name}()")
            elif isinstance(node, ast.Tuple | ast.List | ast.Set):
                words = {e.value for e in node.elts if isinstance(e, ast.Constant)}
                if event_types <= words:
                    found.append(f"{where}:{node.lineno}: the EPCIS event types listed again")
    return found


def test_gs1_and_cbv_words_are_spelled_out_only_in_model() -> None:
    copies = _copies()
    assert not copies, (
        "use keiretsu.model.gs1 / keiretsu.model.cbv instead of a copy:\n" + "\n".join(copies)
    )


def test_every_spelling_of_a_cbv_term_reads_as_its_word() -> None:
    for vocabulary in cbv.VOCABULARIES:
        for word in vocabulary.terms:
            for prefix in vocabulary.spellings:
                assert vocabulary.word(prefix + word) == word
            assert vocabulary.word(word) == word
            assert (vocabulary.uri_prefix + word).startswith(("https://ref.gs1.org/", cbv.GS1_VOC))
    assert cbv.BIZ_STEPS.word("https://example.com/my-step") == "https://example.com/my-step"
