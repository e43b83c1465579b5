"""The bus layer: connection, topology and the embedded server — the only nats importer besides worker runtime."""
