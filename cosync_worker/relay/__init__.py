"""The relay: HubSpot webhook intake, plugins' REST API, OpenAPI document, health and metrics."""

from .app import create_app
from .jobs import Job, JobAccepted, create_job, get_job, update_job
from .problems import FieldError, Problem, ProblemError, problem_response
from .routes import collect_routes
from .server import RelayServer

__all__ = [
    "FieldError",
    "Job",
    "JobAccepted",
    "Problem",
    "ProblemError",
    "RelayServer",
    "collect_routes",
    "create_app",
    "create_job",
    "get_job",
    "problem_response",
    "update_job",
]
