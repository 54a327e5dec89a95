"""The administrators' API: partners and keys (more to come: methodologies, runs, merchants)."""
