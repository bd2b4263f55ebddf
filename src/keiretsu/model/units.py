"""Units of measure by their UN/CEFACT Recommendation 20 codes, and conversion between them.

EPCIS 2.0 writes every amount with a Rec 20 code (``uom``): a quantity of ``KGM``, a
temperature of ``CEL``, a pressure of ``BAR``. A query may give its bound in another unit of
the same dimension (``GE_value_KEL=290`` for a reading captured as ``20`` ``CEL``); the
standard compares the two as the same physical quantity. This module is the one table that
says which Rec 20 code is which unit (:data:`REC20`), and converts through ``pint`` (a
well-kept units library, BSD licence), loaded the first time a conversion is asked for.

* :func:`dimension` — the physical dimension of a code (``"[temperature]"``), or ``None`` for
  a code not in the table;
* :func:`convert` — a value from one code into another of the same dimension (temperatures
  with their offsets: 20 ``CEL`` is 293.15 ``KEL`` and 68 ``FAH``);
* :func:`same_dimension` — every code of the table of one dimension;
* :data:`MEASUREMENT_DIMENSIONS` — the dimension of the GS1 sensor measurement types that
  have one (``Temperature`` → ``[temperature]``), so a bound in a unit no such reading can
  carry is refused.

A code not in the table is still an exact name: a value in ``XYZ`` compares with a bound in
``XYZ``, never with another unit.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

__all__ = [
    "MEASUREMENT_DIMENSIONS",
    "REC20",
    "UnitError",
    "convert",
    "dimension",
    "same_dimension",
]


class UnitError(ValueError):
    """A conversion between codes that are not of one dimension, or of a code not known."""


REC20: dict[str, str] = {
    # temperature (with offsets)
    "CEL": "degC",
    "KEL": "kelvin",
    "FAH": "degF",
    "A48": "degR",
    # mass
    "KGM": "kilogram",
    "GRM": "gram",
    "MGM": "milligram",
    "MC": "microgram",
    "TNE": "tonne",
    "LBR": "pound",
    "ONZ": "ounce",
    "STN": "short_ton",
    "LTN": "long_ton",
    # length
    "MTR": "meter",
    "KMT": "kilometer",
    "CMT": "centimeter",
    "MMT": "millimeter",
    "4H": "micrometer",
    "INH": "inch",
    "FOT": "foot",
    "YRD": "yard",
    "SMI": "mile",
    "NMI": "nautical_mile",
    # area
    "MTK": "meter ** 2",
    "CMK": "centimeter ** 2",
    "MMK": "millimeter ** 2",
    "KMK": "kilometer ** 2",
    "HAR": "hectare",
    "FTK": "foot ** 2",
    "INK": "inch ** 2",
    # volume
    "MTQ": "meter ** 3",
    "LTR": "liter",
    "MLT": "milliliter",
    "CLT": "centiliter",
    "DLT": "deciliter",
    "HLT": "hectoliter",
    "CMQ": "centimeter ** 3",
    "MMQ": "millimeter ** 3",
    "DMQ": "decimeter ** 3",
    "GLL": "gallon",
    "GLI": "imperial_gallon",
    "QT": "quart",
    "PT": "pint",
    "OZA": "fluid_ounce",
    "FTQ": "foot ** 3",
    "INQ": "inch ** 3",
    # pressure
    "PAL": "pascal",
    "KPA": "kilopascal",
    "MPA": "megapascal",
    "HPA": "hectopascal",
    "BAR": "bar",
    "MBR": "millibar",
    "ATM": "atmosphere",
    "PS": "psi",
    "80": "psi",
    "HP": "millimeter_Hg",
    # time
    "SEC": "second",
    "MIN": "minute",
    "HUR": "hour",
    "DAY": "day",
    "WEE": "week",
    "C26": "millisecond",
    "B98": "microsecond",
    # speed
    "MTS": "meter / second",
    "KMH": "kilometer / hour",
    "HM": "mile / hour",
    "KNT": "knot",
    # acceleration
    "MSK": "meter / second ** 2",
    # energy, power
    "JOU": "joule",
    "KJO": "kilojoule",
    "KWH": "kilowatt_hour",
    "WHR": "watt_hour",
    "WTT": "watt",
    "KWT": "kilowatt",
    # electricity
    "VLT": "volt",
    "2Z": "millivolt",
    "AMP": "ampere",
    "4K": "milliampere",
    "OHM": "ohm",
    # frequency
    "HTZ": "hertz",
    "KHZ": "kilohertz",
    "MHZ": "megahertz",
    # force
    "NEW": "newton",
    "B47": "kilonewton",
    # illuminance
    "LUX": "lux",
    # concentration, density
    "KMQ": "kilogram / meter ** 3",
    "GL": "gram / liter",
    "23": "gram / centimeter ** 3",
    "M1": "milligram / liter",
    # dimensionless ratios
    "P1": "percent",
    "59": "ppm",
}
"""Rec 20 code → the unit in ``pint``'s words. Codes of one dimension convert into each
other; the dimensionless ratios (``P1`` percent, ``59`` ppm) likewise."""

MEASUREMENT_DIMENSIONS: dict[str, str] = {
    "Temperature": "[temperature]",
    "Mass": "[mass]",
    "Length": "[length]",
    "Altitude": "[length]",
    "Area": "[length] ** 2",
    "Volume": "[length] ** 3",
    "Pressure": "[mass] / [length] / [time] ** 2",
    "Time": "[time]",
    "Speed": "[length] / [time]",
    "Acceleration": "[length] / [time] ** 2",
    "Energy": "[length] ** 2 * [mass] / [time] ** 2",
    "Power": "[length] ** 2 * [mass] / [time] ** 3",
    "Force": "[length] * [mass] / [time] ** 2",
    "Frequency": "1 / [time]",
    "Voltage": "[length] ** 2 * [mass] / [current] / [time] ** 3",
    "ElectricCurrent": "[current]",
    "Density": "[mass] / [length] ** 3",
    "MassConcentration": "[mass] / [length] ** 3",
}
"""GS1 sensor measurement type → the dimension of every unit a reading of it may carry
(as :func:`dimension` writes it); types not listed accept any unit."""

_lock = threading.Lock()


@cache
def _registry() -> Any:
    import pint  # loaded on first use: it takes a second or two to build its registry

    with _lock:
        return pint.UnitRegistry()


@cache
def _unit(code: str) -> Any:
    return _registry().Unit(REC20[code]) if code in REC20 else None


def dimension(code: str) -> str | None:
    """The physical dimension of the Rec 20 ``code`` (``"[temperature]"`` for ``CEL``), in
    ``pint``'s notation; ``None`` for a code this table does not know."""
    unit = _unit(code)
    if unit is None:
        return None
    return _normal(str(unit.dimensionality))


