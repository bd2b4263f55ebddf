"""EPCs of every scheme of the GS1 EPC Tag Data Standard, drawn for property tests.

Each draw gives the EPC URI (fields %-escaped where TDS requires it, and at random where it
allows it), a GS1 Digital Link spelling of the same key (any domain, a path prefix, a GTIN
written short, characters percent-encoded or not where a URI path allows either) and the
canonical Digital Link the twin must name it by. All three are computed here, from the TDS
and Digital Link tables, with this file's own check digit and escaping — not with
``keiretsu.model.gs1``, which the tests check against them.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

CANONICAL = "https://id.gs1.org"
AI82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
CPID = "#-/0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
URN_MUST = '"%&/<>?#'  # TDS: escaped in an EPC URI
PATH_MUST = '"%/<>?#'  # RFC 3986: escaped in a URI path segment (the rest of AI82 may stand)

INSTANCE_SCHEMES: tuple[str, ...] = tuple(
    "sgtin sscc sgln grai giai gsrn gsrnp gdti cpi sgcn ginc gsin itip upui pgln".split()  # noqa: SIM905
)
"""The EPC pure-identity schemes of GS1 keys."""
CLASS_SCHEMES: tuple[str, ...] = (
    "lgtin",
    *(f"idpat:{s}" for s in "sgtin upui itip grai gdti sgcn cpi".split()),  # noqa: SIM905
)
"""The EPC class scheme and the pure-identity patterns that name one class."""
SCHEMES = INSTANCE_SCHEMES + CLASS_SCHEMES


def check(digits: str) -> str:
    """GS1 mod-10: weights 3, 1, 3… from the right."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return str((10 - total % 10) % 10)


def canonical_encode(text: str) -> str:
    """GS1 Digital Link: all but the unreserved characters percent-encoded (upper-case hex)."""
    return "".join(c if c.isalnum() or c in "-._~" else f"%{ord(c):02X}" for c in text)


@dataclass(frozen=True)
class Epc:
    scheme: str
    urn: str
    link: str
    """A Digital Link spelling of the same key (not necessarily canonical)."""
    canonical: str
    """The canonical Digital Link the twin names the thing by."""
    prefix_length: int
    is_class: bool


def _escaped(draw: st.DrawFn, text: str, must: str) -> str:
    out = []
    for c in text:
        if c in must or (not c.isalnum() and draw(st.booleans())):
            out.append(f"%{ord(c):02X}")
        else:
            out.append(c)
    return "".join(out)


def _digits(n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=n, max_size=n)


@st.composite
def epcs(draw: st.DrawFn, schemes: tuple[str, ...] = SCHEMES) -> Epc:
    """One EPC of one of ``schemes`` in its two spellings, and its canonical form."""
    scheme = draw(st.sampled_from(schemes))
    n = draw(st.integers(6, 12))
    cp = draw(_digits(n))

    def serial(max_size: int, alphabet: str = AI82) -> str:
        return draw(st.text(alphabet=alphabet, min_size=1, max_size=max_size))

    def urn_text(text: str) -> str:
        return _escaped(draw, text, URN_MUST)

    def dl_text(text: str) -> str:
        return _escaped(draw, text, PATH_MUST)

    enc = canonical_encode
    name = scheme.removeprefix("idpat:")
    pattern = scheme.startswith("idpat:")
    kind = "idpat" if pattern else "class" if scheme == "lgtin" else "id"
    # (URN fields after the scheme, primary AI, key value, qualifiers) — values unencoded
    fields: list[str]
    qualifiers: list[tuple[str, str]] = []
    if name in ("sgtin", "upui", "lgtin", "itip"):
        ref = draw(_digits(13 - n))
        gtin = ref[0] + cp + ref[1:]
        gtin += check(gtin)
        fields = [cp, ref]
        ai, value = "01", gtin
        if name == "itip":
            piece, total = draw(_digits(2)), draw(_digits(2))
            fields += [piece, total]
            ai, value = "8006", gtin + piece + total
        if not pattern:
            q = {"sgtin": "21", "itip": "21", "upui": "235", "lgtin": "10"}[name]
            text = serial(28 if name == "upui" else 20)
            fields.append(urn_text(text))
            qualifiers.append((q, text))
    elif name in ("sscc", "gsrn", "gsrnp", "gsin", "pgln"):
        width = {"sscc": 17, "gsrn": 17, "gsrnp": 17, "gsin": 16, "pgln": 12}[name]
        ref = draw(_digits(width - n))
        raw = ref[0] + cp + ref[1:] if name == "sscc" else cp + ref
        fields = [cp, ref]
        ai = {"sscc": "00", "gsrn": "8018", "gsrnp": "8017", "gsin": "402", "pgln": "417"}[name]
        value = raw + check(raw)
    elif name == "sgln":
        ref = draw(_digits(12 - n))
        ext = serial(20)
        fields = [cp, ref, urn_text(ext)]
        ai, value = "414", cp + ref + check(cp + ref)
        if ext != "0":
            qualifiers.append(("254", ext))
    elif name in ("grai", "gdti", "sgcn"):
        ref = draw(_digits(12 - n))
        raw = ("0" if name == "grai" else "") + cp + ref
        fields = [cp, ref]
        ai = {"grai": "8003", "gdti": "253", "sgcn": "255"}[name]
        value = raw + check(raw)
        if not pattern:
            if name == "sgcn":
                text = draw(st.text(alphabet="0123456789", min_size=1, max_size=12))
            else:
                text = serial(16 if name == "grai" else 17)
            fields.append(urn_text(text))
            value += text
    elif name in ("giai", "ginc"):
        ref = serial(30 - n)
        fields = [cp, urn_text(ref)]
        ai, value = ("8004" if name == "giai" else "401"), cp + ref
    else:  # cpi
        part = serial(30 - n, CPID)
        fields = [cp, "".join(f"%{ord(c):02X}" if c in "#/" else c for c in part)]
        ai, value = "8010", cp + part
        if not pattern:
            number = draw(st.text(alphabet="0123456789", min_size=1, max_size=12))
            fields.append(number)
            qualifiers.append(("8011", number))
    if pattern:
        fields.append("*")
    urn = f"urn:epc:{kind}:{name}:" + ".".join(fields)

    canonical = f"{CANONICAL}/{ai}/{enc(value)}" + "".join(f"/{q}/{enc(v)}" for q, v in qualifiers)
    domain = draw(
        st.sampled_from(
            [CANONICAL, "https://example.com", "https://brand.example.org/dl", "http://x.test"]
        )
    )
    shown = value
    if ai == "01" and value.startswith("0") and draw(st.booleans()):
        shown = value[1:]  # a GTIN-13 written as 13 digits
    link = f"{domain}/{ai}/{dl_text(shown)}" + "".join(f"/{q}/{dl_text(v)}" for q, v in qualifiers)
    return Epc(scheme, urn, link, canonical, n, kind != "id")
