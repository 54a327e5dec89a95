"""Start-up objects kept out of the garbage collector's full passes.

CPython's full collection walks every tracked object. A ready API process holds ~180,000 of them
(modules, classes, functions, FastAPI's and pydantic's models), and one pass over them took ~90 ms
here; under 1,000 single actions/s the API made such a pass every few seconds, and each stalled
every request in flight for 107–166 ms (issue 3). What exists when a process is ready lives until
it exits, so it is moved to the permanent generation (`gc.freeze`); what requests and batches
allocate afterwards is collected as before.

Only process entry points call this: a test process that builds many apps would keep each one's
garbage for good.
"""

from __future__ import annotations

import gc

# Young collections every 50,000 allocations net (CPython's default, 700, made the API collect
# several times per 1,000-action batch and promote what was merely in flight to the old
# generations, whose passes then came every ~0.25 s at ~12 ms each).
YOUNG_THRESHOLD = 50_000


def freeze_startup_heap() -> None:
    gc.collect()  # what start-up left as garbage is freed, not frozen
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, 20, 10)
