"""The public API: read-only, no authentication (transparency for citizens and auditors)."""
