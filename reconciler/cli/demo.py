"""``reconciler demo``: the whole loop on the local backend, in a fresh temporary directory.

Plans ``retail-adtech`` (shipped with the package), applies it, plans again to show that nothing
is left to do, then uses the collaboration as AWS would be used: the retailer runs a protected
query through boto3 (``reconciler.workflow.demo``) and gets rows back, and a query the analysis rules
forbid is refused with the reason. Needs no AWS account and leaves nothing behind (``--keep``
keeps the directory, result files included).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import click

from reconciler import workflow
from reconciler.cli.apply import confirm_and_apply
from reconciler.cli.plan import show
from reconciler.cli.query import render
from reconciler.workflow import demo

DEMO_STACK = "retail-adtech"
QUERIER = "retailer"
QUERY_FILE = Path("queries") / "campaign_reach.sql"
REFUSED_SQL = "SELECT hashed_email FROM purchases"


def _queries(ws: workflow.Workspace) -> bool:
    """Run the sample query and the refused one as the querier; True when both end as they should.

    The result file lives in the demo directory (removed at the end unless ``--keep``).
    """
    results = ws.local.results_root
    account = next(a for a in ws.backend.accounts if a.member == QUERIER)
    client = ws.local.client(account)
    collaboration = ws.stack.collaborations[0].name
    sql = (ws.stack.root / QUERY_FILE).read_text(encoding="utf-8")
    click.echo(f"== protected query as {QUERIER} through boto3 (StartProtectedQuery): {QUERY_FILE}")
    ran = demo.run_protected_query(client, results, collaboration=collaboration, sql=sql)
    if ran.result is None:
        click.echo(f"error: the sample query ended {ran.status}: {ran.error}", err=True)
        return False
    click.echo(render(ran.result, "table"), nl=False)
    limits = ", ".join(f"{t}: {n}" for t, n in demo.thresholds(ws.stack).items())
    click.echo(
        f"Groups with fewer distinct identities than the aggregation thresholds ({limits}) are"
        " suppressed; the result never says which."
    )
    click.echo(f"Result file: {ran.location}\n  stored locally at {ran.path}")
    click.echo(f"\n== a query the rules forbid, as {QUERIER}: {REFUSED_SQL}")
    refused = demo.run_protected_query(client, results, collaboration=collaboration, sql=REFUSED_SQL)
    if refused.status == "SUCCESS":
        click.echo("error: the forbidden query ran; the analysis rules were not enforced", err=True)
        return False
    click.echo(f"Refused ({refused.status}): {refused.error}")
    return True


@click.command("demo")
@click.option("--keep", is_flag=True, help="Keep the temporary directory (and print where it is).")
def command(keep: bool) -> int:
    """Plan and apply retail-adtech locally, re-plan (no changes), then run a protected query."""
    root = Path(tempfile.mkdtemp(prefix="reconciler-demo-"))
    try:
        with workflow.open_workspace(workflow.EXAMPLES / DEMO_STACK, backend="local", root=root) as ws:
            click.echo(f"== reconciler plan {DEMO_STACK} (local backend in {root})")
            first = workflow.make_plan(ws).plan
            code = confirm_and_apply(ws, first, auto_approve=True, allow_destroy=False, parallelism=4)
            if code:
                return code
            click.echo(f"\n== reconciler plan {DEMO_STACK} (again)")
            again = workflow.make_plan(ws).plan
            click.echo(show(again))
            if not again.is_empty:
                return 1
            return 0 if _queries(ws) else 1
    finally:
        if keep:
            click.echo(f"Kept {root}", err=True)
        else:
            shutil.rmtree(root, ignore_errors=True)
