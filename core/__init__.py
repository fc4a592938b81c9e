"""Mechanisms every app shares, and nothing that knows a patient or a message.

The bottom layer (docs/architecture.md, "Apps and layers"): ``core`` imports no
app of the project, and every app may import it. It holds the scheduler's finder
registry and its per-finder schedules (``scheduler``, ``schedules``, ``tasks``),
the shared cache and its circuit breaker (``cache``, ``breaker``), the fixed-window
rate limit (``ratelimit``), the one client address (``client_address``) and live
notices on the channel layer (``live``). Not a Django app: it has no models.
"""
