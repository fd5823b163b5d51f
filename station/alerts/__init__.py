"""Alerts: raised and cleared as events; the monitor that evaluates their conditions."""
