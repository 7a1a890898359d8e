"""Packed trials: M models of one configuration trained as one stacked model.

Trials of a grid that share architecture and data shapes and differ in fold, seed or a
loss/optimizer scalar run as one "horizontally fused" model: parameters and buffers get a
leading member dimension, one forward/backward/optimizer step serves every member, and every
member stays exactly itself (own weights, optimizer state, lr / weight decay, BatchNorm
statistics, random generators). ``benchmarks/packing_primitives.py`` measures the speed-ups.

- :class:`PackedModel` (``stack.py``): stack, forward ``(M, B, ...)``, members in and out.
- :class:`Recurrent` (``recurrent.py``): RNN/LSTM/GRU that vmap can run (swapped in automatically);
  ``batchnorm.py``: BatchNorm as one kernel over all members (swapped in automatically).
- :class:`PackedSGD`, :class:`PackedAdam` (``optim.py``); schedules in ``schedule.py``.
- Packed losses and miners (``losses.py``, ``mining.py``): one value per member.
"""

from .losses import (
    PackedContrastiveLoss,
    PackedCrossEntropy,
    PackedEmotionTripletLoss,
    PackedLoss,
    PackedTripletLoss,
    PackedWeightedSum,
)
from .mining import PackedHardMiner, PackedMiner, PackedRandomMiner, PackedRandomPoolMiner, PackedSemiHardMiner
from .optim import PackedAdam, PackedOptimizer, PackedSGD
from .recurrent import Recurrent, replace_recurrent
from .schedule import MemberPlateau, MemberStepLR, linear_lrs
from .stack import PackedModel

__all__ = [
    "PackedModel",
    "Recurrent",
    "replace_recurrent",
    "PackedOptimizer",
    "PackedSGD",
    "PackedAdam",
    "linear_lrs",
    "MemberStepLR",
    "MemberPlateau",
    "PackedLoss",
    "PackedCrossEntropy",
    "PackedTripletLoss",
    "PackedEmotionTripletLoss",
    "PackedContrastiveLoss",
    "PackedWeightedSum",
    "PackedMiner",
    "PackedRandomMiner",
    "PackedRandomPoolMiner",
    "PackedHardMiner",
    "PackedSemiHardMiner",
]
