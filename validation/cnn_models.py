"""Small reference CNNs for the linearization checks: max pooling, residual sums, batch norm."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ResidualCNN", "bn_cnn", "maxpool_cnn", "reference_cnns"]


def maxpool_cnn(side: int = 8, channels: int = 6, n_classes: int = 10) -> nn.Sequential:
    """conv-ReLU-maxpool, conv-Hardtanh-adaptive maxpool, flatten, (eval) dropout, linear."""
    return nn.Sequential(
        nn.Conv2d(1, channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(channels, channels, 3, padding=1), nn.Hardtanh(), nn.AdaptiveMaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.25), nn.Linear(4 * channels, n_classes),
    )


class ResidualCNN(nn.Module):
    """Two residual blocks (one with reflect padding and leaky ReLU), avg pooling, a functional max pool."""

    def __init__(self, channels: int = 4, n_classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, channels, 3, padding=1)
        self.a1 = nn.Conv2d(channels, channels, 3, padding=1, padding_mode="reflect")
        self.a2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.b1 = nn.Conv2d(channels, channels, 1)
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.fc = nn.Linear(4 * channels, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.stem(x))
        h = h + self.a2(F.leaky_relu(self.a1(h), 0.1))
        h = F.relu(h + self.b1(h))
        h = F.max_pool2d(h, 2)
        return self.fc(self.pool(h).view(h.size(0), -1))


def bn_cnn(length: int = 16, channels: int = 4, n_classes: int = 10) -> nn.Sequential:
    """Conv1d with eval-mode batch norm, leaky ReLU, average pooling (plain and adaptive)."""
    return nn.Sequential(
        nn.Conv1d(1, channels, 5, padding=2), nn.BatchNorm1d(channels), nn.LeakyReLU(0.2), nn.AvgPool1d(2),
        nn.Conv1d(channels, channels, 3), nn.BatchNorm1d(channels), nn.ReLU(), nn.AdaptiveAvgPool1d(3),
        nn.Flatten(), nn.Linear(3 * channels, n_classes),
    )


def _randomize_bn(model: nn.Module, g: torch.Generator) -> None:
    # fresh BN layers are the identity map; statistics as after training make the test meaningful
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(0.5 + 1.5 * torch.rand(m.running_var.shape, generator=g))
                m.weight.copy_(torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(torch.randn(m.bias.shape, generator=g))


def reference_cnns(seed: int = 0, side: int = 8) -> dict[str, tuple[nn.Module, tuple[int, ...]]]:
    """``{name: (model in float64 eval mode, input shape of one sample)}``."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    out = {"maxpool": (maxpool_cnn(side), (1, side, side)), "residual": (ResidualCNN(), (1, side, side)),
           "batchnorm": (bn_cnn(2 * side), (1, 2 * side))}
    for m, _ in out.values():
        _randomize_bn(m, g)
        m.double().eval()
    return out
