"""`tanhui bench` (`make bench`): the platform measured end to end, written down as JSON.

A fresh PostgreSQL database and Redis prefix; `tanhui serve` (and `tanhui worker` processes) as
real processes; the reference simulators' citizens bound through the SDK; then three phases:

1. intake: N signed 1,000-action batches from client processes, as fast as they are taken;
2. settlement: until `outcomes` holds every accepted action (or a timeout: `settled` is false);
3. single actions: one-action requests at a fixed rate, open loop, for their accept latency.

Then the counts are reconciled (accepted = actions = outcomes; points = citizens' pending
balances) and the RSS of every platform process is reported over the run. See docs/performance.md.
"""

from backend.bench.errors import BenchError
from backend.bench.run import BenchOptions, execute

__all__ = ["BenchError", "BenchOptions", "execute"]
