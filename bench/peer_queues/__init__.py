"""Peer task queues measured beside this project by bench/peers.py (they run in a bench-only venv)."""
