"""Plain-torch trainers over device tensors, one per recipe, all behind one contract
(``ser_models.training.loop``): an ``on_epoch(info, state_fn)`` callback lets a caller report and
checkpoint (e.g. Ray Tune) without this package knowing about it, and ``resume_state`` continues a
run exactly where a checkpoint left it."""

from .batches import batch_indices
from .kumar import KumarSettings, TrainResult, evaluate_kumar, softmax_accuracy, train_kumar
from .lian import LianResult, LianSettings, train_lian
from .liu import LiuResult, LiuSettings, train_liu
from .loop import HISTORY_KEYS, NonFiniteLoss, OnEpoch, StateFn, epoch_info
from .mocanu import MocanuResult, MocanuSettings, train_mocanu
from .schedule import EarlyStopping, linear_lr
from .speaker_id import SpeakerIdResult, SpeakerIdSettings, train_speaker_id

__all__ = [
    "HISTORY_KEYS",
    "KumarSettings",
    "LianResult",
    "LianSettings",
    "LiuResult",
    "LiuSettings",
    "MocanuResult",
    "MocanuSettings",
    "NonFiniteLoss",
    "OnEpoch",
    "SpeakerIdResult",
    "SpeakerIdSettings",
    "StateFn",
    "TrainResult",
    "EarlyStopping",
    "batch_indices",
    "epoch_info",
    "evaluate_kumar",
    "linear_lr",
    "softmax_accuracy",
    "train_kumar",
    "train_lian",
    "train_liu",
    "train_mocanu",
    "train_speaker_id",
]
