"""The bench-only server of ``bench/api.py``: the project's settings and URLs
plus one trivial JSON view (the ceiling). Never used in production."""
