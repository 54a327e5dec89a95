"""The public, read-only registry API (no authentication): runs, roots, serial ranges, proofs."""
