"""Benchmark: emulator Get calls per second through boto3, against a canned-response floor.

The floor is the same kind of boto3 client whose ``before-send`` handler returns a prepared
response without doing anything: it measures boto3's own cost (serialization, signing,
parsing). The emulator adds routing, validation, the lookup and serialization. Both run in the
same process, interleaved in rounds, so machine noise hits both alike.

Run: ``python3 bench/bench_emulator.py [--calls 2000] [--rounds 5] [--file]``.
Target (issue 3): emulator >= 40% of the floor.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from botocore.awsrequest import AWSResponse  # noqa: E402

from reconciler import emulator  # noqa: E402

ACCOUNT = "111111111111"


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Any:
        yield self._data


def _calls_per_second(call: Callable[[], Any], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        call()
    return calls / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--file", action="store_true", help="use a DuckDB file instead of memory")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "local.duckdb" if args.file else None
        with emulator.connect(path) as emu:
            client = emu.client("cleanrooms", account_id=ACCOUNT)
            table = client.create_configured_table(
                name="orders",
                tableReference={"glue": {"databaseName": "sales", "tableName": "orders"}},
                allowedColumns=[f"c{i}" for i in range(20)],
                analysisMethod="DIRECT_QUERY",
            )["configuredTable"]
            table_id = table["id"]
            body_holder: dict[str, bytes] = {}

            def capture(http_response: Any, **_: Any) -> None:
                body_holder["body"] = http_response.content

            client.meta.events.register("after-call.cleanrooms.GetConfiguredTable", capture)
            client.get_configured_table(configuredTableIdentifier=table_id)
            client.meta.events.unregister("after-call.cleanrooms.GetConfiguredTable", capture)

            floor_client = emu.client("cleanrooms", account_id=ACCOUNT)
            floor_client.meta.events.unregister("before-send.cleanrooms", emu.answer)
            canned = body_holder.get("body") or b"{}"

            def canned_answer(request: Any, **_: Any) -> AWSResponse:
                return AWSResponse(request.url, 200, {"content-type": "application/json"}, _Body(canned))

            floor_client.meta.events.register("before-send.cleanrooms", canned_answer)

            def emulated() -> Any:
                return client.get_configured_table(configuredTableIdentifier=table_id)

            def floor() -> Any:
                return floor_client.get_configured_table(configuredTableIdentifier=table_id)

            assert floor()["configuredTable"] == emulated()["configuredTable"]
            for fn in (emulated, floor):
                _calls_per_second(fn, 200)
            emu_rates, floor_rates = [], []
            for _ in range(args.rounds):
                floor_rates.append(_calls_per_second(floor, args.calls))
                emu_rates.append(_calls_per_second(emulated, args.calls))

    emu_rate = statistics.median(emu_rates)
    floor_rate = statistics.median(floor_rates)
    ratio = emu_rate / floor_rate
    store = "file" if args.file else "memory"
    print(f"floor (canned response):   {floor_rate:8.0f} GetConfiguredTable calls/s")
    print(f"emulator ({store}):{' ' * (9 - len(store))}{emu_rate:8.0f} GetConfiguredTable calls/s")
    print(f"ratio:                     {ratio:8.1%} (target >= 40%)")
    return 0 if ratio >= 0.40 else 1


if __name__ == "__main__":
    sys.exit(main())
