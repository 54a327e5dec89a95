"""The auditors' API: read the audit log and verify its hash chain (roles ``auditor`` and ``admin``)."""
