"""Alerts: the one ledger every alert is raised and cleared through, and the monitor that evaluates their conditions."""
