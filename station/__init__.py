"""Packing Station core: domain, rules, store, API, pages, CLI and the composition root."""
