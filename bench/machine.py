"""Machine description recorded with every benchmark result (benchmarks quote medians and ratios:
this machine is small and noisy)."""

from __future__ import annotations

import os
import platform
import resource
import sys
from importlib import metadata
from typing import Any

__all__ = ["machine_info", "peak_rss_mb"]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_gib() -> float:
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal"):
                    return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return 0.0


def machine_info(
    packages: tuple[str, ...] = ("pandas", "pyarrow", "numpy", "igraph", "networkx"),
) -> dict[str, Any]:
    versions = {}
    for p in packages:
        try:
            versions[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            versions[p] = None
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "mem_gib": _mem_gib(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": versions,
    }


def peak_rss_mb(children: bool = False) -> float:
    """Peak resident set size of this process (or its waited-for children), in MiB."""
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)
