r"""Per-sample input-output Jacobians of the hidden stack, their spectra, and linearization.

The fast path multiplies the layer Jacobians :math:`J = D^L W^L \cdots D^1 W^1`,
:math:`D^l = \mathrm{diag}(\phi'(h^l))`, for a chunk of samples at once (one batched matmul per
layer), instead of one backward pass per output coordinate as ``torch.func.jacrev`` does.
"""
from __future__ import annotations

from typing import Iterator

import torch
from torch import nn

from .._core import checks as _checks

__all__ = ["hidden_jacobian", "iter_hidden_jacobians", "jacobian_spectra"]


def _elementwise_derivative(act: nn.Module, h: torch.Tensor) -> torch.Tensor:
    # Autograd of the activation itself gives phi' with exactly torch's conventions at kinks
    # (hard-tanh 0 at |h| = 1, ReLU 0 at 0), so the fast path agrees with jacrev bit for bit there.
    with torch.enable_grad():
        hh = h.detach().requires_grad_(True)
        y = act(hh)
        (d,) = torch.autograd.grad(y, hh, torch.ones_like(y))
    return d


def _check_model(model: nn.Module) -> None:
    if not hasattr(model, "layers") or not hasattr(model, "act"):
        raise TypeError(
            "model must have `layers` (a sequence of square nn.Linear) and `act` (an elementwise "
            f"activation module), like IdentityMLP; got {type(model).__name__}"
        )


def _check_x(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return _checks.check_tensor("x", x, features=model.layers[0].in_features)


def _check_chunk(chunk_size: int | None, batch: int) -> int:
    if chunk_size is None:
        return max(batch, 1)
    return _checks.check_scalar_int("chunk_size", chunk_size, minimum=1)


def iter_hidden_jacobians(
    model: nn.Module,
    x: torch.Tensor,
    *,
    chunk_size: int | None = None,
    dtype: torch.dtype | None = torch.float64,
) -> Iterator[torch.Tensor]:
    """Yield the per-sample Jacobians chunk by chunk, each of shape ``(chunk, N_L, N_0)``.

    Peak memory is about ``3 * chunk_size * N^2`` numbers, independent of the batch size.
    """
    _check_model(model)
    x = _check_x(model, x)
    step = _check_chunk(chunk_size, x.shape[0])
    dtype = dtype or x.dtype
    with torch.no_grad():
        weights = [(lin.weight.to(dtype), None if lin.bias is None else lin.bias.to(dtype)) for lin in model.layers]
        for start in range(0, x.shape[0], step):
            xc = x[start : start + step].to(dtype)
            jac = None  # layout (N_out, chunk, N_in) so that W @ J is one large GEMM
            nb = xc.shape[0]
            for w, b in weights:
                h = xc @ w.T
                if b is not None:
                    h = h + b
                d = _elementwise_derivative(model.act, h)
                if jac is None:
                    jac = w.unsqueeze(1).expand(-1, nb, -1)
                else:
                    jac = (w @ jac.reshape(jac.shape[0], -1)).reshape(w.shape[0], nb, -1)
                jac = jac * d.T.unsqueeze(-1)  # D scales the output rows
                xc = model.act(h)
            yield jac.permute(1, 0, 2).contiguous()


def hidden_jacobian(
    model: nn.Module,
    x: torch.Tensor,
    *,
    chunk_size: int | None = None,
    dtype: torch.dtype | None = torch.float64,
) -> torch.Tensor:
    r"""Per-sample Jacobians :math:`J(x) = \partial x^L / \partial x^0` of the hidden stack.

    Parameters
    ----------
    model : IdentityMLP or compatible
        Anything with ``layers`` (``nn.Linear``) and an elementwise ``act``.
    x : torch.Tensor
        Inputs of shape ``(batch, N)`` (or ``(N,)``).
    chunk_size : int, optional
        Samples processed at once (memory ``~ 3 chunk_size N^2``); default all.
    dtype : torch.dtype, optional
        Computation dtype (default float64; ``None`` keeps ``x.dtype``).

    Returns
    -------
    torch.Tensor
        Shape ``(batch, N, N)``, :math:`J = D^L W^L \cdots D^1 W^1`.

    Examples
    --------
    >>> import torch
    >>> from rmt_idinit.nn import IdentityMLP
    >>> m = IdentityMLP(width=3, depth=2, sigma=1.5)
    >>> hidden_jacobian(m, torch.tensor([[0.1, 0.5, -0.2]])).diagonal(dim1=1, dim2=2)
    tensor([[2.2500, 0.0000, 2.2500]], dtype=torch.float64)
    """
    return torch.cat(list(iter_hidden_jacobians(model, x, chunk_size=chunk_size, dtype=dtype)), dim=0)


def jacobian_spectra(
    model: nn.Module,
    x: torch.Tensor,
    *,
    chunk_size: int | None = None,
    dtype: torch.dtype | None = torch.float64,
    method: str = "eigvalsh",
) -> torch.Tensor:
    r"""Eigenvalues of :math:`J J^T` per sample, ascending, shape ``(batch, N)``.

    At identity initialization these are exactly :math:`g_L(u_i)^2` (docs/theory/identity.md), which
    :func:`rmt_idinit.jjt_eigenvalues` predicts.

    Parameters
    ----------
    method : {"eigvalsh", "svd"}
        ``"eigvalsh"``: eigenvalues of the symmetric :math:`J J^T`; ``"svd"``: squared singular
        values of J (more accurate for eigenvalues far below the largest one).

    Examples
    --------
    >>> import torch
    >>> from rmt_idinit.nn import IdentityMLP
    >>> m = IdentityMLP(width=3, depth=2, sigma=1.5)
    >>> jacobian_spectra(m, torch.tensor([[0.1, 0.5, -0.2]]))
    tensor([[0.0000, 5.0625, 5.0625]], dtype=torch.float64)
    """
    _checks.check_choice("method", method, ("eigvalsh", "svd"))
    out = []
    for jac in iter_hidden_jacobians(model, x, chunk_size=chunk_size, dtype=dtype):
        if method == "eigvalsh":
            out.append(torch.linalg.eigvalsh(jac @ jac.transpose(-1, -2)))
        else:
            out.append(torch.linalg.svdvals(jac).flip(-1) ** 2)
    return torch.cat(out, dim=0)
