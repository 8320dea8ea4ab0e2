"""The seeds' per-webhook design (seed 001 §1 "Deal Update Sync"), as bench/write_budget.py's baseline: one
handler per HubSpot webhook event, each on its own (as one Lambda invocation per event), that reads the deal,
calls ``GetOpportunity`` and ``UpdateOpportunity`` through aiobotocore, with "exponential backoff retry (up to
3 attempts)" (seed 002, FAQ) and then gives up. No shared budget, no ordering, no merging: what the seeds
describe. The seeds' note and ``aws_last_sync_date`` stamp (steps 6-7) are left out, so its HubSpot calls are
a lower bound.

Run as a process of its own (its CPU is measured apart): ``python bench/seeds_design.py CONFIG.json``; it
prints ``port N`` once it listens on loopback.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from aiohttp import web
from botocore.exceptions import ClientError
from cosync_aws.config import AwsConfig
from cosync_aws.mapping import merge_update, owned_from_hubspot

from cosync_worker.relay.signature import SignatureError, verify_hubspot_signature

# seed 001 §1 "Setup": the properties the webhook subscribes to
SUBSCRIBED = frozenset({"dealstage", "closedate", "amount", "description"})
READ = (
    "dealname",
    "dealstage",
    "closedate",
    "amount",
    "description",
    "deal_currency_code",
    "aws_opportunity_id",
)
ATTEMPTS = 3


class SeedsDesign:
    def __init__(self, conf: dict[str, Any]) -> None:
        self.conf = conf
        self.mapping = AwsConfig()
        # AWS seconds: 1 s then 2 s between the 3 attempts, on the emulator's scaled clock
        self.backoff = [1.0 / conf["time_scale"], 2.0 / conf["time_scale"]]
        self.tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> web.AppRunner:
        self.http = aiohttp.ClientSession()
        self.pc_context = get_session().create_client(
            "partnercentral-selling",
            region_name="us-east-1",
            endpoint_url=self.conf["pc_url"],
            aws_access_key_id="sandbox",
            aws_secret_access_key="sandbox",
            # one attempt per call: the handler's own 3 attempts are the seeds' retry policy
            config=AioConfig(retries={"total_max_attempts": 1}, max_pool_connections=100),
        )
        self.pc = await self.pc_context.__aenter__()
        app = web.Application()
        app.router.add_post("/webhook", self.webhook)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        return runner

    async def webhook(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            verify_hubspot_signature(
                secret=self.conf["client_secret"],
                method=request.method,
                uri=str(request.url),
                body=body,
                headers=request.headers,
                now=time.time(),
                max_age_seconds=300,
                allow_legacy=False,
            )
        except SignatureError as err:
            return web.json_response({"error": str(err)}, status=401)
        for event in json.loads(body):
            if (
                event.get("subscriptionType") == "deal.propertyChange"
                and event.get("propertyName") in SUBSCRIBED
            ):
                task = asyncio.create_task(self.handle(str(event["objectId"])))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
        return web.json_response({})

    async def handle(self, deal_id: str) -> None:
        for attempt in range(ATTEMPTS):
            try:
                await self.sync(deal_id)
                return
            except (ClientError, aiohttp.ClientError):
                if attempt + 1 < ATTEMPTS:
                    await asyncio.sleep(self.backoff[attempt])
        # given up: the seeds log it and send an SNS notice; the change stays unsynced

    async def sync(self, deal_id: str) -> None:
        url = f"{self.conf['hubspot_url']}/crm/v3/objects/deals/{deal_id}"
        headers = {"Authorization": f"Bearer {self.conf['access_token']}"}
        async with self.http.get(url, params={"properties": ",".join(READ)}, headers=headers) as r:
            r.raise_for_status()
            deal = (await r.json())["properties"]
        opp_id = deal.get("aws_opportunity_id")
        if not opp_id:
            return
        current = await self.pc.get_opportunity(Catalog=self.conf["catalog"], Identifier=opp_id)
        request = merge_update(current, owned_from_hubspot(deal, None, [], self.mapping))
        await self.pc.update_opportunity(Catalog=self.conf["catalog"], **request)


async def main(config_path: Path) -> None:
    design = SeedsDesign(json.loads(await asyncio.to_thread(config_path.read_text)))
    runner = await design.start()
    port = runner.addresses[0][1]
    print(f"port {port}", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await runner.cleanup()
    await design.pc_context.__aexit__(None, None, None)
    await design.http.close()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
