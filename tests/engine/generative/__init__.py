"""Generative attack harness for the local protected-query engine (issue 11, ANALYSIS_RULES.md 4.1).

``data`` builds the planted fixture (canaries, small groups) and the policy variants, ``canary``
finds planted values (and cheap transforms of them) in results, ``plans`` is the structured
query family with an independent threshold oracle (P2), ``queries`` the broad SQL grammar of
normal and hostile queries (P1, P3, P4), and ``props`` the properties themselves, shared by
``test_generative.py`` and ``test_generative_repros.py``. Only the engine's public API is used.
"""
