"""cosync: keeps HubSpot CRM in sync with the co-sell programs of AWS, Google Cloud and Microsoft."""

__version__ = "0.1.0"
__all__ = ["__version__"]
