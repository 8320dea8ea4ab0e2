"""cosync's AWS deployment as a CDK app: settings, constructs and the stack builder."""

from .settings import DeploySettings, SettingsError, load_settings
from .stack import CosyncStack, build_app

__all__ = ["CosyncStack", "DeploySettings", "SettingsError", "build_app", "load_settings"]
