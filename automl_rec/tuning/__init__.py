"""The search: what to try next (backends) and how to run one candidate.

Optuna and keras-tuner are imported only inside this package, and only when a search needs them.
"""
