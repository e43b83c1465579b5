"""The backend: the API service, worker registry, routing, dead letters, parents, retention. It never runs operations."""
