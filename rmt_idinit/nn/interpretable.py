r"""The width N+C identity-initialized network of Kubota et al. (ICASSP 2021), readable layer by layer.

The input :math:`x \in \mathbb{R}^N` is padded with C zeros, :math:`x^0 = (x, 0_C)`, and every
hidden layer is square of width N+C,

.. math::
    h^l = W^l x^{l-1} + b^l, \qquad x^l = \phi(h^l), \qquad W^l_{\text{init}} = \sigma I,\ b^l_{\text{init}} = 0.

The first N coordinates of every layer stay in input space (image-shaped), the last C are the class
scores of that layer:

- contribution map of layer l: :math:`x^l_{1:N} - x` (``kind="delta"``) or :math:`x^l_{1:N}` (``"raw"``);
- class scores :math:`z^l` (see ``readout``), class likelihood :math:`\mathrm{softmax}(z^l)`,
  recognition accuracy of layer l: :math:`\Pr[\arg\max z^l = y]`;
- output logits: ``logit_scale * z^L``.

Choices of this implementation (the paper's exact ones are not public; every alternative is an option):

- ``readout="preact"`` (default): :math:`z^l = h^l_{N+1:N+C}`, the last C units *before* the
  activation. With hard-tanh the post-activation units are clipped to [-1, 1]: several classes can
  saturate at +1 (argmax ties) and softmax of 10 scores in [-1, 1] never exceeds
  :math:`e/(e + 9/e) \approx 0.45`. ``readout="units"``: :math:`z^l = x^l_{N+1:N+C}` literally.
  Either way the units that feed layer l+1 are the activated :math:`x^l`; only the read-out differs.
- Loss: cross-entropy on :math:`z^L` only (``supervision="last"``, default of
  :func:`interpretable_loss`), or deep supervision, a weighted mean of the cross-entropies of every
  layer's :math:`z^l` (``supervision="deep"``).
- Layer 0 (the padded input) has :math:`z^0 = 0`: chance accuracy; it is reported only on request.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._core import checks as _checks
from .activations import make_activation
from .init import identity_

__all__ = [
    "InterpretableMLP",
    "class_likelihoods",
    "contribution_maps",
    "interpretable_loss",
    "layer_accuracy",
    "layer_scores",
]

_READOUTS = ("preact", "units")


def _count(name: str, value: Any) -> int:
    return _checks.check_scalar_int(name, value, minimum=1)


def _pos(name: str, value: Any) -> float:
    return _checks.check_scalar(name, value, _checks.check_positive)


class InterpretableMLP(nn.Module):
    r"""Width N+C identity-initialized MLP whose every layer carries an image and C class scores.

    .. math::
        x^0 = (x, 0_C),\quad x^l = \phi(W^l x^{l-1} + b^l),\quad
        z^l = h^l_{N+1:N+C}\ (\text{or } x^l_{N+1:N+C}),\quad \text{logits} = s\,z^L.

    Parameters
    ----------
    n_inputs : int
        N, the number of input features (784 for Fashion-MNIST).
    n_classes : int
        C, the number of classes.
    depth : int
        L, the number of (N+C)x(N+C) layers.
    activation : str or torch.nn.Module
        Elementwise activation (name from :data:`rmt_idinit.nn.ACTIVATIONS` or a module).
    sigma : float
        Identity scale of the init, :math:`W^l = \sigma I`.
    bias : bool
        Whether the layers have biases (initialized to 0).
    readout : {"preact", "units"}
        Where the class scores are read: pre-activation (default, unbounded) or post-activation
        (literally the last C units, clipped to [-1, 1] by hard-tanh). See the module docstring.
    logit_scale : float
        Fixed factor s > 0 on :math:`z^L` (and on every :math:`z^l` in the likelihoods and losses).
    image_shape : tuple of int, optional
        Shape of one input (e.g. ``(28, 28)``) used to reshape contribution maps; default ``(N,)``.
    **activation_params
        Passed to the activation, e.g. ``negative_slope=0.1``.

    Examples
    --------
    >>> import torch
    >>> m = InterpretableMLP(4, 2, depth=3).double()
    >>> x = torch.tensor([[0.1, -0.2, 0.3, 0.5]], dtype=torch.float64)
    >>> m(x).detach()            # identity init: scores are all 0
    tensor([[0., 0.]], dtype=torch.float64)
    >>> contribution_maps(m, x, kind="raw")[0, -1]   # layer L still holds the (clipped) input
    tensor([ 0.1000, -0.2000,  0.3000,  0.5000], dtype=torch.float64)
    """

    def __init__(
        self,
        n_inputs: int,
        n_classes: int,
        depth: int,
        activation: str | nn.Module = "hardtanh",
        sigma: float = 1.0,
        bias: bool = True,
        readout: str = "preact",
        logit_scale: float = 1.0,
        image_shape: Sequence[int] | None = None,
        **activation_params: Any,
    ) -> None:
        super().__init__()
        self.n_inputs = _count("n_inputs", n_inputs)
        self.n_classes = _count("n_classes", n_classes)
        self.depth = _count("depth", depth)
        self.width = self.n_inputs + self.n_classes
        # float32 weights and biases plus ~2 KB of module per layer: refuse what cannot fit
        _checks.check_memory((4.0 * (self.width * self.width + self.width) + 2048) * self.depth,
                             f"InterpretableMLP(n_inputs={self.n_inputs}, n_classes={self.n_classes}, "
                             f"depth={self.depth})")
        self.sigma = _pos("sigma", sigma)
        self.logit_scale = _pos("logit_scale", logit_scale)
        self.readout = _checks.check_choice("readout", readout, _READOUTS)
        shape = (self.n_inputs,) if image_shape is None else tuple(int(s) for s in image_shape)
        if int(np.prod(shape)) != self.n_inputs:
            raise ValueError(f"image_shape {shape} does not hold n_inputs={self.n_inputs} values")
        self.image_shape = shape
        self.activation_name = activation if isinstance(activation, str) else type(activation).__name__
        self.activation_params = dict(activation_params)
        self.act = make_activation(activation, **activation_params)
        self.layers = nn.ModuleList(nn.Linear(self.width, self.width, bias=bias) for _ in range(self.depth))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every layer back to :math:`W = \\sigma I`, :math:`b = 0`."""
        with torch.no_grad():
            for lin in self.layers:
                identity_(lin.weight, self.sigma)
                if lin.bias is not None:
                    lin.bias.zero_()

    def pad(self, x: torch.Tensor) -> torch.Tensor:
        """Flatten to ``(batch, N)`` and append C zeros: :math:`x^0 = (x, 0_C)`."""
        x = _checks.check_tensor("x", x, features=self.n_inputs, flatten=True)
        return F.pad(x, (0, self.n_classes))

    def _score(self, h: torch.Tensor, xl: torch.Tensor) -> torch.Tensor:
        src = h if self.readout == "preact" else xl
        return src[:, self.n_inputs :]

    def iter_layers(self, x: torch.Tensor) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
        """Yield ``(x^l, z^l)`` for l = 1..L without storing every layer (memory ~ one layer)."""
        xl = self.pad(x)
        for lin in self.layers:
            h = lin(xl)
            xl = self.act(h)
            yield xl, self._score(h, xl)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits :math:`s\\,z^L`, shape ``(batch, C)``."""
        z = None
        for _, z in self.iter_layers(x):
            pass
        return self.logit_scale * z

    def extra_repr(self) -> str:
        return (
            f"n_inputs={self.n_inputs}, n_classes={self.n_classes}, depth={self.depth}, "
            f"activation={self.activation_name!r}, sigma={self.sigma}, readout={self.readout!r}, "
            f"logit_scale={self.logit_scale}"
        )


def _check_model(model: Any) -> InterpretableMLP:
    from .conv import InterpretableCNN  # the N+C convolutional form has the same layer interface

    if not isinstance(model, (InterpretableMLP, InterpretableCNN)):
        raise TypeError(f"model must be an InterpretableMLP or InterpretableCNN, got {type(model).__name__}")
    return model


def _layer_list(model: InterpretableMLP, layers: Sequence[int] | None, allow_zero: bool = True) -> list[int]:
    if layers is None:
        return list(range(1, model.depth + 1))
    out = []
    for l in layers:
        l = int(l)
        lo = 0 if allow_zero else 1
        if not lo <= l <= model.depth:
            raise ValueError(f"layers must lie in {lo}..{model.depth}, got {l}")
        out.append(l)
    return out


def layer_scores(
    model: InterpretableMLP, x: torch.Tensor, *, include_input: bool = False, scaled: bool = True
) -> torch.Tensor:
    r"""Class scores of every layer, shape ``(L, batch, C)`` (``(L+1, ...)`` with layer 0).

    Row l-1 is :math:`s\,z^l` (``scaled=True``) or :math:`z^l`; with ``include_input`` row 0 is
    :math:`z^0 = 0`. Gradients flow (use it inside a loss); wrap in ``torch.no_grad()`` to evaluate.

    Examples
    --------
    >>> import torch
    >>> layer_scores(InterpretableMLP(3, 2, depth=4), torch.zeros(5, 3)).shape
    torch.Size([4, 5, 2])
    """
    model = _check_model(model)
    s = model.logit_scale if scaled else 1.0
    zs = [s * z for _, z in model.iter_layers(x)]
    if include_input:
        zs.insert(0, torch.zeros_like(zs[0]))
    return torch.stack(zs)


def class_likelihoods(model: InterpretableMLP, x: torch.Tensor, *, include_input: bool = False) -> torch.Tensor:
    r"""Class likelihood of every layer, :math:`\mathrm{softmax}(s\,z^l)`, shape ``(L, batch, C)``.

    Examples
    --------
    >>> import torch
    >>> class_likelihoods(InterpretableMLP(3, 2, depth=1), torch.zeros(1, 3))
    tensor([[[0.5000, 0.5000]]], grad_fn=<SoftmaxBackward0>)
    """
    return torch.softmax(layer_scores(model, x, include_input=include_input), dim=-1)


def contribution_maps(
    model: InterpretableMLP,
    x: torch.Tensor,
    layers: Sequence[int] | None = None,
    *,
    kind: str = "delta",
    image_shape: bool = True,
) -> torch.Tensor:
    r"""Input-space part of chosen layers: :math:`x^l_{1:N} - x` (``"delta"``) or :math:`x^l_{1:N}` (``"raw"``).

    Parameters
    ----------
    layers : sequence of int, optional
        Layers in 0..L (0 is the input itself); default 1..L.
    kind : {"delta", "raw"}
    image_shape : bool
        Reshape each map to ``model.image_shape``.

    Returns
    -------
    torch.Tensor
        ``(batch, len(layers), *image_shape)``, detached.

    Examples
    --------
    >>> import torch
    >>> m = InterpretableMLP(4, 2, depth=2, image_shape=(2, 2))
    >>> contribution_maps(m, torch.full((1, 4), 3.0)).shape   # hard-tanh clips 3 -> 1
    torch.Size([1, 2, 2, 2])
    >>> float(contribution_maps(m, torch.full((1, 4), 3.0))[0, 0, 0, 0])
    -2.0
    """
    model = _check_model(model)
    _checks.check_choice("kind", kind, ("delta", "raw"))
    want = _layer_list(model, layers)
    n = model.n_inputs
    with torch.no_grad():
        x0 = model.pad(x)[:, :n]
        got: dict[int, torch.Tensor] = {0: x0}
        last = max(want) if want else 0
        for l, (xl, _) in enumerate(model.iter_layers(x), start=1):
            if l > last:
                break
            if l in want:
                got[l] = xl[:, :n]
        maps = torch.stack([got[l] - (x0 if kind == "delta" else 0) for l in want], dim=1)
    if image_shape:
        maps = maps.reshape(maps.shape[0], maps.shape[1], *model.image_shape)
    return maps


def interpretable_loss(
    model: InterpretableMLP,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    supervision: str = "last",
    layer_weights: Sequence[float] | torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Training loss: :math:`\mathrm{CE}(s z^L, y)` or deep supervision :math:`\sum_l w_l \mathrm{CE}(s z^l, y) / \sum_l w_l`.

    Parameters
    ----------
    supervision : {"last", "deep"}
        ``"last"``: cross-entropy of the output only (default). ``"deep"``: every layer's scores are
        pushed to classify, which makes the per-layer accuracy curve rise earlier by construction
        (so it no longer shows where the *last-layer-trained* network decides).
    layer_weights : sequence of float, optional
        :math:`w_l`, l = 1..L, for ``"deep"``; default all 1.

    Examples
    --------
    >>> import torch
    >>> m = InterpretableMLP(3, 2, depth=2)
    >>> round(interpretable_loss(m, torch.zeros(4, 3), torch.tensor([0, 1, 0, 1])).item(), 4)  # log 2
    0.6931
    """
    model = _check_model(model)
    if _checks.check_choice("supervision", supervision, ("last", "deep")) == "last":
        return F.cross_entropy(model(x), y)
    z = layer_scores(model, x)
    ce = torch.stack([F.cross_entropy(zl, y) for zl in z])
    if layer_weights is None:
        return ce.mean()
    w = torch.as_tensor(layer_weights, dtype=ce.dtype, device=ce.device)
    if w.shape != ce.shape or not torch.all(w >= 0) or not float(w.sum()) > 0:
        raise ValueError(f"layer_weights must be {model.depth} non-negative numbers with a positive sum")
    return (w * ce).sum() / w.sum()


