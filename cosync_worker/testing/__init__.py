"""pytest plugin for connector authors: sandbox emulators and AWS services (moto) as fixtures."""

from .clouds import *  # noqa: F403
from .conformance import *  # noqa: F403
from .hubspot import *  # noqa: F403
from .moto import *  # noqa: F403
from .partnercentral import *  # noqa: F403
from .waiting import *  # noqa: F403
