r"""Instance-wise linearization of piecewise-linear networks: :math:`F(x) = W_x x + b_x` exactly.

For a piecewise-linear activation :math:`\phi(h) = d \odot h + c` on the linear piece containing h
(hard-tanh: :math:`d = 1, c = 0` inside (-1, 1), :math:`d = 0, c = \pm 1` when saturated; ReLU:
:math:`d \in \{0, 1\}, c = 0`; leaky ReLU: :math:`d \in \{s, 1\}, c = 0`; linear: :math:`d = 1, c = 0`),
every layer is affine on the activation region of x, so with :math:`D^l = \mathrm{diag}(d^l)`

.. math::
    W_x = D^l W^l \cdots D^1 W^1 = J(x), \qquad
    \beta^0 = 0,\quad \beta^l = D^l (W^l \beta^{l-1} + b^l) + c^l,\quad b_x = \beta^l,

and :math:`F(x) = W_x x + b_x` holds to round-off for every x of the region. :math:`b_x` is built by
propagating the biases and the saturation offsets through the active pattern, *not* as
:math:`F(x) - W_x x`, so comparing :math:`W_x x + b_x` with the forward pass is a real check.

Works for :class:`~rmt_idinit.nn.IdentityMLP` (hidden stack, then the readout),
:class:`~rmt_idinit.nn.interpretable.InterpretableMLP` (class scores :math:`s z^l` of any layer, or
the whole hidden vector) and any ``nn.Sequential`` of ``nn.Linear`` and piecewise-linear activations.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
from torch import nn

from .._core import checks as _checks

__all__ = ["Attribution", "Linearization", "attribution_maps", "linearize", "piecewise_linear_parts"]


class Linearization(NamedTuple):
    """``weight`` :math:`W_x` of shape ``(batch, n_out, n_in)`` and ``bias`` :math:`b_x` ``(batch, n_out)``."""

    weight: torch.Tensor
    bias: torch.Tensor


class Attribution(NamedTuple):
    """``maps[b, k] = W_x[b, k] * x[b]`` (image-shaped when known) and ``bias`` :math:`b_x` ``(batch, n_out)``.

    ``maps[b, k].sum() + bias[b, k]`` is output k of sample b.
    """

    maps: torch.Tensor
    bias: torch.Tensor


def piecewise_linear_parts(act: nn.Module, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Slope d and offset c of the linear piece of ``act`` at h: :math:`\phi(h) = d \odot h + c`.

    Conventions at the kinks follow torch's autograd (hard-tanh d = 0 at :math:`|h| = 1`, ReLU d = 0
    at 0), where both pieces give the same value anyway.

    Raises
    ------
    ValueError
        If ``act`` is not one of the piecewise-linear activations (the message names it).

    Examples
    --------
    >>> import torch
    >>> d, c = piecewise_linear_parts(nn.Hardtanh(), torch.tensor([-2.0, 0.5, 3.0]))
    >>> d.tolist(), c.tolist()
    ([0.0, 1.0, 0.0], [-1.0, 0.0, 1.0])
    """
    if isinstance(act, nn.Hardtanh):  # also nn.ReLU6 (min 0, max 6)
        lo, hi = float(act.min_val), float(act.max_val)
        inside = (h > lo) & (h < hi)
        d = inside.to(h.dtype)
        c = torch.where(inside, torch.zeros_like(h), torch.where(h <= lo, torch.full_like(h, lo), torch.full_like(h, hi)))
        return d, c
    if isinstance(act, nn.LeakyReLU):
        s = float(act.negative_slope)
        return torch.where(h > 0, torch.ones_like(h), torch.full_like(h, s)), torch.zeros_like(h)
    if isinstance(act, nn.ReLU):
        return (h > 0).to(h.dtype), torch.zeros_like(h)
    if isinstance(act, nn.Identity):
        return torch.ones_like(h), torch.zeros_like(h)
    name = type(act).__name__
    raise ValueError(
        f"linearize needs a piecewise-linear activation (hardtanh, relu, leaky_relu, linear); got {name} "
        f"({act!r}), which is not piecewise linear, so F(x) = W_x x + b_x holds only to first order"
    )


# A network as a list of steps: ("affine", W, b) or ("act", module), plus the output rows kept.
_Step = tuple


