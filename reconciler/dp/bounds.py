"""Private choice of the user contribution limit (UCL) and of clamping bounds.

Reporting the data's exact extremes would leak the heaviest user or the largest value, so both
are picked from a power-of-two ladder with a noisy histogram: each user falls in exactly one rung
(the smallest rung that holds their row count, or their largest value), every rung's user count
gets discrete Laplace noise of scale 1/epsilon (one user changes one count by one, so this is
epsilon-DP), and the highest rung whose noisy count clears ``threshold`` wins (else the fullest
noisy rung). The threshold keeps the chance that noise alone lifts an empty rung under
``FALSE_RUNG`` for the whole ladder. This is the "approximate bounds" idea of Google's DP
libraries, reimplemented from its description. Inputs are histograms computed in SQL by the
caller; this module reads no data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from fractions import Fraction

__all__ = ["FALSE_RUNG", "UCL_LADDER", "VALUE_LADDER_EXPONENTS", "select_rung", "threshold"]

#: The chance that noise alone makes some empty rung win.
FALSE_RUNG = Fraction(1, 1000)
#: Candidate user contribution limits.
UCL_LADDER: tuple[int, ...] = tuple(2**k for k in range(11))
#: Candidate magnitudes of clamping bounds: 0, then 2**k for these k.
VALUE_LADDER_EXPONENTS: tuple[int, ...] = tuple(range(-10, 41))

#: draw(scale, label) -> one discrete Laplace draw for this selection.
Draw = Callable[[Fraction, str], int]


def threshold(rungs: int, epsilon: Fraction) -> Fraction:
    """The noisy count a rung needs: ``(1/epsilon) * ln(rungs / FALSE_RUNG)``, rounded up."""
    raw = math.log(rungs / float(FALSE_RUNG)) / float(epsilon)
    return Fraction(math.ceil(raw * 1024), 1024)


def select_rung(histogram: Mapping[int, int], rungs: int, epsilon: Fraction, draw: Draw) -> int:
    """Choose the highest well-populated rung of a per-user histogram, privately.

    Args:
        histogram: rung index -> how many users sit at that rung (each user in one rung).
        rungs: the number of rungs (indexes 0 .. rungs-1).
        epsilon: what this selection may spend (> 0).
        draw: the noise source.

    Returns:
        The chosen rung index.
    """
    scale = 1 / epsilon
    noisy = [histogram.get(i, 0) + draw(scale, f"rung{i}") for i in range(rungs)]
    bar = threshold(rungs, epsilon)
    for index in range(rungs - 1, -1, -1):
        if noisy[index] >= bar:
            return index
    return max(range(rungs), key=lambda i: (noisy[i], -i))
