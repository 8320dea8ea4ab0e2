"""One running system per module for the console's browser tests: the real Runtime (worker + relay with the
console on) between the HubSpot and Partner Central emulators, in a thread of its own, since Selenium's calls
block; and headless Debian chromium through the system chromedriver (nothing is downloaded)."""

from __future__ import annotations

import asyncio
import shutil
import sys
import threading
import warnings
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest

from cosync_worker.config import Settings
from cosync_worker.runtime import Runtime, declared_properties
from cosync_worker.sandbox.hubspot import HubSpotEmulator
from cosync_worker.sandbox.partnercentral import PartnerCentralEmulator
from cosync_worker.sandbox.stack import HUBSPOT_SUBSCRIPTIONS, eventbridge_sink

# The AWS connector's end-to-end harness (a rep in HubSpot, a colleague in Partner Central) is reused as is.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "cosync_aws"))
from tests_aws.conftest import Stack, settings_dict

T = TypeVar("T")
ADMIN_TOKEN = "console-admin-token-1f2e"
VIEWER_TOKEN = "console-viewer-token-9a8b"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class LoopThread:
    """An event loop in a daemon thread; ``run`` waits for a coroutine from the (blocking) test."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@dataclass
class System:
    loop: LoopThread
    stack: Stack
    url: str

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return self.loop.run(coro, timeout)


async def _start(tmp: Path, task_box: list[asyncio.Task[None]]) -> Stack:
    hs = HubSpotEmulator(burst_limit=10_000, search_per_second=1_000, webhook_flush_seconds=0.05)
    pc = PartnerCentralEmulator(write_rate=1000.0, read_rate=1000.0, task_seconds=0.05)
    await hs.start()
    await pc.start()
    data = settings_dict(tmp, hs, pc, coalesce_seconds=1.0, conflicts={"manual_fields": ["amount"]})
    data["relay"] |= {
        "console": {"enabled": True, "sample_seconds": 0.2},
        "api_tokens": [
            {"token": ADMIN_TOKEN, "user": "ada", "role": "admin"},
            {"token": VIEWER_TOKEN, "user": "vic", "role": "viewer"},
        ],
    }
    data["hubspot"]["portal_id"] = 62515
    rt = Runtime(Settings.model_validate(data))
    await rt.__aenter__()
    session = aiohttp.ClientSession()
    await rt.start_relay()
    await rt.context.service("hubspot").ensure_properties(declared_properties(rt.plugins))
    hs.subscribe(f"{rt.relay_url}/webhooks/hubspot", HUBSPOT_SUBSCRIPTIONS)
    pc.set_event_sink(eventbridge_sink(rt.context.queue))
    task_box.append(asyncio.create_task(rt.run(with_relay=False, with_scheduler=False)))
    return Stack(rt, hs, pc, session)


async def _stop(stack: Stack, task: asyncio.Task[None]) -> None:
    stack.pc.set_event_sink(None)
    stack.rt.stop()
    await asyncio.wait_for(task, 15)
    await stack.session.close()
    await stack.rt.__aexit__(None, None, None)
    await stack.hs.stop()
    await stack.pc.stop()


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    loop = LoopThread()
    box: list[asyncio.Task[None]] = []
    stack = loop.run(_start(tmp_path_factory.mktemp("console"), box))
    try:
        yield System(loop, stack, str(stack.rt.relay_url))
    finally:
        loop.run(_stop(stack, box[0]))
        loop.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None or not Path(CHROMEDRIVER).exists():
        reason = "console browser tests skipped: no chromium/chromedriver (apt-get install chromium chromium-driver)"
        warnings.warn(reason, stacklevel=1)  # in the run's warnings summary, not only with -rs
        pytest.skip(reason)
    webdriver = pytest.importorskip(
        "selenium.webdriver", reason="browser tests need selenium (the dev extra)"
    )
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"):
        options.add_argument(arg)
    options.binary_location = CHROMIUM
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where each page's screenshot goes (under the pytest tmp dir)."""
    return tmp_path_factory.mktemp("console-screenshots")
