"""Data intake: loading, validation, profiling and splitting (no Keras, no Optuna)."""
