"""pytest plugin for connector authors: sandbox emulators and AWS services (moto) as fixtures.

Installed with ``pip install 'cosync-worker[testing]'`` (the ``testing`` extra: pytest-asyncio, moto's server,
werkzeug). The ``pytest11`` entry point is in the runtime wheel, so pytest loads this module wherever cosync
is installed; without the extra it registers no fixture and says why in pytest's header instead of stopping
pytest with an ImportError.
"""

from __future__ import annotations

import importlib.util

_EXTRA = ("pytest_asyncio", "moto", "werkzeug")
MISSING = [name for name in _EXTRA if importlib.util.find_spec(name) is None]

if not MISSING:
    from .clouds import *  # noqa: F403
    from .conformance import *  # noqa: F403
    from .hubspot import *  # noqa: F403
    from .moto import *  # noqa: F403
    from .partnercentral import *  # noqa: F403
    from .ports import *  # noqa: F403
    from .stores import *  # noqa: F403
    from .waiting import *  # noqa: F403


def pytest_configure() -> None:
    from .botocore_models import share_loader_caches

    share_loader_caches()  # each client's botocore models parsed once per test process, not once per client


def pytest_report_header() -> str | None:
    if MISSING:
        return f"cosync fixtures off: {', '.join(MISSING)} missing (pip install 'cosync-worker[testing]')"
    return None
