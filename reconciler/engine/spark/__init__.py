"""Spark's answers for SPARK collaborations: on DuckDB by default, or on Spark itself.

- ``semantics``: the Spark-semantics layer between the checked tree and DuckDB: one table of
  per-node translations (Spark's casts, rounding, case mapping, NULL rules ...) and the Spark
  type rules the local engine enforces instead of guessing (``check``);
- ``target``: the checked tree as Spark SQL that never fails on a value (``--engine spark``);
- ``properties``: ``computeConfiguration.worker.properties.spark`` validation;
- ``session``: the sealed Spark session that runs it (pyspark is an optional extra, imported
  only there, when a query runs).

Nothing here changes what the checks allow: suppression and ``safe`` have already rewritten the
tree, and every translation keeps failure impossible on a value.
"""
