"""The consume loop, the dispatcher and the scheduler."""

from .dispatcher import Dispatcher, Outcome
from .loop import Worker
from .scheduler import Schedule, Scheduler, resolve_schedules

__all__ = ["Dispatcher", "Outcome", "Schedule", "Scheduler", "Worker", "resolve_schedules"]
