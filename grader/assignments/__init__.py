"""The built-in assignment packs, one package each (see grader.engine.packs and docs/packs.md)."""
