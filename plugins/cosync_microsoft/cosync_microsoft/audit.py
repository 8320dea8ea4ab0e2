"""The Microsoft connector's audit trail: one entry per write to Partner Center's referrals, through the core's
audit surface (:func:`cosync_worker.connector.record_audit`), filed under ``microsoft:referral:<id>`` and
aliased by the referral id (what ``microsoft_referral_id`` holds), so ``GET /audit-trail/<id>`` finds it.
"""

from __future__ import annotations

from typing import Any

from cosync_worker.connector import record_audit
from cosync_worker.store import Store

__all__ = ["SYSTEM", "referral_created", "referral_updated"]

SYSTEM = "microsoft"


async def referral_created(store: Store, deal_id: str, referral: dict[str, Any]) -> None:
    await record_audit(
        store,
        system=SYSTEM,
        object_type="referral",
        object_id=str(referral["id"]),
        action="create_referral",
        about=SYSTEM,
        deal_id=deal_id,
        calls=["referrals.create"],
        status=referral.get("status"),
    )


def _at(referral: dict[str, Any], path: str) -> Any:
    value: Any = referral
    for part in path.strip("/").split("/"):
        value = value.get(part) if isinstance(value, dict) else None
    return value


async def referral_updated(
    store: Store, deal_id: str, referral_id: str, before: dict[str, Any], ops: list[dict[str, Any]]
) -> None:
    """``ops`` are the JSON Patch operations sent, ``before`` the referral they were applied to."""
    await record_audit(
        store,
        system=SYSTEM,
        object_type="referral",
        object_id=referral_id,
        action="update_referral",
        about=SYSTEM,
        deal_id=deal_id,
        calls=["referrals.update"],
        changes={op["path"]: {"old": _at(before, op["path"]), "new": op.get("value")} for op in ops},
    )
