"""Template for a new connector: copy this folder to connectors/<vendor>/ and follow CHECKLIST.md."""

__all__: list[str] = []