def _batches(data: Any, batch_size: int) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
    if isinstance(data, (tuple, list)) and len(data) == 2 and not isinstance(data[0], (tuple, list)):
        x, y = (torch.as_tensor(d) for d in data)
        if len(x) != len(y):
            raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
        for s in range(0, len(y), batch_size):
            yield x[s : s + batch_size], y[s : s + batch_size]
    else:  # a DataLoader or any iterable of (x, y) batches
        for batch in data:
            yield batch[0], batch[1]


def layer_accuracy(
    model: InterpretableMLP,
    data: Any,
    *,
    batch_size: int = 500,
    include_input: bool = False,
    device: str | torch.device | None = None,
    return_counts: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    r"""Recognition accuracy of every layer, :math:`a_l = \frac{1}{n}\sum_i 1[\arg\max_c z^l_{ic} = y_i]`.

    One forward pass per batch gives every layer (memory ~ one layer per batch). The last entry
    equals the accuracy of ``model(x).argmax(1)`` (same scores, same argmax).

    Parameters
    ----------
    data : (x, y) tensors/arrays or iterable of (x, y) batches (e.g. a DataLoader)
    include_input : bool
        Prepend layer 0 (:math:`z^0 = 0`, argmax picks class 0).
    return_counts : bool
        Also return the number of samples.

    Returns
    -------
    numpy.ndarray
        Shape ``(L,)`` (or ``(L+1,)``), accuracies of layers 1..L (0..L).

    Examples
    --------
    >>> import torch
    >>> m = InterpretableMLP(3, 2, depth=2)
    >>> layer_accuracy(m, (torch.zeros(4, 3), torch.tensor([0, 0, 1, 0])))   # ties -> class 0
    array([0.75, 0.75])
    """
    model = _check_model(model)
    _count("batch_size", batch_size)
    dev = device if device is not None else next(model.parameters()).device
    correct = np.zeros(model.depth + int(include_input), dtype=np.int64)
    n = 0
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for xb, yb in _batches(data, batch_size):
                xb = torch.as_tensor(xb).to(dev, dtype=next(model.parameters()).dtype)
                yb = torch.as_tensor(yb).to(dev)
                z = layer_scores(model, xb, include_input=include_input)
                correct += (z.argmax(-1) == yb.unsqueeze(0)).sum(1).cpu().numpy()
                n += len(yb)
    finally:
        model.train(was_training)
    if n == 0:
        raise ValueError("data holds no samples")
    acc = correct / n
    return (acc, np.int64(n)) if return_counts else acc
