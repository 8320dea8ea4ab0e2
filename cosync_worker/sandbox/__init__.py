"""In-process emulators on loopback: HubSpot's, and those plugins register (``cosync_emulators``) for their clouds.

:class:`SandboxStack` starts them together; :func:`eventbridge_sink` is what an EventBridge rule does, for an
emulator that publishes events. The emulators of the clouds the core still ships are public names of
:mod:`cosync_worker.sandbox.clouds`, which a plugin's ``cosync_emulators`` declaration builds from.
"""

from .base import Emulator
from .stack import SandboxStack, eventbridge_sink, registered_emulators

__all__ = ["Emulator", "SandboxStack", "eventbridge_sink", "registered_emulators"]
