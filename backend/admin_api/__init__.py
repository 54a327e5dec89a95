"""The administrators' API: partners and keys, methodology versions (more to come: runs, merchants)."""
