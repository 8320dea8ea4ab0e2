"""Config validation, key loading, the property and sandbox hooks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cosync_gcp import plugin
from cosync_gcp.client import CloudCrmPartnersClient, GoogleNotFound
from cosync_gcp.config import GcpConfig
from pydantic import ValidationError

from cosync_worker.config import ConfigError
from cosync_worker.sandbox.google import GoogleEmulator


def test_an_empty_section_is_valid_and_idle() -> None:
    assert GcpConfig.model_validate({}).configured is False


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ({"partner_id": "p"}, "exactly one of service_account_json or service_account_file"),
        ({"partner_id": "p", "service_account_json": "{}", "service_account_file": "/k"}, "exactly one"),
        ({"partner_id": "p/x", "service_account_file": "/k"}, "partner_id"),
        ({"stage_map": {"closedwon": "won"}}, "UPPER_SNAKE"),
        ({"base_url": "ftp://x"}, "http"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_bad_config_is_refused_naming_the_problem(section: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError) as err:
        GcpConfig.model_validate(section)
    assert problem in str(err.value)


async def test_key_loading_errors_name_the_setting_not_the_key(
    tmp_path: Path, key_info: dict[str, Any]
) -> None:
    cfg = GcpConfig.model_validate({"partner_id": "p", "service_account_json": "not json"})
    with pytest.raises(ConfigError, match="service_account_json: is not valid JSON"):
        await plugin.load_key_info(cfg)
    path = tmp_path / "key.json"
    path.write_text(json.dumps({**key_info, "type": "authorized_user"}))
    cfg = GcpConfig.model_validate({"partner_id": "p", "service_account_file": str(path)})
    with pytest.raises(ConfigError) as err:
        await plugin.load_key_info(cfg)
    assert "not a service-account key" in str(err.value) and "PRIVATE KEY" not in str(err.value)
    cfg = GcpConfig.model_validate({"partner_id": "p", "service_account_file": str(tmp_path / "none")})
    with pytest.raises(ConfigError, match="cannot read"):
        await plugin.load_key_info(cfg)
    path.write_text(json.dumps(key_info))
    assert (await plugin.load_key_info(cfg.model_copy(update={"service_account_file": str(path)})))[
        "client_email"
    ] == key_info["client_email"]


def test_properties_hook_lists_the_seed_properties() -> None:
    declared = plugin.GcpConnector().cosync_hubspot_properties() or []
    names = {p.name for p in declared}
    seed = {
        "gcp_opportunity_id",
        "gcp_opportunity_name",
        "gcp_sync_status",
        "gcp_lead_name",
        "gcp_product_family",
    }
    assert seed <= names and all(p.object_type == "deals" for p in declared)


async def test_sandbox_config_points_at_the_emulator_and_works(google_emulator: GoogleEmulator) -> None:
    connector = plugin.GcpConnector()
    assert connector.cosync_sandbox_config({"hubspot": {}}) is None
    section = connector.cosync_sandbox_config(
        {"google": {"base_url": google_emulator.base_url, "token_url": google_emulator.token_url}}
    )
    assert section is not None
    cfg = GcpConfig.model_validate(section["gcp"])
    assert cfg.partner_id == google_emulator.partner_id and cfg.link_lookup == "sandbox"
    assert "PRIVATE KEY" not in repr(cfg)  # the key is a SecretRef: never shown
    info = await plugin.load_key_info(cfg)
    async with CloudCrmPartnersClient(cfg.base_url, str(cfg.partner_id), info, token_url=cfg.token_url) as c:
        with pytest.raises(GoogleNotFound):
            await c.get_lead("absent")
    assert google_emulator.tokens_issued == 1
