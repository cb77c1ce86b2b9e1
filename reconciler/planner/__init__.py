"""The planner: what the spec asks for, what exists, and the ordered Plan between them.

Following the data:

- ``addresses``: Kind and Address (``membership.retail.adtech``): stable, sortable, never an
  AWS id;
- ``registry``: one ``ResourceType`` per Kind, as data: its AWS service, operations, ids,
  references; create-only and updatable fields come from botocore's service model;
- ``resource``: ``DesiredResource``, ``ObservedResource`` and ``Ref``, their JSON form and their
  fingerprint; ``normal_form``: both sides put into one comparable shape;
- ``desired``: a loaded Stack -> DesiredResources;
- ``graph``: DependencyGraph (edge direction named once); the planner's networkx user;
- ``diff``: desired vs observed -> one Change per Address; the only deepdiff user;
- ``privacy``: each Change's privacy impact (weakens / strengthens / neutral), with reasons;
- ``model``: Action, Change, Step, Plan; ``build``: Changes -> a Plan of ordered Steps;
- ``planfile``: plan files (a Plan as a JSON document), read and written.

Nothing here calls AWS or reads state: ``reconciler.execution`` does that.
"""
