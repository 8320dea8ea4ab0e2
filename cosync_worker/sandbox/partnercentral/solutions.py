"""The partner's seeded solutions (the offerings an opportunity can be associated with), for ListSolutions.

Shape: https://docs.aws.amazon.com/partner-central/latest/APIReference/API_ListSolutions.html
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["seed_solutions"]

_SOLUTIONS: tuple[tuple[str, str, str], ...] = (
    ("Data Lake Accelerator", "Software Product", "Active"),
    ("Cloud Migration Factory", "Consulting Service", "Active"),
    ("Managed Kubernetes Operations", "Managed Service", "Active"),
    ("SAP on AWS Migration", "Consulting Service", "Active"),
    ("Serverless Modernisation", "Consulting Service", "Active"),
    ("GenAI Contact Centre Assistant", "Software Product", "Active"),
    ("Security Posture Assessment", "Professional Service", "Active"),
    ("Well-Architected Review", "Professional Service", "Active"),
    ("Disaster Recovery as a Service", "Managed Service", "Active"),
    ("Windows Workloads Modernisation", "Consulting Service", "Active"),
    ("Real-time Analytics Platform", "Software Product", "Active"),
    ("IoT Fleet Monitoring", "Software Product", "Active"),
    ("Mainframe Modernisation", "Consulting Service", "Active"),
    ("FinOps Cost Optimisation", "Managed Service", "Active"),
    ("Healthcare Data Exchange", "Software Product", "Active"),
    ("Retail Demand Forecasting", "Software Product", "Active"),
    ("Landing Zone Setup", "Professional Service", "Active"),
    ("Database Freedom Migration", "Consulting Service", "Active"),
    ("Observability Stack", "Managed Service", "Active"),
    ("Identity Federation Service", "Professional Service", "Active"),
    ("Edge Video Analytics", "Hardware Product", "Active"),
    ("Backup Vault Appliance", "Hardware Product", "Inactive"),
    ("Legacy ETL Connector", "Software Product", "Inactive"),
    ("Classic VDI Hosting", "Managed Service", "Inactive"),
    ("Quantum Readiness Workshop", "Training", "Active"),
    ("Cloud Practitioner Bootcamp", "Training", "Active"),
    ("ML Ops Starter Kit", "Software Product", "Draft"),
    ("Sustainability Dashboard", "Software Product", "Draft"),
    ("Sovereign Cloud Advisory", "Consulting Service", "Draft"),
    ("Contact Lens Integration", "Consulting Service", "Active"),
)


def seed_solutions(catalog: str) -> list[dict[str, Any]]:
    base = datetime(2024, 1, 15, 9, 0, tzinfo=UTC)
    return [
        {
            "Catalog": catalog,
            "Id": f"S-{1000001 + i}",
            "Arn": f"arn:aws:partnercentral:us-east-1::catalog/{catalog}/solution/S-{1000001 + i}",
            "Name": name,
            "Category": category,
            "Status": status,
            "CreatedDate": base + timedelta(days=7 * i),
        }
        for i, (name, category, status) in enumerate(_SOLUTIONS)
    ]