@cache
def _normal(text: str) -> str:
    # pint writes "dimensionless" for ratios and sorts factors its own way: compare through
    # the registry's own parse of the written form
    if text == "dimensionless":
        return text
    return str(_registry().get_dimensionality(text))


def dimension_of_type(measurement_type: str) -> str | None:
    """The dimension a reading of this GS1 measurement type carries, if it has one."""
    text = MEASUREMENT_DIMENSIONS.get(measurement_type)
    return None if text is None else _normal(text)


def convert(value: float, from_code: str, to_code: str) -> float:
    """``value`` in the Rec 20 unit ``from_code`` expressed in ``to_code`` (20 ``CEL`` →
    293.15 ``KEL``). Raises :class:`UnitError` if either code is not in :data:`REC20` (and
    the two differ) or the two are not of one dimension."""
    if from_code == to_code:
        return float(value)
    source, target = _unit(from_code), _unit(to_code)
    if source is None or target is None:
        unknown = from_code if source is None else to_code
        raise UnitError(f"{unknown!r} is not a UN/CEFACT Rec 20 unit code this node knows")
    if source.dimensionality != target.dimensionality:
        raise UnitError(
            f"{from_code} ({source.dimensionality}) and {to_code} ({target.dimensionality})"
            " are not of one dimension"
        )
    quantity = _registry().Quantity(float(value), source)
    return float(quantity.to(target).magnitude)


@cache
def same_dimension(code: str) -> tuple[str, ...]:
    """Every Rec 20 code of the table of the same dimension as ``code`` (``code`` itself
    first); just ``(code,)`` for a code the table does not know."""
    dim = dimension(code)
    if dim is None:
        return (code,)
    return (code, *sorted(c for c in REC20 if c != code and dimension(c) == dim))
