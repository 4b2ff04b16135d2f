"""Admin site tests: tenant isolation, role rules, escalation."""
