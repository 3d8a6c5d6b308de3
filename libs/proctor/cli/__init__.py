"""The `proctor` command."""
