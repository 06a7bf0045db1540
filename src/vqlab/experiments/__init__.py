"""Experiments over trained runs: full evaluations with a cache, and comparison tables."""
