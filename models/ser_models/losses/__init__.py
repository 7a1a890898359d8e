"""Composable losses: every loss is ``loss(output: ModelOutput, y) -> scalar tensor``."""

from .base import Loss
from .contrastive import ContrastiveLoss
from .cross_entropy import CrossEntropy
from .emotion_triplet import MIKELS_WHEEL, POLARITY_MAPS, EmotionTripletLoss, PolarityMapError
from .distances import paired_distance, pairwise_distance
from .mining import (
    HardTripletMiner,
    RandomTripletMiner,
    SemiHardTripletMiner,
    TripletMiner,
    make_miner,
)
from .pool_mining import RandomPoolMiner
from .triplet import TripletLoss
from .weighted_sum import WeightedSum

__all__ = [
    "Loss",
    "CrossEntropy",
    "TripletLoss",
    "EmotionTripletLoss",
    "PolarityMapError",
    "MIKELS_WHEEL",
    "POLARITY_MAPS",
    "WeightedSum",
    "TripletMiner",
    "RandomTripletMiner",
    "SemiHardTripletMiner",
    "HardTripletMiner",
    "make_miner",
    "ContrastiveLoss",
    "RandomPoolMiner",
    "paired_distance",
    "pairwise_distance",
]
