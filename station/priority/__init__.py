"""The priority domain: level rules and SLA colours, the prioritizer and its S-escalation breaker, the PDA queue."""
