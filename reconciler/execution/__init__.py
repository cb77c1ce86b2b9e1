"""Execution: reading and changing what exists, through boto3 clients, safely.

- ``clients``: who answers the clients (``LocalClients``: the emulator; ``AwsClients``: AWS),
  one per (account, region, service), and the accounts acted as;
- ``translate``: botocore's errors at the boundary -> Retryable/TerminalBackendError;
- ``backend``: ``Boto3Backend``, the one backend: ``read`` (a ``crawl``) and ``run_step``
  (``steps``);
- ``state``: State, the observed snapshot; the state cache and its journal; identity tags;
- ``rates``: a token bucket per API operation (opt-in request-rate limits);
- ``retry``: which failures are transient, capped backoff with jitter, bounded waits;
- ``lock``: one writer per stack and backend; interrupted holders reported;
- ``remote``: the state cache and the lock in S3 or DynamoDB, for CI runners (conditional writes);
- ``executor``: runs a Plan's Steps in dependency order, recording each result;
- ``staleness``: is a saved plan still what the spec and live state call for, and if not, why.

It knows Plans and Steps but not how they were computed; nothing above it imports botocore.
"""
