"""The remote objects plugins record conflicts on (``cosync_conflict_objects``), by connector."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..hooks.types import ConflictObjectSpec

if TYPE_CHECKING:
    from ..hooks import PluginManager

__all__ = ["GENERIC_LABELS", "collect_conflict_objects", "labels_of"]

# What a conflict's remote side is called when its connector declared no names of its own.
GENERIC_LABELS = ("remoteId", "remoteValue", "remoteTimestamp")


def collect_conflict_objects(plugins: PluginManager) -> dict[str, ConflictObjectSpec]:
    """Every plugin's declaration, by connector; a connector declared twice is refused by name."""
    found: dict[str, ConflictObjectSpec] = {}
    for specs in plugins.hook.cosync_conflict_objects():
        for spec in specs or ():
            if not isinstance(spec, ConflictObjectSpec):
                raise TypeError(
                    f"cosync_conflict_objects returned {type(spec).__name__}, expected ConflictObjectSpec"
                )
            if spec.connector in found and found[spec.connector] != spec:
                raise ValueError(f"conflict objects of connector {spec.connector!r} are declared twice")
            found[spec.connector] = spec
    return found


def labels_of(spec: ConflictObjectSpec | None) -> tuple[str, str, str]:
    """The names of the remote id, value and timestamp in ``GET /conflicts/pending``."""
    if spec is None:
        return GENERIC_LABELS
    return (spec.id_field, f"{spec.remote_label}Value", f"{spec.remote_label}Timestamp")
