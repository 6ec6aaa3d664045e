"""``make lowest``: prove the virtualenv holds the floors of the provider's direct dependencies.

For every ``Requires-Dist`` of the installed ``airflow-provider-signal`` (runtime and the
``test`` extra) with a ``>=`` floor, the installed version must satisfy the requirement and
belong to the floor's own release series: ``apache-airflow>=2.11`` must find 2.11.x,
``urllib3>=2`` 2.0.x. (Exact equality is too strict: a resolver skips yanked releases, so
``urllib3>=2`` resolves to 2.0.2.) Exits 1, naming each dependency above its floor.
"""

from __future__ import annotations

import sys
from importlib import metadata

from packaging.requirements import Requirement
from packaging.version import Version

DISTRIBUTION = "airflow-provider-signal"


def _floor(requirement: Requirement) -> Version | None:
    floors = [Version(spec.version) for spec in requirement.specifier if spec.operator == ">="]
    return max(floors) if floors else None


def _series(version: Version, floor: Version) -> tuple[int, ...]:
    """The release numbers of ``version`` that the padded floor fixes (major.minor of 2.11, 2.0 of 2)."""
    width = max(len(floor.release), 2)
    return (version.release + (0,) * width)[:width]


def main() -> int:
    problems: list[str] = []
    rows: list[str] = []
    for line in metadata.requires(DISTRIBUTION) or []:
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": "test"}):
            continue
        floor = _floor(requirement)
        if floor is None:
            continue
        try:
            installed = Version(metadata.version(requirement.name))
        except metadata.PackageNotFoundError:
            problems.append(f"{requirement.name} is not installed")
            continue
        at_floor = installed in requirement.specifier and _series(installed, floor) == _series(floor, floor)
        rows.append(
            f"  {requirement.name:<16} floor {floor!s:<10} installed {installed!s:<10} "
            f"{'ok' if at_floor else 'ABOVE THE FLOOR'}"
        )
        if not at_floor:
            problems.append(f"{requirement.name} {installed} is not at its floor {floor}")
    print(f"Python {sys.version.split()[0]}; direct dependencies of {DISTRIBUTION} at their floors:")
    print("\n".join(rows))
    for problem in problems:
        print(f"FAILED: {problem} (make constraints-lowest re-resolves constraints/lowest-direct.txt)")
    return 1 if problems or not rows else 0


if __name__ == "__main__":
    sys.exit(main())
