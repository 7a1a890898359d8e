"""Liu & Wang: the CNN-LSTM of their Table 1 (registered as ``liu-cnn-lstm``).

Input: MFCC segments ``(B, T, F)`` (F = 26 coefficients, T = 200 frames for 2 s), or the flat
``(B, T * F)`` the registry's generic code uses. The map is seen as a one-channel image
``(B, 1, F, T)``:

- Conv1..3: 3x3, padding 1, channels 1 -> 8 -> 16 -> 32, each followed by BatchNorm (+ ReLU,
  our choice: the paper names only the batch norm);
- Conv4: kernel ``(F, 1)`` without padding, 32 -> 32: one convolution over the whole frequency
  axis, leaving a sequence ``(B, T, 32)``;
- a bidirectional LSTM with 32 cells per direction;
- the LSTM outputs averaged over time (the paper does not say how the sequence reaches the FC
  layer; the other reading, the last step's output, is ``pool="last"``) = the embedding the
  triplet loss sees;
- one FC layer to the classes (the softmax is in the loss).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from .base import ModelOutput, SerModel
from .registry import register_model


class LiuCnnLstm(SerModel):
    def __init__(
        self,
        num_classes: int,
        input_dim: int = 390,
        n_coeffs: int = 26,
        channels: Sequence[int] = (8, 16, 32),
        freq_channels: int = 32,
        lstm_hidden: int = 32,
        pool: str = "mean",
    ) -> None:
        super().__init__(num_classes, input_dim, n_coeffs, embedding_dim=2 * lstm_hidden)
        if pool not in ("mean", "last"):
            raise ValueError(f"pool must be 'mean' or 'last', got {pool!r}")
        self.pool = pool
        layers: list[nn.Module] = []
        c_in = 1
        for c_out in channels:
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()]
            c_in = c_out
        # Conv4 spans all n_coeffs frequency rows at once (Table 1: kernel (26, 1), no padding).
        layers += [nn.Conv2d(c_in, freq_channels, (n_coeffs, 1)), nn.BatchNorm2d(freq_channels), nn.ReLU()]
        self.cnn = nn.Sequential(*layers)
        self.lstm = nn.LSTM(freq_channels, lstm_hidden, batch_first=True, bidirectional=True)
        self.feature_dim = 2 * lstm_hidden
        self.classifier = nn.Linear(self.feature_dim, num_classes)

    def forward_features(self, x: Tensor) -> Tensor:
        x = x.reshape(x.shape[0], -1, self.n_coeffs)  # (B, T, F)
        maps = self.cnn(x.transpose(1, 2).unsqueeze(1))  # (B, C, 1, T)
        seq, _ = self.lstm(maps.squeeze(2).transpose(1, 2))  # (B, T, 2H)
        return seq.mean(dim=1) if self.pool == "mean" else seq[:, -1]

    def forward(self, x: Tensor) -> ModelOutput:
        emb = self.forward_features(x)
        return ModelOutput(embedding=emb, logits=self.classifier(emb), features=emb)


@register_model("liu-cnn-lstm")
def liu_cnn_lstm(num_classes: int, input_dim: int = 390, **overrides: object) -> LiuCnnLstm:
    return LiuCnnLstm(num_classes=num_classes, input_dim=input_dim, **overrides)  # type: ignore[arg-type]


__all__ = ["LiuCnnLstm"]
