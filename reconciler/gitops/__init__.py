"""GitOps: what a spec change does, before and after it is merged, without touching a cloud.

- ``review``: a spec diff between two Git revisions (or directories) for a pull request:
  privacy findings, irreversible and blocked changes, validation and policy problems;
- ``picture``: a stack drawn as boxes and arrows (``render.mermaid`` / ``render.dot`` draw it);
- ``drift``: a drift check's Plan as a DriftReport, with accepted drift left out.
"""
