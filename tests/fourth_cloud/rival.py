"""A second test plugin that claims Acme's names differently: the core must refuse it, naming the clash."""

from __future__ import annotations

from cosync_worker.hooks import EmulatorSpec, NoticeKindSpec, hookimpl

from .acme import AcmeEmulator


@hookimpl
def cosync_emulators() -> list[EmulatorSpec]:
    return [EmulatorSpec("acme", AcmeEmulator, lambda emu: {})]


@hookimpl
def cosync_notice_kinds() -> list[NoticeKindSpec]:
    return [NoticeKindSpec("acme", "Rival Cloud")]
