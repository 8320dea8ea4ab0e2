"""``cosync demo``."""
