"""Settlement: accepted actions flow from intake through Redis Streams to workers that settle them.

- ``publisher``: after intake commits, each accepted action goes to the stream of its citizen's
  partition (one entry per partition per batch).
- ``worker``: a process holds leases on partitions (``settlement_partitions``), reads their
  streams in a consumer group, and settles batches with ``settler``.
- ``settler``: one partition's batches: rules state from Redis (rebuilt from the database when
  missing or stale), ``points_engine.settlement.settle``, one transaction of outcomes + ledger,
  then state to Redis, then XACK.
- ``sweeper``: republishes accepted actions that have no outcome long after intake (a publish lost
  with a crash or a flushed Redis).
"""