def _steps(model: nn.Module, layer: int | None, output: str) -> tuple[list[_Step], slice | None, float, int]:
    """Affine/activation steps up to the requested output, the kept rows, a scale and the input size."""
    from .interpretable import InterpretableMLP

    if layer is not None:
        layer = _checks.check_scalar_int("layer", layer, minimum=1)
    _checks.check_choice("output", output, ("logits", "hidden"))
    if isinstance(model, InterpretableMLP):
        L = model.depth
        l = L if layer is None else int(layer)
        if not 1 <= l <= L:
            raise ValueError(f"layer must lie in 1..{L} (or None for the output), got {layer!r}")
        if output not in ("logits", "hidden"):
            raise ValueError(f"output must be 'logits' or 'hidden' for InterpretableMLP, got {output!r}")
        steps: list[_Step] = []
        for i, lin in enumerate(model.layers[:l]):
            steps.append(("affine", lin.weight, lin.bias))
            last = i == l - 1
            # "preact" read-out: the scores of layer l are taken before its activation
            if not (last and output == "logits" and model.readout == "preact"):
                steps.append(("act", model.act))
        if output == "hidden":
            return steps, None, 1.0, model.n_inputs
        return steps, slice(model.n_inputs, model.width), model.logit_scale, model.n_inputs
    if hasattr(model, "layers") and hasattr(model, "act") and hasattr(model, "readout"):  # IdentityMLP
        L = len(model.layers)
        l = L if layer is None else int(layer)
        if not 1 <= l <= L:
            raise ValueError(f"layer must lie in 1..{L} (or None for the logits), got {layer!r}")
        steps = []
        for lin in model.layers[:l]:
            steps += [("affine", lin.weight, lin.bias), ("act", model.act)]
        if layer is None and output == "logits":
            steps.append(("affine", model.readout.weight, model.readout.bias))
        elif output == "logits":
            raise ValueError("IdentityMLP has logits only after the last layer: use layer=None, or output='hidden'")
        return steps, None, 1.0, model.layers[0].in_features
    if isinstance(model, nn.Sequential):
        steps = []
        n_lin = 0
        for mod in model:
            if isinstance(mod, nn.Linear):
                if layer is not None and n_lin == int(layer):
                    break
                steps.append(("affine", mod.weight, mod.bias))
                n_lin += 1
            elif isinstance(mod, nn.Flatten) or (isinstance(mod, nn.Dropout) and not model.training):
                continue  # no effect on a flat input / in eval mode
            else:
                piecewise_linear_parts(mod, torch.zeros(1))  # raises a clear error for e.g. Tanh
                steps.append(("act", mod))
        if layer is not None and not 1 <= int(layer) <= n_lin:
            raise ValueError(f"layer must lie in 1..{n_lin} (number of Linear layers), got {layer!r}")
        first = next(s for s in steps if s[0] == "affine")
        return steps, None, 1.0, first[1].shape[1]
    raise TypeError(
        "model must be an IdentityMLP, an InterpretableMLP or an nn.Sequential of Linear and piecewise-linear "
        f"activations; got {type(model).__name__}"
    )


def _is_elementwise(mod: nn.Module) -> bool:
    from .activations import Erf

    return isinstance(mod, Erf) or type(mod).__module__ == "torch.nn.modules.activation"


def _use_graph(model: nn.Module) -> bool:
    """MLPs (IdentityMLP, InterpretableMLP, Sequential of Linear and activations) take the layer-wise path;
    every other network is traced with torch.fx."""
    from .conv import IdentityCNN, InterpretableCNN
    from .interpretable import InterpretableMLP
    from .models import IdentityMLP

    if isinstance(model, (IdentityCNN, InterpretableCNN)):
        return True
    if isinstance(model, (IdentityMLP, InterpretableMLP)):
        return False
    if isinstance(model, nn.Sequential):
        return not all(isinstance(m, (nn.Linear, nn.Flatten, nn.Dropout)) or _is_elementwise(m) for m in model)
    if not isinstance(model, nn.Module) or type(model).__module__.startswith("torch.nn.modules"):
        return False  # a single built-in layer is not a network: refused as before (TypeError)
    return not (hasattr(model, "layers") and hasattr(model, "act") and hasattr(model, "readout"))


