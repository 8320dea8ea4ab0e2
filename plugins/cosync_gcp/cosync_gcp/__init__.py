"""The Google Cloud connector: HubSpot ``#GCP`` deals become Cloud CRM Partners API leads; the opportunity
Google makes from each lead is kept in step with the deal. See docs/connectors/gcp.md."""

from .client import SCOPE, CloudCrmPartnersClient
from .config import GcpConfig

__all__ = ["SCOPE", "CloudCrmPartnersClient", "GcpConfig"]
