"""Who is who in the simulated world: GS1 keys for its companies, sites, goods and papers.

Every company of the model is one EPCIS party with its own GS1 Company Prefix, taken from
the ``952`` range GS1 keeps for demonstrations (``9520001``, ``9520002``…, in the model's
order), so simulated keys never collide with a real company's:

- the company: a party GLN (``urn:epc:id:pgln:9520001.00000``);
- each of its buffers: a site (``urn:epc:id:sgln:9520001.00001.0``), with sub-locations as
  read points — ``.1`` the dock, ``.2`` the store, ``.3`` the point of sale, ``.4`` quality
  control, ``.10``, ``.11``… its steps in order;
- a buffer that makes something (it is supplied from outside, assembles several inputs, or
  turns ``units`` of its supplier's item into one of its own) has its own product, a GTIN of
  its company; its goods are serialised trade items (SGTIN) commissioned by its first step;
  a buffer that only passes goods on stocks its supplier's product;
- pallets are SSCCs of the shipping company; purchase orders, despatch advices and
  production orders are ``urn:epcglobal:cbv:bt:<GLN>:<id>`` of the company that issues them;
- outside suppliers deliver lots of raw material (class-level, ``urn:epc:class:lgtin:…``)
  under the prefix ``9529999``; end customers who receive shipments have the prefix
  ``9529998`` and record nothing.
"""

from __future__ import annotations

from keiretsu.model.gs1 import check_digit

__all__ = [
    "END_CUSTOMER_PARTY",
    "END_CUSTOMER_SITE",
    "OUTSIDE_PARTY",
    "OUTSIDE_PREFIX",
    "company_prefix",
    "gln",
    "party",
    "product_gtin",
    "sgln",
]

OUTSIDE_PREFIX = "9529999"
"""GS1 Company Prefix of the outside suppliers (raw material lots)."""
_END_PREFIX = "9529998"

OUTSIDE_PARTY = f"urn:epc:id:pgln:{OUTSIDE_PREFIX}.00000"
END_CUSTOMER_PARTY = f"urn:epc:id:pgln:{_END_PREFIX}.00000"
END_CUSTOMER_SITE = f"urn:epc:id:sgln:{_END_PREFIX}.00001.0"


def company_prefix(index: int) -> str:
    """The GS1 Company Prefix of the model's ``index``-th company (0-based): ``95200xx``."""
    if not 0 <= index < 9997:
        raise ValueError(f"at most 9,997 companies in a simulated world, not {index + 1}")
    return f"952{index + 1:04d}"


def party(prefix: str) -> str:
    """The company's party GLN as an EPC URI."""
    return f"urn:epc:id:pgln:{prefix}.00000"


def sgln(prefix: str, site: int, extension: str = "0") -> str:
    """A site (``extension`` 0) or one of its sub-locations, as an SGLN EPC URI."""
    return f"urn:epc:id:sgln:{prefix}.{site:05d}.{extension}"


def gln(prefix: str, site: int) -> str:
    """The 13-digit GLN of a site (for business transaction ids)."""
    digits = f"{prefix}{site:05d}"
    return digits + check_digit(digits)


def product_gtin(prefix: str, item: int) -> str:
    """The GTIN-14 of a company's ``item``-th product (indicator digit 0)."""
    digits = f"0{prefix}{item:05d}"
    return digits + check_digit(digits)
