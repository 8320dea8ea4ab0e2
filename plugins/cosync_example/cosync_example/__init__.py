"""An example cosync connector: a template for third-party connectors."""
