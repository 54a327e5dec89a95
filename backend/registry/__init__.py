"""The credit registry (docs/registry.md): who holds which certified tonnes, transfers and
retirements that split serial ranges, and the public reads of runs, pieces and accounts.

Business rules live here, free of FastAPI: the admin API, the public registry API and the CLI all
call these use cases. Each write is one transaction that locks the piece it changes and records
its audit event last.
"""

from backend.registry.accounts import create_buyer, list_accounts
from backend.registry.operations import retire, transfer
from backend.registry.queries import get_piece, get_run, list_pieces, list_runs

__all__ = [
    "create_buyer",
    "get_piece",
    "get_run",
    "list_accounts",
    "list_pieces",
    "list_runs",
    "retire",
    "transfer",
]
