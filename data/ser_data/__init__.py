"""ser_data: emotional-speech corpora (real layouts and a synthetic generator), features, folds."""

__version__ = "0.1.0"
