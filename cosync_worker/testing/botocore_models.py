"""botocore's service models read once per test process instead of once per client.

Every ``get_session()`` (one per queue, store, SNS channel or boto3 client that a test opens) comes with a
new ``Loader`` whose cache starts empty, so each client parses its service's JSON model, ``endpoints.json``
and the directory listing of botocore's data again: about 80 ms of CPU a client, tens of seconds over the
suite. Here every ``Loader`` with the same search paths shares one cache, exactly as the clients of a single
session share their session's loader in production; the data a loader caches is read-only to botocore.

Only the test process is patched (by the pytest plugin, :mod:`cosync_worker.testing`); the processes a test
starts load botocore as they do in production.
"""

from __future__ import annotations

from typing import Any

__all__ = ["share_loader_caches"]

_SHARED: dict[tuple[Any, ...], dict[Any, Any]] = {}


def share_loader_caches() -> None:
    """Idempotent: every ``botocore.loaders.Loader`` created afterwards shares its cache with its likes."""
    from botocore import loaders

    if getattr(loaders.Loader, "_cosync_shared_cache", False):
        return
    original = loaders.Loader.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        # What a cached answer depends on: where the files are looked for, how they are read, which extras
        # are merged into a service model.
        key = (tuple(self.search_paths), type(self.file_loader), tuple(self._extras_types))
        self._cache = _SHARED.setdefault(key, {})

    loaders.Loader.__init__ = __init__  # type: ignore[method-assign]
    loaders.Loader._cosync_shared_cache = True  # type: ignore[attr-defined]