def linearize(
    model: nn.Module,
    x: torch.Tensor,
    layer: int | None = None,
    *,
    output: str = "logits",
    chunk_size: int | None = 64,
    dtype: torch.dtype | None = torch.float64,
    mode: str = "auto",
) -> Linearization:
    r"""Exact affine map :math:`F(x) = W_x x + b_x` of the activation region containing each x.

    Parameters
    ----------
    model : torch.nn.Module
        An MLP (IdentityMLP, InterpretableMLP, ``nn.Sequential`` of Linear and activations), or any
        network that torch.fx can trace built from Conv1d/2d/3d, Linear, ReLU, LeakyReLU, Hardtanh,
        Identity, Max/AvgPool (adaptive too), eval-mode BatchNorm, Flatten, eval-mode Dropout,
        padding, reshapes, slices, means and sums of tensors (residual connections), e.g.
        :class:`~rmt_idinit.nn.IdentityCNN` or :class:`~rmt_idinit.nn.InterpretableCNN`. Such a
        network is evaluated in ``dtype`` (on a copy when its parameters have another dtype); its
        activation pattern (active units, max-pool winners) is recorded from one forward pass, the
        offsets :math:`b_x` are propagated through that pattern, and :math:`W_x` is the Jacobian of
        the frozen linear map (see :mod:`rmt_idinit.nn.graph_linearize`). For inputs too large for a
        dense :math:`W_x` use :func:`~rmt_idinit.nn.linearize_operator`.
    x : torch.Tensor
        Inputs ``(batch, N)`` (or ``(N,)``, or image-shaped ``(batch, *image_shape)``); for traced
        networks, ``(batch, *input_shape)`` as the model takes it.
    layer : int, optional
        F = the map up to layer l (1-based): :math:`x^l = \phi(h^l)`; for an ``nn.Sequential``,
        everything before its (l+1)-th ``Linear``. ``None``: the whole network.
    output : {"logits", "hidden"}
        ``"logits"``: class scores (IdentityMLP: readout of the last layer; InterpretableMLP: the
        scores :math:`s z^l` of layer l, as in :func:`~rmt_idinit.nn.interpretable.layer_scores`).
        ``"hidden"``: the whole hidden vector :math:`x^l` (for InterpretableMLP of width N+C).
    chunk_size : int, optional
        Samples processed at once; memory ~ ``chunk * (L * width + n_out * width)`` numbers.
    dtype : torch.dtype, optional
        Computation dtype (default float64; ``None`` keeps ``x.dtype``).
    mode : {"auto", "reverse", "forward"}
        Accumulate :math:`W_x` from the output side (cost ~ ``n_out * width^2`` per layer, best for
        a few class scores) or the input side (``width^3``); ``"auto"`` picks the cheaper.

    Returns
    -------
    Linearization
        ``weight`` ``(batch, n_out, N)`` and ``bias`` ``(batch, n_out)``. For InterpretableMLP the
        input is x itself (the C zero pads contribute nothing, so their columns are dropped).

    Raises
    ------
    ValueError
        For an activation or module that is not piecewise linear (e.g. tanh, GELU, softmax,
        train-mode batch norm), naming it.

    Examples
    --------
    >>> import torch
    >>> net = nn.Sequential(nn.Linear(3, 4), nn.Hardtanh(), nn.Linear(4, 2)).double()
    >>> x = torch.randn(5, 3, dtype=torch.float64)
    >>> lin = linearize(net, x)
    >>> torch.allclose(torch.einsum("bkn,bn->bk", lin.weight, x) + lin.bias, net(x))
    True
    """
    _checks.check_choice("mode", mode, ("auto", "reverse", "forward"))
    if _use_graph(model):
        if layer is not None or output != "logits":
            raise ValueError(
                f"layer and output='hidden' are options of the MLPs; for {type(model).__name__} linearize the "
                "sub-network you need (layer must be None and output 'logits', got "
                f"layer={layer!r}, output={output!r})"
            )
        from .conv import IdentityCNN, InterpretableCNN
        from .graph_linearize import dense_linearization

        if isinstance(model, (IdentityCNN, InterpretableCNN)) and isinstance(x, torch.Tensor):
            x = model.pad(x)[:, : model.in_channels]  # checks the shape; flat or 1-sample inputs take the image shape
        return Linearization(*dense_linearization(model, x, chunk_size=chunk_size, dtype=dtype, mode=mode))
    steps, rows, scale, n_in = _steps(model, layer, output)
    acts = [s[1] for s in steps if s[0] == "act"]
    for a in acts:
        piecewise_linear_parts(a, torch.zeros(1))
    x = _checks.check_tensor("x", x, features=n_in, flatten=True)
    if chunk_size is not None:
        chunk_size = _checks.check_scalar_int("chunk_size", chunk_size, minimum=1)
    dtype = dtype or x.dtype
    step = chunk_size or max(x.shape[0], 1)
    with torch.no_grad():
        params = [(s[0], s[1].to(dtype), None if s[2] is None else s[2].to(dtype)) if s[0] == "affine" else s
                  for s in steps]
        in_width = next(p[1] for p in params if p[0] == "affine").shape[1]
        ws, bs = [], []
        for start in range(0, x.shape[0], step):
            xc = x[start : start + step].to(dtype)
            w, b = _linearize_chunk(params, xc, in_width, rows, mode)
            ws.append(scale * w[..., :n_in])
            bs.append(scale * b)
    return Linearization(torch.cat(ws), torch.cat(bs))


