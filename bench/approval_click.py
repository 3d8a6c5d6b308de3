"""From the approver's click to the agent's result: an agent's UPDATE is held for review, the
approver approves it in Slack (Slack's Web API is a local server, every request to the
approval service signed as Slack signs it), and the agent's client gets `UPDATE 1`.

Two times per approval: from the Approve button's click (click, modal opened, modal submitted)
and from the modal's submission alone, each to the moment the agent's statement returns.
Everything runs as real processes: NATS, Postgres, classifier, masker, ingress-proxy, approval.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import nats as nats_client

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from proctor.decisions import load_or_create_signing_key
from proctor.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from proctor.events import codec
from proctor.settings import Settings
from proctor.testing import ServiceRunner, wait_for_port, write_gateway_config
from tests.fakeslack import FakeSlack

AGENT = "prx_bench_agent_token_not_a_secret"
APPROVER = "prx_bench_approver_token_not_a_secret"
UPDATE = "UPDATE accounts SET balance = balance + 1 WHERE id = 1"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(rounds: int, work: Path) -> tuple[list[float], list[float]]:
    nats = EmbeddedNats(work / "nats").start()
    pg = EmbeddedPostgres(work / "pg").start()
    services: list[ServiceRunner] = []
    try:
        pg.create_database("target")
        conn = await asyncpg.connect(pg.url("target"))
        await conn.execute("CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL);"
                           "INSERT INTO accounts VALUES (1, 0);")  # fmt: skip
        await conn.close()
        config = write_gateway_config(
            work / "gateway.yaml",
            {
                "alice": {"groups": ["engineering"], "token": AGENT},
                "bob": {"groups": ["sre"], "token": APPROVER, "slack_user": "U0BOB"},
            },
            {"target": pg.url("target")},
        )
        pg_port, http_port = free_port(), free_port()
        key = work / "approval-signing-key.pem"  # decisions are signed, as in production
        settings = Settings(
            nats_url=nats.url,
            log_level="WARNING",
            approval_signing_key=key,
            approval_verify_keys=load_or_create_signing_key(key),
        )
        async with FakeSlack() as slack:
            env = {
                "PROCTOR_GATEWAY_CONFIG": str(config),
                "PROCTOR_PG_LISTEN": f"127.0.0.1:{pg_port}",
                "PROCTOR_APPROVAL_HTTP_LISTEN": f"127.0.0.1:{http_port}",
                **slack.env("C0APPROVALS"),
            }
            for name in ("proctor_classifier", "proctor_masker", "proctor_ingress",
                         "proctor_approval"):  # fmt: skip
                services.append(ServiceRunner(name, settings, work / f"{name}.log", env).start())
            slack.events_url = f"http://127.0.0.1:{http_port}/slack/events"
            await asyncio.gather(
                asyncio.to_thread(wait_for_port, "127.0.0.1", pg_port),
                asyncio.to_thread(wait_for_port, "127.0.0.1", http_port),
            )
            nc = await nats_client.connect(nats.url)
            requests: asyncio.Queue[str] = asyncio.Queue()

            async def on_request(msg: object) -> None:
                event = codec.decode(msg.data)  # type: ignore[attr-defined]
                await requests.put(event.approval_requested.approval_id)

            await nc.subscribe(codec.subject_filter("approval_requested"), cb=on_request)
            agent = await asyncpg.connect(
                f"postgresql://alice:{AGENT}@127.0.0.1:{pg_port}/target", ssl=False
            )
            from_click: list[float] = []
            from_submit: list[float] = []
            try:
                for i in range(rounds + 2):  # two warm-up rounds
                    held = asyncio.create_task(agent.execute(UPDATE))
                    aid = await asyncio.wait_for(requests.get(), 30)
                    message = await slack.wait_for_message(aid, timeout=30)
                    clicked = time.perf_counter()
                    click = await slack.click(message, "U0BOB", "approve")
                    view = await slack.wait_for_modal(click.trigger_id)
                    submitted = time.perf_counter()
                    reply = await slack.submit(view, "U0BOB", "")
                    assert reply.status == 200, reply.body
                    assert await asyncio.wait_for(held, 30) == "UPDATE 1"
                    done = time.perf_counter()
                    if i >= 2:
                        from_click.append((done - clicked) * 1000)
                        from_submit.append((done - submitted) * 1000)
            finally:
                await agent.close()
                await nc.close()
    finally:
        for service in services:
            service.stop()
        pg.stop("immediate")
        nats.stop()
    return from_click, from_submit


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="proctor-approval-bench-") as tmp:
        from_click, from_submit = asyncio.run(measure(args.rounds, Path(tmp)))
    print(f"approver's click to the agent's result, {args.rounds} approvals in Slack "
          "(local Slack API, signed requests, every service a real process)")  # fmt: skip
    for label, values in (("Approve click → modal → submit → result", from_click),
                          ("modal submitted → result", from_submit)):  # fmt: skip
        print(
            f"  {label:<42} p50 {statistics.median(values):7.1f} ms   "
            f"p99 {percentile(values, 0.99):7.1f} ms   max {max(values):7.1f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
