"""The example stacks, shipped inside the package so ``reconciler demo`` works from any install.

Each directory here is one stack (its YAML documents, sample data under ``data/`` and queries or
template SQL), installed with the package as package data. ``workflow.find_stack`` looks here
after the user's own ``./specs``, so ``reconciler plan retail-adtech`` works from any directory.

>>> "retail-adtech" in names()
True
>>> (ROOT / "retail-adtech" / "collaboration.yaml").is_file()
True
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["ROOT", "names"]

#: The directory holding the example stacks (inside the installed package).
ROOT = Path(__file__).resolve().parent


def names() -> list[str]:
    """The example stacks' names, sorted.

    Returns:
        One name per stack directory (``retail-adtech``, ...).
    """
    return sorted(p.name for p in ROOT.iterdir() if p.is_dir() and any(p.glob("*.yaml")))
