"""Print how the running environment's packages differ from a pip-compile lock file.

Usage: python scripts/lock_diff.py requirements/test.txt. One line per package that moved, is
new, or is missing; "none" when the environment is exactly the lock. Used by scripts/fresh-suite
to say which package moved when the newest versions break the suite.
"""

import json
import re
import subprocess
import sys

# The installer's own tools and the project itself are not part of what the lock pins.
SKIP = {"pip", "setuptools", "wheel", "glassnet"}


def canonical(name: str) -> str:
    """PEP 503's normal form, so that `Typing_Extensions` and `typing-extensions` are one name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def main(lock_path: str) -> None:
    with open(lock_path) as lock:
        pins = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", lock.read(), re.MULTILINE)
    locked = {canonical(name): version for name, version in pins}
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "list", "--format=json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    installed = {canonical(p["name"]): p["version"] for p in json.loads(listed)}
    lines = []
    for name in sorted((locked.keys() | installed.keys()) - SKIP):
        old, new = locked.get(name), installed.get(name)
        if old is None:
            lines.append(f"  new      {name} {new}")
        elif new is None:
            lines.append(f"  missing  {name} (locked {old})")
        elif old != new:
            lines.append(f"  moved    {name} {old} -> {new}")
    print("\n".join(lines) if lines else "  none")


if __name__ == "__main__":
    main(sys.argv[1])
