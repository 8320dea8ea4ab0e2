"""cosync connector for Microsoft Partner Center referrals (entry point ``cosync.connectors: microsoft``)."""

from .client import MicrosoftApiError, ReferralsClient
from .config import MicrosoftConfig

__all__ = ["MicrosoftApiError", "MicrosoftConfig", "ReferralsClient"]
