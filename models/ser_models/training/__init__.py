"""Plain-torch trainers over device tensors; an ``on_epoch`` callback lets a caller report and
checkpoint (e.g. Ray Tune) without this package knowing about it."""

from .batches import batch_indices
from .kumar import KumarSettings, TrainResult, evaluate_kumar, softmax_accuracy, train_kumar
from .schedule import EarlyStopping, linear_lr

__all__ = [
    "KumarSettings",
    "TrainResult",
    "train_kumar",
    "evaluate_kumar",
    "softmax_accuracy",
    "EarlyStopping",
    "linear_lr",
    "batch_indices",
]
