"""What a citizen may read about themselves: profile and consents, balances, history, footprint and
certified credits. Framework-free reads over the settled state; every function takes the citizen's
own id and never answers about anyone else (docs/citizen-api.md)."""
