"""HTTP routes, one module per audience: people clicking, API callers, operators."""
