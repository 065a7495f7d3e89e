r"""Identity (Dirac) initialized convolutional networks: a plain stack and the N+C interpretable form.

A stride-1 convolution with odd kernel k, same padding (k-1)/2 and the Dirac kernel
:math:`W[c, c, k_c] = \sigma` maps every (channel, position) coordinate to :math:`\sigma` times itself,
whatever the padding mode (only the centre tap is non-zero, so the padded border is never read). With
an elementwise activation the input-output Jacobian of L such layers is diagonal over
(channel, position), :math:`J = \mathrm{diag}(g_L(u_i))`, and the eigenvalues of :math:`J J^T` are
:math:`g_L(u_i)^2` over every coordinate of the input tensor: the MLP theory
(:func:`rmt_idinit.jjt_eigenvalues`, :func:`rmt_idinit.jjt_law`) applies unchanged, coordinate by
coordinate. Once training moves the off-centre taps, border coordinates see the padding and the
padding modes differ (zeros, reflect, replicate, circular); strides, pooling and channel changes leave
the diagonal class altogether.

- :class:`IdentityCNN`: the input's channels are padded with zero channels up to ``channels``, then
  ``depth`` Dirac-initialized conv layers, then a linear readout of the flattened (or globally
  average-pooled) last layer.
- :class:`InterpretableCNN`: the N+C design of :class:`~rmt_idinit.nn.interpretable.InterpretableMLP`
  for images. The input gets C extra zero channels, one class map per class; every layer is a square
  Dirac-initialized convolution of width ``in_channels + C``; the class scores of layer l are the
  spatial means of its C class maps, read before the activation (``readout="preact"``) or after it
  (``"units"``). The first ``in_channels`` channels of every layer stay image-shaped (contribution
  maps), so :func:`~rmt_idinit.nn.interpretable.layer_scores`, ``class_likelihoods``,
  ``contribution_maps``, ``interpretable_loss`` and ``layer_accuracy`` accept it as they accept the MLP.
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._core import checks as _checks
from .activations import make_activation
from .init import identity_

__all__ = ["IdentityCNN", "InterpretableCNN", "conv_features"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _count(name: str, value: Any) -> int:
    return _checks.check_scalar_int(name, value, minimum=1)


def _pos(name: str, value: Any) -> float:
    return _checks.check_scalar(name, value, _checks.check_positive)


def _tracing() -> bool:
    """True while torch.fx traces the model (input checks cannot branch on proxies then)."""
    try:
        from torch.fx._symbolic_trace import is_fx_symbolic_tracing as probe
    except ImportError:  # pragma: no cover - other torch versions
        try:
            from torch.fx._symbolic_trace import is_fx_tracing as probe
        except ImportError:
            return False
    return bool(probe())


def _spatial(image_shape: Sequence[int]) -> tuple[int, ...]:
    try:
        shape = tuple(int(s) for s in image_shape)
    except TypeError:
        raise ValueError(f"image_shape must be a sequence of 1 to 3 positive integers, got {image_shape!r}") from None
    if not 1 <= len(shape) <= 3 or any(s < 1 for s in shape):
        raise ValueError(f"image_shape must be a sequence of 1 to 3 positive integers, got {image_shape!r}")
    return shape


def _dirac_stack(width: int, depth: int, dim: int, kernel_size: int, bias: bool, padding_mode: str) -> nn.ModuleList:
    k = _count("kernel_size", kernel_size)
    if k % 2 == 0:
        raise ValueError(f"kernel_size must be odd (the Dirac kernel needs a centre tap), got {k}")
    _checks.check_choice("padding_mode", padding_mode, _PADDING_MODES)
    conv = (nn.Conv1d, nn.Conv2d, nn.Conv3d)[dim - 1]
    return nn.ModuleList(conv(width, width, k, padding=k // 2, bias=bias, padding_mode=padding_mode)
                         for _ in range(depth))


class _DiracBase(nn.Module):
    """Shared parts: channel padding, input checks, the Dirac reset."""

    def _setup(self, in_channels, width, depth, image_shape, kernel_size, activation, sigma, bias, padding_mode,
               activation_params) -> None:
        self.in_channels = _count("in_channels", in_channels)
        self.depth = _count("depth", depth)
        self.spatial_shape = _spatial(image_shape)
        self.sigma = _pos("sigma", sigma)
        self.kernel_size = _count("kernel_size", kernel_size)
        self.padding_mode = _checks.check_choice("padding_mode", padding_mode, _PADDING_MODES)
        # float32 weights (width^2 * k^d + width per layer) and ~2 KB of module per layer
        taps = self.kernel_size ** len(self.spatial_shape)
        _checks.check_memory((4.0 * (width * width * taps + width) + 2048) * self.depth,
                             f"depth={self.depth} conv layers of {width} channels, kernel {self.kernel_size}")
        self.activation_name = activation if isinstance(activation, str) else type(activation).__name__
        self.act = make_activation(activation, **activation_params)
        self.width = width
        self.layers = _dirac_stack(width, self.depth, len(self.spatial_shape), self.kernel_size, bias,
                                   self.padding_mode)

    def reset_parameters(self) -> None:
        """Every conv layer back to :math:`\\sigma\\,\\delta` (Dirac kernel), bias 0."""
        with torch.no_grad():
            for conv in self.layers:
                identity_(conv.weight, self.sigma)
                if conv.bias is not None:
                    conv.bias.zero_()

    def pad(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, in_channels, *image)`` (or flattened ``(batch, in_channels * prod(image))``) with
        zero channels appended up to the layer width."""
        if not _tracing():
            if not isinstance(x, torch.Tensor):
                raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
            want = (self.in_channels, *self.spatial_shape)
            if x.dim() >= 1 and x[0].numel() == int(np.prod(want)) and tuple(x.shape[1:]) != want:
                x = x.reshape(x.shape[0], *want)
            if tuple(x.shape[1:]) != want:
                raise ValueError(f"x must have shape (batch, {', '.join(map(str, want))}), got {tuple(x.shape)}")
        n_extra = self.width - self.in_channels
        if n_extra == 0:
            return x
        # F.pad's pairs run from the last axis backwards: no spatial padding, n_extra channels after
        return F.pad(x, (0, 0) * len(self.spatial_shape) + (0, n_extra))


