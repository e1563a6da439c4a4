"""Process limits and CPU placement."""

from __future__ import annotations

import os
import resource
import sys

FD_MARGIN = 64  # files the process needs besides its connections


def ensure_open_files(connections: int) -> int:
    """Raise the open-files limit to fit `connections`; the number of connections that fit.

    The soft limit goes up to the hard limit; root may also raise the hard limit. When the
    limit still falls short, the caller is told how many connections it can hold.
    """
    needed = connections + FD_MARGIN
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return connections
    unlimited = hard == resource.RLIM_INFINITY
    try:
        if unlimited or hard >= needed:
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
        else:
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed, needed))
    except (ValueError, OSError):
        if not unlimited and hard > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(0, min(connections, soft - FD_MARGIN))


def open_files_warning(asked: int, can_hold: int) -> str:
    return (
        f"the open-files limit allows only {can_hold} of the {asked} connections asked for; "
        f"raise it (ulimit -n {asked + FD_MARGIN}, or LimitNOFILE / limits.conf) "
        "and run again"
    )


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def pin_to_cpus(cpus: set[int]) -> bool:
    """Pin this process (and the children it starts later) to `cpus`."""
    if not hasattr(os, "sched_setaffinity"):
        return False
    try:
        os.sched_setaffinity(0, cpus)
    except OSError as exc:
        print(f"could not pin to CPUs {sorted(cpus)}: {exc}", file=sys.stderr)
        return False
    return True


def parse_cpus(text: str) -> set[int]:
    """'1', '0,2' or '2-3' into a set of CPU numbers."""
    cpus: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if "-" in part:
            low, high = part.split("-", 1)
            cpus.update(range(int(low), int(high) + 1))
        elif part:
            cpus.add(int(part))
    return cpus
