"""Reusing a detector's flags from the previous scan when nothing it depends on has changed.

A rescan of a loaded workspace usually changes little: one detector's threshold, or a month of
payments that most detectors never read. A detector's flags are a function of

- the tables it declares in ``reads`` (each stored table's content, as the store vouches for
  it: :meth:`graph_models.store.GraphStore.table_token`; the embedded store gives the digest of
  the table's Parquet file, which is the same bytes when a load writes the same rows again),
- its settings (their digest), the reference date (``as_of``) and the engine it runs on,
- the flags or results of the detectors it ``uses`` (their keys, recursively),
- the code: every module of ``engine``, ``graph_models`` and ``loaders``, and the versions of
  the libraries the detectors compute with.

:func:`detector_key` hashes all of that into one key. The scan records each detector's key in
its ``summary.json`` (``detector_keys``); the next scan computes the keys again and takes the
flags of a detector whose key is unchanged from the previous ``flags.jsonl`` instead of running
it (:class:`PreviousFlags`). A table the store cannot vouch for (changed in memory and not yet
written, a database server) gives no key, so the detectors reading it always run. The runner
never reuses a detector whose used detectors run again, so a rescan writes exactly what a full
run would (``tests/engine/test_reuse.py`` compares the two).

Examples
--------
>>> key = detector_key("aid.paid_in_prison", "0123abcd", "2024-06-30", "embedded",
...                    {"Payment": "t1", "PrisonTerm": "t2"}, {})
>>> len(key), key == detector_key("aid.paid_in_prison", "0123abcd", "2024-06-30", "embedded",
...                               {"Payment": "t1", "PrisonTerm": "t3"}, {})
(24, False)
>>> detector_key("aid.paid_in_prison", "0123abcd", "2024-06-30", "embedded",
...              {"Payment": None}, {}) is None
True
"""

from __future__ import annotations

import functools
import gc
import hashlib
import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from engine.flags import Flag
from engine.outputs import read_flag_line

__all__ = ["PreviousFlags", "code_digest", "detector_key"]

log = logging.getLogger(__name__)

#: a flags.jsonl line names its detector right after the flag id (Flag.to_dict)
_DETECTOR = re.compile(rb'"detector": ?"([^"]+)"')

#: the packages whose source decides what a detector computes
_PACKAGES = ("engine", "graph_models", "loaders")
#: libraries whose version may change a detector's numbers (scores, communities, medians)
_LIBRARIES = ("duckdb", "numpy", "pandas", "pyarrow", "scikit-learn", "igraph", "leidenalg",
              "networkx", "scipy")  # fmt: skip


@functools.cache
def code_digest() -> str:
    """Digest of the source of ``engine``, ``graph_models`` and ``loaders`` (every ``.py`` and
    ``.yaml`` file) and of the versions of the libraries detectors compute with.

    Examples
    --------
    >>> len(code_digest())
    16
    """
    import importlib

    h = hashlib.sha256()
    for package in _PACKAGES:
        root = Path(importlib.import_module(package).__file__ or "").parent
        for path in sorted(p for p in root.rglob("*") if p.suffix in (".py", ".yaml")):
            h.update(str(path.relative_to(root.parent)).encode())
            h.update(path.read_bytes())
    for lib in _LIBRARIES:
        try:
            version = metadata.version(lib)
        except metadata.PackageNotFoundError:
            version = "-"
        h.update(f"{lib}={version}".encode())
    return h.hexdigest()[:16]


def detector_key(
    detector: str,
    settings_digest: str,
    as_of: str,
    engine: str,
    tokens: Mapping[str, str | None],
    used: Mapping[str, str | None],
) -> str | None:
    """The key of one detector's flags in one scan; None when an input cannot be vouched for.

    ``tokens`` maps each table the detector reads to the store's token for it, ``used`` each
    detector it uses to that detector's key.
    """
    if any(v is None for v in tokens.values()) or any(v is None for v in used.values()):
        return None
    doc = {
        "detector": detector, "settings": settings_digest, "as_of": as_of, "engine": engine,
        "tables": dict(sorted(tokens.items())), "uses": dict(sorted(used.items())),
        "code": code_digest(),
    }  # fmt: skip
    blob = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


@dataclass
class PreviousFlags:
    """The flags a previous scan wrote (``flags.jsonl``) and the keys it computed them under.

    ``counts`` is what that scan's summary says each detector flagged: flags are reused only
    when the file still holds exactly that many for the detector. ``seconds`` is what each
    detector took when it was last computed (shown as the time a reuse saved).
    """

    path: Path
    keys: dict[str, str]
    counts: dict[str, int]
    seconds: dict[str, float]
    generation: int | None = None

    @classmethod
    def from_scan_dir(cls, scan_dir: Path, generation: int | None = None) -> PreviousFlags | None:
        """Read a scan directory's ``summary.json``; None when it records no keys.
        ``generation``: the scan's, when its summary does not say (``workspace.generation``)."""
        try:
            doc = json.loads((scan_dir / "summary.json").read_text("utf-8"))
        except (OSError, ValueError):
            return None
        keys = doc.get("detector_keys") or {}
        if not keys or not (scan_dir / "flags.jsonl").is_file():
            return None
        counts = {d: int(c.get("total", 0)) for d, c in (doc.get("flags") or {}).items()}
        timings = dict((doc.get("timings") or {}).get("detectors") or {})
        for det, info in (doc.get("reused") or {}).items():
            timings.setdefault(det, info.get("seconds", 0.0))
        generation = (doc.get("workspace") or {}).get("generation", generation)
        return cls(scan_dir / "flags.jsonl", dict(keys), counts, timings, generation)

    def flags_of(self, detectors: Iterable[str]) -> dict[str, list[Flag]]:
        """The previous flags of ``detectors``, by detector; a detector whose flags in the file
        do not match the count its summary gave is left out (its flags are computed again)."""
        wanted = set(detectors)
        found: dict[str, list[Flag]] = {d: [] for d in wanted}
        # tens of thousands of flags of many small objects each: the cyclic garbage collector,
        # left on, walks them again and again while they are built (31 s instead of 4 s for
        # 80,000 flags); they hold no cycles
        gc.disable()
        try:
            with open(self.path, "rb") as f:
                for line in f:
                    if not line.strip():
                        continue
                    # the detector is named near the start: only the wanted lines are parsed
                    m = _DETECTOR.search(line, 0, 200)
                    if m is not None and m.group(1).decode() not in wanted:
                        continue
                    flag = read_flag_line(line)
                    if flag.detector in wanted:
                        found[flag.detector].append(flag)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning(
                "previous flags in %s unreadable (%s): computing every detector", self.path, exc
            )
            return {}
        finally:
            gc.enable()
        ok = {}
        for det, flags in found.items():
            if len(flags) == self.counts.get(det, 0):
                ok[det] = flags
            else:
                log.warning("%s: %d flags in %s, its summary says %d: computing it again",
                            det, len(flags), self.path, self.counts.get(det, 0))  # fmt: skip
        return ok