class IdentityCNN(_DiracBase):
    r"""``depth`` Dirac-initialized same-padding conv layers :math:`x^l = \phi(W^l * x^{l-1} + b^l)` and a readout.

    Parameters
    ----------
    in_channels : int
        Channels of the input image (1 for Fashion-MNIST).
    channels : int
        Width of every conv layer (>= ``in_channels``); the input is padded with zero channels.
    depth : int
        Number L of conv layers.
    image_shape : sequence of int
        Spatial shape of one input, 1 to 3 axes (selects Conv1d/2d/3d).
    kernel_size : int
        Odd kernel size k; padding (k-1)/2, stride 1.
    activation : str or torch.nn.Module
        Elementwise activation (see :data:`rmt_idinit.nn.ACTIVATIONS`).
    sigma : float
        Dirac scale at init.
    bias : bool
        Conv biases (initialized to 0).
    padding_mode : {"zeros", "reflect", "replicate", "circular"}
    n_classes : int
        Outputs of the readout ``Linear`` (PyTorch default init).
    readout : {"flatten", "gap"}
        The readout sees the flattened last layer (``channels * prod(image_shape)`` features) or its
        global average over positions (``channels`` features).
    generator : torch.Generator, optional
        Source of the readout's initial weights.
    **activation_params
        Passed to the activation.

    Examples
    --------
    >>> import torch
    >>> m = IdentityCNN(1, 2, depth=3, image_shape=(4, 4)).double()
    >>> x = torch.rand(2, 1, 4, 4, dtype=torch.float64) * 0.5
    >>> torch.equal(m.hidden(x)[:, :1], x)    # hard-tanh, sigma = 1: the identity on (-1, 1)
    True
    >>> m(x).shape
    torch.Size([2, 10])
    """

    def __init__(
        self,
        in_channels: int,
        channels: int,
        depth: int,
        image_shape: Sequence[int],
        kernel_size: int = 3,
        activation: str | nn.Module = "hardtanh",
        sigma: float = 1.0,
        bias: bool = True,
        padding_mode: str = "zeros",
        n_classes: int = 10,
        readout: str = "flatten",
        generator: torch.Generator | None = None,
        **activation_params: Any,
    ) -> None:
        super().__init__()
        width = _count("channels", channels)
        if width < _count("in_channels", in_channels):
            raise ValueError(f"channels must be >= in_channels={in_channels}, got {channels}")
        self._setup(in_channels, width, depth, image_shape, kernel_size, activation, sigma, bias, padding_mode,
                    activation_params)
        _checks.check_choice("readout", readout, ("flatten", "gap"))
        self.readout_kind = readout
        self.n_features = width * (int(np.prod(self.spatial_shape)) if readout == "flatten" else 1)
        self.readout = nn.Linear(self.n_features, _count("n_classes", n_classes))
        self.reset_parameters()
        if generator is not None:
            with torch.no_grad():
                bound = 1 / math.sqrt(self.n_features)
                self.readout.weight.uniform_(-bound, bound, generator=generator)
                self.readout.bias.uniform_(-bound, bound, generator=generator)

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """The last conv layer :math:`x^L`, shape ``(batch, channels, *image_shape)``."""
        h = self.pad(x)
        for conv in self.layers:
            h = self.act(conv(h))
        return h

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The readout's input: :math:`x^L` flattened, or its mean over positions (``readout="gap"``)."""
        h = self.hidden(x)
        if self.readout_kind == "gap":
            return h.flatten(2).mean(2)
        return h.flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.features(x))

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, channels={self.width}, depth={self.depth}, "
                f"image_shape={self.spatial_shape}, activation={self.activation_name!r}, sigma={self.sigma}, "
                f"padding_mode={self.padding_mode!r}, readout={self.readout_kind!r}")


