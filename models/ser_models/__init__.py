"""ser_models: the model zoo, losses and metrics. Usable without the orchestrator or Ray.

>>> from ser_models import create_model, list_models
>>> model = create_model("resnet-11", num_classes=8)
"""

__version__ = "0.1.0"

from . import ablation as _ablation  # noqa: F401  (registers the Kumar families)
from . import cnn_lstm as _cnn_lstm  # noqa: F401  (registers liu-cnn-lstm)
from . import siamese_cnn as _siamese_cnn  # noqa: F401  (registers lian-cnn1d)
from . import se_resnet as _se_resnet  # noqa: F401  (registers the Mocanu SE-ResNet-34 variants)
from .base import ModelOutput, SerModel, count_layers, embed
from .registry import UnknownModelError, create_model, is_model, list_models, register_model

__all__ = [
    "ModelOutput",
    "SerModel",
    "UnknownModelError",
    "count_layers",
    "create_model",
    "embed",
    "is_model",
    "list_models",
    "register_model",
]
