"""A module registered through ``plugin_modules`` whose plugin object has async declaration hooks."""

from .sample import async_declarations

cosync_plugin = async_declarations
