"""The SSH entrance of the shell path (server.py)."""
