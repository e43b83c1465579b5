"""Workers: one runtime (heartbeats, work queue, progress, cancellation) and thin adapters per kind."""