def _linearize_chunk(params: list, x: torch.Tensor, in_width: int, rows: slice | None, mode: str):
    B = x.shape[0]
    h = torch.nn.functional.pad(x, (0, in_width - x.shape[1]))
    # forward pass: remember every affine matrix with the slopes that follow it
    beta = torch.zeros_like(h)  # the bias path of the region, propagated like the data
    layers: list[tuple[torch.Tensor, torch.Tensor | None]] = []  # (W, d) with d None = no activation
    for p in params:
        if p[0] == "affine":
            _, W, b = p
            h = h @ W.T
            beta = beta @ W.T
            if b is not None:
                h = h + b
                beta = beta + b
            layers.append((W, None))
        else:
            d, c = piecewise_linear_parts(p[1], h)
            h = d * h + c
            beta = d * beta + c
            W, prev = layers[-1] if layers else (None, None)
            if W is None:  # an activation before any Linear acts on the input directly
                layers.append((torch.eye(in_width, dtype=h.dtype, device=h.device), d))
            else:
                layers[-1] = (W, d if prev is None else prev * d)
    n_out = h.shape[1] if rows is None else len(range(*rows.indices(h.shape[1])))
    width = max(W.shape[0] for W, _ in layers)
    if mode == "auto":
        mode = "reverse" if n_out < width else "forward"
    if mode == "reverse":
        W_last = layers[-1][0]
        R = torch.eye(W_last.shape[0], dtype=h.dtype, device=h.device)
        R = (R if rows is None else R[rows]).expand(B, -1, -1)
        for W, d in reversed(layers):
            if d is not None:
                R = R * d.unsqueeze(1)
            R = torch.matmul(R, W)
    else:
        J = None
        for W, d in layers:
            J = W.expand(B, -1, -1) if J is None else torch.matmul(W, J)
            if d is not None:
                J = d.unsqueeze(-1) * J
        R = J if rows is None else J[:, rows]
    bias = beta if rows is None else beta[:, rows]
    return R, bias


def attribution_maps(
    model: nn.Module,
    x: torch.Tensor,
    layer: int | None = None,
    *,
    classes: Sequence[int] | torch.Tensor | None = None,
    chunk_size: int | None = 64,
    dtype: torch.dtype | None = torch.float64,
    image_shape: Sequence[int] | None = None,
) -> Attribution:
    r"""Per-class attribution maps :math:`A_{bk} = W_x[b, k, :] \odot x_b` of the logits of ``layer``.

    :math:`\sum_i A_{bki} + b_x[b, k] = F_k(x_b)`: every input feature's exact share of class score k.

    Parameters
    ----------
    classes : sequence of int or tensor, optional
        All classes (default), a list of classes for every sample, or one class per sample
        (a 1-D tensor of length batch, e.g. the labels or the predictions): then ``maps`` has shape
        ``(batch, 1, ...)``.
    image_shape : sequence of int, optional
        Reshape each map (default ``model.image_shape`` when the model has one).

    Examples
    --------
    >>> import torch
    >>> from rmt_idinit.nn.interpretable import InterpretableMLP
    >>> m = InterpretableMLP(4, 2, depth=2, image_shape=(2, 2)).double()
    >>> att = attribution_maps(m, torch.rand(3, 4, dtype=torch.float64))
    >>> att.maps.shape, att.bias.shape
    (torch.Size([3, 2, 2, 2]), torch.Size([3, 2]))
    """
    lin = linearize(model, x, layer, output="logits", chunk_size=chunk_size, dtype=dtype)
    xf = x.reshape(x.shape[0] if x.dim() > 1 else 1, -1).to(lin.weight.dtype)
    maps = lin.weight * xf.unsqueeze(1)
    bias = lin.bias
    if classes is not None:
        cl = torch.as_tensor(classes, dtype=torch.long)
        if isinstance(classes, torch.Tensor) and cl.dim() == 1 and len(cl) == maps.shape[0]:
            ar = torch.arange(maps.shape[0])
            maps, bias = maps[ar, cl].unsqueeze(1), bias[ar, cl].unsqueeze(1)
        else:
            maps, bias = maps[:, cl], bias[:, cl]
    shape = image_shape if image_shape is not None else getattr(model, "image_shape", None)
    if shape is not None:
        maps = maps.reshape(maps.shape[0], maps.shape[1], *shape)
    return Attribution(maps, bias)

