"""Local Clean Rooms ML: the lookalike model the emulator trains and the audiences it generates.

``lookalike`` is the method (user-item co-occurrence, reduced by a truncated SVD, scored by cosine
similarity to the seed's centroid) and the metrics the API reports (relevance per audience size,
recall), written against numpy only. It knows nothing about the emulator or the API's records:
the emulator (``reconciler.emulator.ml_jobs``) reads the data and stores what this returns.
"""

from __future__ import annotations

from reconciler.ml.lookalike import Audience, LookalikeModel, generate, load, save, train

__all__ = ["Audience", "LookalikeModel", "generate", "load", "save", "train"]
