"""Citizens' rights over their personal data (PIPL arts. 15, 45, 47): withdrawing and granting
consent per partner, a complete export, and deletion by pseudonymisation that leaves the ledger,
the outcomes and the certification runs whole (docs/privacy.md)."""
