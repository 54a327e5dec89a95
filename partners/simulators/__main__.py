"""`python -m partners.simulators {transit,bike,waste,canteen} --partner ID --key-id K --secret S …`"""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
