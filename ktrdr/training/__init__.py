"""Training domain: labels, chronological split, models, trainer, evaluation and model bundles (no NATS)."""
