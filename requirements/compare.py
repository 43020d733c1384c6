"""Print the packages whose installed version differs from the lock: `compare.py LOCK FREEZE`.

Used by `make test-latest` so that the drift a test run sees is named next to the result.
"""

from __future__ import annotations

import re
import sys

_PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)")


def pins(path: str) -> dict[str, str]:
    found = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            m = _PIN.match(line.strip())
            if m:
                found[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2)
    return found


def main(lock_path: str, freeze_path: str) -> int:
    lock, latest = pins(lock_path), pins(freeze_path)
    # Packages only in the lock are the Makefile's own tools (pip-tools, build), which test-latest skips.
    rows = [(name, lock.get(name, "(new)"), version) for name, version in sorted(latest.items())
            if lock.get(name) != version]
    if not rows:
        print("  none: the lock holds the newest releases")
        return 0
    width = max(len(r[0]) for r in rows)
    print(f"  {'package'.ljust(width)}  {'lock':>14}  {'newest':>14}")
    for name, old, new in rows:
        print(f"  {name.ljust(width)}  {old:>14}  {new:>14}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
