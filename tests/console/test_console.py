"""The operator console in headless chromium against a running system on the emulators: sign in, the
overview's real numbers, a deal's timeline and "sync now", resolving a conflict, rolling back, replaying a
dead letter, each seen in the emulators; a viewer cannot act; a form post without the CSRF token is refused.
Each page's screenshot is saved under the pytest tmp dir. The tests run in order on one shared system."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from tests_aws.conftest import wait_until
from tests_aws.test_conflicts import created, overlapping_amounts, pc_amount

from cosync_worker.console.deals import audit_key_of

from .conftest import ADMIN_TOKEN, VIEWER_TOKEN, System

pytestmark = pytest.mark.slow
By: Any = pytest.importorskip("selenium.webdriver.common.by", reason="browser tests need selenium").By
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
state: dict[str, str] = {}


def shoot(browser: Any, shots: Path, name: str) -> None:
    browser.save_screenshot(str(shots / f"{name}.png"))


def click_to(browser: Any, element: Any, path: str) -> None:
    """Click what navigates, and wait until the browser is at ``path``."""
    element.click()
    eventually(
        lambda: (
            path in browser.current_url and browser.execute_script("return document.readyState") == "complete"
        )
    )


def sign_in(browser: Any, system: System, token: str) -> None:
    browser.delete_all_cookies()
    browser.get(system.url + "/console/signin")
    browser.find_element(By.ID, "token").send_keys(token)
    browser.find_element(By.ID, "signin").click()


def text(browser: Any, element_id: str) -> str:
    """An element's text; a page that reloads itself (the job page) is read again."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return str(browser.find_element(By.ID, element_id).text)
        except (StaleElementReferenceException, NoSuchElementException):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def eventually(check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def api_status(system: System) -> dict[str, Any]:
    resp = requests.get(
        system.url + "/status", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10
    )
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()
    return data


def job_outcome(browser: Any) -> str:
    """The job page's outcome once it has one; the page reloads itself while the job runs, so it is read
    afresh each time (an element of the page before a reload is gone)."""
    found: list[str] = []

    def finished() -> bool:
        status = text(browser, "job-status")
        try:
            errors = [e.text for e in browser.find_elements(By.ID, "job-error")]
        except StaleElementReferenceException:
            return False
        found[:] = [status + "".join(f": {e}" for e in errors)]
        return status in ("succeeded", "failed")

    eventually(finished)
    return found[0]


def test_sign_in_and_the_overview_shows_the_running_system(browser: Any, system: System, shots: Path) -> None:
    deal_id, opp_id = system.run(created(system.stack))
    state.update(deal=deal_id, opp=opp_id)
    # The relay records the worker's counters every 0.2 s here; wait until the creation is in them.
    eventually(lambda: api_status(system)["last_hour"]["processed"] >= 1)
    eventually(lambda: api_status(system)["write_budgets"][0]["used_24h"] >= 1)

    browser.get(system.url + "/console")
    assert browser.current_url.endswith("/console/signin")
    sign_in(browser, system, "not-a-token")
    assert text(browser, "error") == "that token is not valid"
    sign_in(browser, system, ADMIN_TOKEN)
    eventually(lambda: browser.current_url == system.url + "/console")
    assert text(browser, "who") == "ada (admin)"
    cookie = browser.get_cookie("cosync_console")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert ADMIN_TOKEN not in browser.page_source

    report = api_status(system)
    rows = browser.find_element(By.ID, "events").find_elements(By.TAG_NAME, "tr")
    hour = [c.text for c in rows[1].find_elements(By.TAG_NAME, "td")]
    assert int(hour[0]) >= 1 and int(hour[0]) <= report["last_hour"]["processed"]
    budgets = text(browser, "budgets")
    shown = re.search(r"aws writes, 24 h\s+(\d+) / 10000", budgets)
    assert shown is not None, budgets
    assert 1 <= int(shown.group(1)) <= report["write_budgets"][0]["used_24h"]
    assert "(limit 1000.0/s)" in budgets
    assert "aws" in text(browser, "connectors")
    assert "aws_reconcile" in text(browser, "loops")
    assert browser.find_elements(By.CSS_SELECTOR, "svg.chart rect.events")
    shoot(browser, shots, "overview")


def test_find_a_deal_open_its_timeline_and_sync_it_now(browser: Any, system: System, shots: Path) -> None:
    deal_id, opp_id = state["deal"], state["opp"]
    browser.get(system.url + "/console/deals")
    browser.find_element(By.ID, "q").send_keys(opp_id)
    click_to(browser, browser.find_element(By.ID, "search"), "?q=")
    links = browser.find_elements(By.CSS_SELECTOR, "a.deal-link")
    assert [a.text for a in links] == ["BigCorp Cloud Migration #AWS"]
    assert opp_id in text(browser, "deals") and "synced" in text(browser, "deals")
    shoot(browser, shots, "deals")
    click_to(browser, links[0], f"/console/deals/{deal_id}")
    timeline = text(browser, "timeline")
    assert "partnercentral: create_opportunity" in timeline
    assert "note" in browser.find_element(By.ID, "timeline").get_attribute("innerHTML")
    shoot(browser, shots, "deal")

    # An edit HubSpot never announced (no webhook): "sync now" pushes it through the webhook path.
    problem = "The data centre lease ends in May; move the reporting databases first, then the rest"
    system.stack.hs.portal.records["deals"][deal_id].properties["description"] = problem
    click_to(browser, browser.find_element(By.ID, "sync-now"), "flash=")
    assert text(browser, "flash") == "sync queued"

    def pushed() -> bool:
        opp = system.stack.opportunities()[opp_id]
        return bool(opp["Project"].get("CustomerBusinessProblem") == problem)

    eventually(pushed)


def test_resolve_a_conflict(browser: Any, system: System, shots: Path) -> None:
    stack, deal_id, opp_id = system.stack, state["deal"], state["opp"]
    # Ordered, not timed: cosync's push of the rep's edit waits behind another replica's write turn while the
    # colleague's Partner Central edit lands, so both sides changed since the last sync.
    system.run(overlapping_amounts(stack, deal_id, opp_id, "20000", "30000"))
    eventually(lambda: stack.deal(deal_id).get("aws_conflict_status") == "Pending")

    browser.get(system.url + "/console/conflicts")
    table = text(browser, "conflicts")
    assert "amount" in table and "20000" in table and "30000" in table
    shoot(browser, shots, "conflicts")
    form = browser.find_element(By.CSS_SELECTOR, "form.resolve")
    form.find_element(By.CSS_SELECTOR, "input[value=USE_CUSTOM_VALUE]").click()
    form.find_element(By.NAME, "value").send_keys("25000")
    form.find_element(By.NAME, "reason").send_keys("agreed on the call")
    click_to(browser, form.find_element(By.CSS_SELECTOR, "button.resolve-button"), "/console/jobs/")
    assert job_outcome(browser) == "succeeded"
    shoot(browser, shots, "job")
    assert pc_amount(stack, opp_id) == "25000"
    eventually(lambda: stack.deal(deal_id).get("amount") == "25000")
    trail = system.run(stack.rt.context.store.audit_trail("cosync:conflicts"))
    requested = [e for e in trail if e.action == "resolve_requested"]
    assert [(e.actor, e.detail["resolution"]) for e in requested] == [("ada", "USE_CUSTOM_VALUE")]


def test_roll_back_to_an_audit_entry(browser: Any, system: System, shots: Path) -> None:
    deal_id, opp_id = state["deal"], state["opp"]
    browser.get(system.url + f"/console/deals/{deal_id}")
    click_to(browser, browser.find_element(By.CSS_SELECTOR, "a.audit-link"), "/console/audit")
    assert "create_opportunity" in text(browser, "audit")
    shoot(browser, shots, "audit")
    # the first entry: the opportunity as cosync created it (amount 12000)
    click_to(browser, browser.find_elements(By.CSS_SELECTOR, "a.rollback-link")[0], "/console/rollback")
    assert opp_id in browser.find_element(By.TAG_NAME, "h1").text
    shoot(browser, shots, "rollback")
    click_to(browser, browser.find_element(By.ID, "confirm-rollback"), "/console/jobs/")
    assert job_outcome(browser) == "succeeded"
    assert pc_amount(system.stack, opp_id) == "12000"
    eventually(lambda: system.stack.deal(deal_id).get("amount") == "12000")
    # The API route ran as the signed-in admin (not an anonymous caller the governance rule refuses).
    key = audit_key_of("aws", opp_id)
    assert key is not None
    trail = system.run(system.stack.rt.context.store.audit_trail(key))
    assert [e.actor for e in trail if e.action == "rollback"] == ["ada"]


def test_replay_a_dead_letter(browser: Any, system: System, shots: Path) -> None:
    stack = system.stack
    stack.pc.faults.configure(error_rate=1.0)  # Partner Central fails every call: the creation dead-letters
    try:
        company = system.run(stack.rep_company("Initech", "initech.example"))
        deal_id = system.run(
            stack.rep_deal(
                {
                    "dealname": "Initech Data Lake #AWS",
                    "description": "Consolidate twelve reporting stores into one governed data lake on S3",
                    "dealstage": "qualifiedtobuy",
                    "closedate": stack.deal(state["deal"])["closedate"][:10],
                    "amount": "50000",
                },
                company,
            )
        )
        queue = stack.rt.context.queue
        # Every event of the new deal (its creation and each property's change) tries the creation through
        # Partner Central's retries, the worker's attempts and the deal's lock before one is dead-lettered: over
        # a minute; the bound is only against a hang.
        system.run(wait_until(lambda: _has_dead_letter(queue), timeout=300), 320)
    finally:
        stack.pc.faults.configure(error_rate=0.0)

    browser.get(system.url + "/console/dlq")
    rows = text(browser, "dead-letters")
    assert "aws" in rows
    shoot(browser, shots, "dead-letters")
    click_to(browser, browser.find_element(By.CSS_SELECTOR, "#dead-letters a"), "/console/dlq/")
    source = browser.page_source
    for secret in (ADMIN_TOKEN, stack.hs.access_token, stack.hs.client_secret, "sandbox-secret"):
        assert secret not in source
    shoot(browser, shots, "dead-letter")
    click_to(browser, browser.find_element(By.CSS_SELECTOR, "a.replay-one"), "/console/dlq/replay")
    shoot(browser, shots, "replay")
    click_to(browser, browser.find_element(By.ID, "confirm-replay"), "/console/dlq?")
    assert text(browser, "flash") == "replayed 1 message(s)"
    eventually(lambda: bool(stack.deal(deal_id).get("aws_opportunity_id")), 60)
    assert any(o["Project"]["Title"].startswith("Initech") for o in stack.opportunities().values())
    # The deal's other events were still retrying: the next tests count what the queue holds.
    system.run(wait_until(lambda: _is_empty(queue), timeout=120), 140)


async def _has_dead_letter(queue: Any) -> bool:
    return bool(await queue.list_dead_letters(10))


async def _is_empty(queue: Any) -> bool:
    # Nothing waiting, delayed or in flight (depth() counts only what is visible now).
    return await queue.oldest_age() is None


def _form_session(browser: Any) -> tuple[dict[str, str], str]:
    cookies = {c["name"]: c["value"] for c in browser.get_cookies()}
    csrf = browser.find_element(By.CSS_SELECTOR, "form.signout input[name=csrf]").get_attribute("value")
    return cookies, str(csrf)


def test_a_forged_post_without_the_csrf_token_is_refused(browser: Any, system: System) -> None:
    deal_id = state["deal"]
    browser.get(system.url + "/console")
    cookies, csrf = _form_session(browser)
    before = system.run(system.stack.rt.context.queue.depth())
    forged = requests.post(
        system.url + f"/console/deals/{deal_id}/sync",
        cookies=cookies,
        data={},
        allow_redirects=False,
        timeout=10,
    )
    assert forged.status_code == 403 and "CSRF" in forged.text
    wrong = requests.post(
        system.url + "/console/dlq/replay",
        cookies=cookies,
        data={"csrf": csrf[::-1], "confirm": "yes"},
        allow_redirects=False,
        timeout=10,
    )
    assert wrong.status_code == 403
    assert system.run(system.stack.rt.context.queue.depth()) == before
    no_session = requests.post(system.url + "/console/dlq/replay", data={"csrf": csrf}, timeout=10)
    assert no_session.status_code == 401


def test_a_viewer_sees_but_cannot_act(browser: Any, system: System, shots: Path) -> None:
    click_to(browser, browser.find_element(By.CSS_SELECTOR, "form.signout button"), "/console/signin")
    sign_in(browser, system, VIEWER_TOKEN)
    assert text(browser, "who") == "vic (viewer)"
    browser.get(system.url + f"/console/deals/{state['deal']}")
    assert browser.find_elements(By.ID, "sync-now") == []
    browser.get(system.url + "/console/dlq")
    assert browser.find_elements(By.CSS_SELECTOR, "a.replay-one") == []
    shoot(browser, shots, "viewer")
    cookies, csrf = _form_session(browser)
    refused = requests.post(
        system.url + f"/console/deals/{state['deal']}/sync",
        cookies=cookies,
        data={"csrf": csrf},
        allow_redirects=False,
        timeout=10,
    )
    assert refused.status_code == 403 and "viewer" in refused.text
    api = requests.post(
        system.url + "/conflicts/resolve",
        headers={"Authorization": f"Bearer {VIEWER_TOKEN}"},
        json={"conflictId": "x", "resolution": "USE_HUBSPOT_VALUE"},
        timeout=10,
    )
    assert api.status_code == 403


def test_cosync_status_through_the_api(system: System) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cosync_worker",
            "status",
            "--url",
            system.url,
            "--token",
            VIEWER_TOKEN,
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    report = json.loads(done.stdout)
    aws = next(c for c in report["connectors"] if c["name"] == "aws")
    assert aws["configured"] is True and report["queue"]["depth"] is not None
    assert done.returncode == (1 if report["needs_attention"] else 0), done.stderr
    refused = subprocess.run(
        [sys.executable, "-m", "cosync_worker", "status", "--url", system.url, "--token", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert refused.returncode == 2 and "refused the token (401)" in refused.stderr
    assert "nope" not in refused.stderr
