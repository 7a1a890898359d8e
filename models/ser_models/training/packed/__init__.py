"""Packed trainers: the four recipes of ``ser_models.training`` for a pack of M members that
share architecture, feature shapes, batch size and epoch budget and differ in fold, seed or a
loss/optimizer scalar, trained as one stacked model (``ser_models.packed``).

Contract (each ``train_<recipe>_packed``)
-----------------------------------------
- ``models``: M models of one class and configuration, built and seeded by the caller as for the
  unpacked trainer; they are trained in place (each ends holding its member's final weights).
  ``data[m]``, ``settings[m]`` (the unpacked settings dataclass) and the recipe's extra
  per-member inputs are lists with one entry per member. Only the fields each module lists in
  ``PER_MEMBER`` may differ between members; any other difference raises ValueError.
- Member m's random streams are created and consumed exactly as its unpacked run's, so its
  batch order, mined triplets, crops and pairs are those of the unpacked run.
- ``on_epoch(infos, state_fn)`` once per pack epoch (one epoch of every member still
  training): ``infos = {m: history entry}`` for each member that completed that epoch, each
  entry exactly the unpacked trainer's ``epoch_info`` (a member that failed this epoch has
  none; ``infos`` may then be empty). ``state_fn()`` is one checkpoint of the whole pack
  (``torch.load(weights_only=True)`` reads it): ``{"recipe", "members": [each member's state,
  in its unpacked trainer's ``state_fn()`` layout], "status": [training|done|failed],
  "errors": [reason or None]}``; ``resume_state`` continues it exactly.
- Early stopping per member: a stopped or finished member is frozen (state copied out, the pack
  re-stacked without it); the pack ends when no member is training.
- A member whose loss becomes NaN/inf is frozen and recorded as failed (``MemberResult.error``,
  the ``NonFiniteLoss`` its unpacked run would raise); the others go on. Nothing is raised.
- Returns one :class:`MemberResult` per member, in order.
"""

from . import kumar, lian, liu, mocanu
from .common import MemberResult, PackedOnEpoch
from .kumar import train_kumar_packed
from .lian import train_lian_packed
from .liu import train_liu_packed
from .losses import pack_losses
from .mocanu import train_mocanu_packed

# Per recipe, the settings fields that may differ between the members of a pack (the others
# must be equal; Mocanu's losses may also differ in their scalars, see ``pack_losses``).
PER_MEMBER: dict[str, frozenset[str]] = {m.RECIPE: m.PER_MEMBER for m in (kumar, mocanu, liu, lian)}

__all__ = ["PER_MEMBER", "MemberResult", "PackedOnEpoch", "pack_losses", "train_kumar_packed", "train_lian_packed",
           "train_liu_packed", "train_mocanu_packed"]
