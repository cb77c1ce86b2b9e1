"""Total spend per region, over purchases of at least min_amount."""

from pyspark.sql import functions as F


def entrypoint(context):
    purchases = context["referencedTables"]["purchases"]
    floor = float(context["analysisParameters"].get("min_amount", "0"))
    spend = (
        purchases.where(F.col("amount") >= floor)
        .groupBy("region")
        .agg(F.sum("amount").alias("total"))
        .orderBy("region")
    )
    return {"results": {"spend": spend}}