class InterpretableCNN(_DiracBase):
    r"""Width ``in_channels + C`` Dirac-initialized CNN whose every layer carries the image and C class maps.

    .. math::
        x^0 = (x, 0_C),\quad h^l = W^l * x^{l-1} + b^l,\quad x^l = \phi(h^l),\quad
        z^l_k = \operatorname{mean}_{p}\, h^l_{N+k}(p)\ (\text{or of } x^l),\quad
        \text{logits} = s\, z^L,

    with N = ``in_channels`` and p over positions. At init every class map is 0, so the scores are 0.

    Parameters
    ----------
    in_channels : int
        N, image channels (``n_inputs`` holds the same number, as in the MLP).
    n_classes : int
        C, number of classes (extra channels).
    depth : int
        L, number of square conv layers.
    image_shape : sequence of int
        Spatial shape (1 to 3 axes).
    kernel_size, activation, sigma, bias, padding_mode
        As in :class:`IdentityCNN`.
    readout : {"preact", "units"}
        Class scores from the maps before (default) or after the activation.
    logit_scale : float
        Fixed factor s > 0 on the scores.

    Examples
    --------
    >>> import torch
    >>> m = InterpretableCNN(1, 3, depth=2, image_shape=(5, 5)).double()
    >>> x = torch.rand(4, 1, 5, 5, dtype=torch.float64)
    >>> m(x).abs().max().item()          # identity init: all class maps are 0
    0.0
    >>> from rmt_idinit.nn import contribution_maps
    >>> contribution_maps(m, x).shape    # (batch, layers, channels, *image)
    torch.Size([4, 2, 1, 5, 5])
    """

    def __init__(
        self,
        in_channels: int,
        n_classes: int,
        depth: int,
        image_shape: Sequence[int],
        kernel_size: int = 3,
        activation: str | nn.Module = "hardtanh",
        sigma: float = 1.0,
        bias: bool = True,
        padding_mode: str = "zeros",
        readout: str = "preact",
        logit_scale: float = 1.0,
        **activation_params: Any,
    ) -> None:
        super().__init__()
        self.n_classes = _count("n_classes", n_classes)
        width = _count("in_channels", in_channels) + self.n_classes
        self._setup(in_channels, width, depth, image_shape, kernel_size, activation, sigma, bias, padding_mode,
                    activation_params)
        _checks.check_choice("readout", readout, ("preact", "units"))
        self.readout = readout
        self.logit_scale = _pos("logit_scale", logit_scale)
        self.n_inputs = self.in_channels  # channel slice [:, :n_inputs] is the image part of every layer
        self.image_shape = (self.in_channels, *self.spatial_shape)
        self.reset_parameters()

    def iter_layers(self, x: torch.Tensor) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
        """Yield ``(x^l, z^l)`` for l = 1..L (memory ~ one layer)."""
        xl = self.pad(x)
        n = self.in_channels
        for conv in self.layers:
            h = conv(xl)
            xl = self.act(h)
            src = h if self.readout == "preact" else xl
            yield xl, src[:, n:].flatten(2).mean(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits :math:`s\\,z^L`, shape ``(batch, C)``."""
        xl = self.pad(x)
        n = self.in_channels
        h = xl
        for conv in self.layers:  # written out (not via iter_layers) so torch.fx can trace it
            h = conv(xl)
            xl = self.act(h)
        src = h if self.readout == "preact" else xl
        return self.logit_scale * src[:, n:].flatten(2).mean(2)

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, n_classes={self.n_classes}, depth={self.depth}, "
                f"image_shape={self.spatial_shape}, activation={self.activation_name!r}, sigma={self.sigma}, "
                f"readout={self.readout!r}, logit_scale={self.logit_scale}")


def conv_features(model: IdentityCNN, x: Any, *, batch_size: int = 500) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Penultimate features f, readout weight W and bias b of an :class:`IdentityCNN`: logits :math:`= f W^T + b`.

    The arrays feed :func:`~rmt_idinit.nn.class_feature_subsets` and friends.

    Examples
    --------
    >>> import torch
    >>> f, w, b = conv_features(IdentityCNN(1, 2, 2, (3, 3)), torch.zeros(5, 1, 3, 3))
    >>> f.shape, w.shape, b.shape
    ((5, 18), (10, 18), (10,))
    """
    if not isinstance(model, IdentityCNN):
        raise TypeError(f"model must be an IdentityCNN, got {type(model).__name__}")
    dt = model.readout.weight.dtype
    with torch.no_grad():
        f = torch.cat([model.features(torch.as_tensor(x[s : s + batch_size]).to(dt))
                       for s in range(0, len(x), _count("batch_size", batch_size))])
    return (f.double().cpu().numpy(), model.readout.weight.detach().double().cpu().numpy(),
            model.readout.bias.detach().double().cpu().numpy())
