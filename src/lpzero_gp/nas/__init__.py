"""Using proxies to pick architectures: how good a pick is under a parameter budget."""
