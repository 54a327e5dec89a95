"""Start-up objects leave the collector's full passes; later garbage is still collected.

In a child process: freezing moves the test process's own objects out of reach for good.
"""

from __future__ import annotations

import subprocess
import sys

CHILD = """
import gc, time
import backend.app  # the API's modules: what a ready process holds
from backend.heap import YOUNG_THRESHOLD, freeze_startup_heap

before = len(gc.get_objects())
start = time.process_time()
gc.collect()
full_before = time.process_time() - start
freeze_startup_heap()
assert gc.get_freeze_count() >= before * 0.9, (gc.get_freeze_count(), before)
assert len(gc.get_objects()) < before * 0.05, len(gc.get_objects())
assert gc.get_threshold()[0] == YOUNG_THRESHOLD

class Node:
    pass

for _ in range(1_000):  # cycles made after start-up are still garbage to the collector
    a, b = Node(), Node()
    a.other, b.other = b, a
del a, b
collected = gc.collect()
assert collected >= 2_000, collected
start = time.process_time()
gc.collect()
print(full_before, time.process_time() - start)
"""


def test_full_collection_skips_start_up_objects_and_still_frees_later_cycles() -> None:
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    full_before, full_after = map(float, done.stdout.split())
    assert full_after < full_before
