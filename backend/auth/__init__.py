"""Partner request signatures, JWTs and roles."""
