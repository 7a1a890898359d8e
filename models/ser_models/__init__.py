"""ser_models: the model zoo, losses and metrics. Usable without the orchestrator or Ray."""

__version__ = "0.1.0"
