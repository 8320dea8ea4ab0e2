"""The relay's problem details; they live in ``cosync_worker.problems`` (a leaf module, so the public
``cosync_worker.errors`` can offer ``ProblemError`` without importing the relay)."""

from ..problems import (
    PROBLEM_CONTENT_TYPE,
    FieldError,
    Problem,
    ProblemError,
    field_errors_from_validation,
    problem_response,
)

__all__ = [
    "PROBLEM_CONTENT_TYPE",
    "FieldError",
    "Problem",
    "ProblemError",
    "field_errors_from_validation",
    "problem_response",
]
