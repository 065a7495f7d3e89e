r"""Per-sample input-output Jacobians of the hidden stack and their spectra.

The Jacobian of the hidden stack is the product :math:`J = D^L W^L \cdots D^1 W^1`,
:math:`D^l = \mathrm{diag}(\phi'(h^l))`. ``torch.func.jacrev`` builds it with one backward pass per
output coordinate; here it is one matrix product per layer and sample, arranged so that almost all
of the work is large square GEMMs and no work is spent on rows that are exactly zero:

* A unit with :math:`\phi'(h^l_i) = 0` (hard-tanh outside :math:`(-1, 1)`, ReLU below 0) zeroes
  row i of every partial product from layer l on, and column i of :math:`W^{l+1}` then meets
  only zeros. With :math:`S_l` the units of layer l whose derivative is nonzero and
  :math:`M^l = D^l_{S_l} W^l_{S_l, S_{l-1}}` (:math:`k_l \times k_{l-1}`),

  .. math:: J_{S_L, :} = \bigl(M^L M^{L-1} \cdots M^2\bigr)\, \bigl(D^1_{S_1} W^1_{S_1, :}\bigr),

  and the other rows of J are zero. The bracket is accumulated from the right, so each layer
  costs :math:`2 k_l k_{l-1} k_1` flops instead of :math:`2 N^3`; for hard-tanh at the critical
  point with 84% of units active that is 0.6 of the dense work. Dropping exact zeros changes no
  sum, so the result agrees with autograd to round-off.
* When every hidden weight matrix is diagonal (identity initialization), J is diagonal and is the
  elementwise product of :math:`\phi'(h^l) \operatorname{diag} W^l`: :math:`O(NL)` work.

Memory is bounded per chunk of samples, and is checked before any work starts.
"""
from __future__ import annotations

from typing import Iterator, NamedTuple

import numpy as np
import torch
from torch import nn

from .._core import checks as _checks

__all__ = ["hidden_jacobian", "iter_hidden_jacobians", "jacobian_spectra"]

_METHODS = ("eigvalsh", "svd")


def _elementwise_derivative(act: nn.Module, h: torch.Tensor) -> torch.Tensor:
    # Autograd of the activation itself gives phi' with exactly torch's conventions at kinks
    # (hard-tanh 0 at |h| = 1, ReLU 0 at 0), so the fast path agrees with jacrev there.
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
    return min(_checks.check_scalar_int("chunk_size", chunk_size, minimum=1), max(batch, 1))


def _is_diagonal(w: torch.Tensor) -> bool:
    n, m = w.shape
    if n != m:
        return False
    if n == 1:
        return True
    # the off-diagonal entries of a square matrix, read as n - 1 rows of n: a view, no copy
    return not bool(w.reshape(-1)[1:].reshape(n - 1, n + 1)[:, :n].any())


def _check_memory(model: nn.Module, chunk: int, itemsize: int, convert: bool, dense_out: int) -> None:
    n_in = model.layers[0].in_features
    n_max = max(max(lin.in_features, lin.out_features) for lin in model.layers)
    depth = len(model.layers)
    # per chunk: the derivatives of every layer, the dense output of the chunk, and six N x N
    # working matrices of one sample at the peak (first-layer rows, gathered rows, gathered layer,
    # running product and its successor, the sample's result)
    need = chunk * n_max * depth + chunk * model.layers[-1].out_features * n_in + 6 * n_max * n_max
    if convert:  # weights copied once to the computation dtype
        need += sum(lin.weight.numel() for lin in model.layers)
    need += dense_out
    _checks.check_memory(need * itemsize, f"chunk_size={chunk} (width {n_max}, depth {depth})")


class _SampleJacobian(NamedTuple):
    """One sample's Jacobian: ``diag`` (J diagonal) or ``rows`` / ``values`` (J[rows] = values, 0 elsewhere)."""

    diag: torch.Tensor | None
    rows: torch.Tensor | None
    values: torch.Tensor | None


def _submatrix(w: torch.Tensor, rows: torch.Tensor | None, cols: torch.Tensor | None) -> torch.Tensor:
    """``w[rows][:, cols]`` as a new contiguous tensor (``None``: all)."""
    a = w if rows is None else w.index_select(0, rows)
    if cols is None:
        return a.clone() if rows is None else a
    if a.device.type == "cpu":
        # numpy's take along the last axis copies about 2x faster than index_select(1) on CPU
        # (measured at 670 of 794 columns), and at 10% of a layer's GEMM this gather is what
        # the product spends besides the GEMM
        return torch.from_numpy(np.take(a.numpy(), cols.numpy(), axis=1))
    return a.index_select(1, cols)


def _dense_sample_jacobian(weights: list[torch.Tensor], ds: list[torch.Tensor]) -> torch.Tensor:
    """``D^L W^L ... D^1 W^1`` from the input side when no derivative is zero: one GEMM a layer into
    two reused buffers, the row scaling in place (no copy of ``W^l`` and no allocation per layer;
    measured 5% above the gathering path at width 794, which is all the dense product can gain)."""
    x = weights[0] * ds[0].unsqueeze(1)
    y = None
    for w, d in zip(weights[1:], ds[1:]):
        if y is None or y.shape != (w.shape[0], x.shape[1]):
            y = x.new_empty((w.shape[0], x.shape[1]))
        torch.mm(w, x, out=y)
        y.mul_(d.unsqueeze(1))
        x, y = y, (x if x.shape == y.shape else None)
    return x


def _sample_jacobian(weights: list[torch.Tensor], ds: list[torch.Tensor]) -> _SampleJacobian:
    """The product of the ``M^l`` of the module docstring for one sample (``ds[l]`` of shape (N_l,))."""
    if all(bool(d.all()) for d in ds):
        values = _dense_sample_jacobian(weights, ds)
        return _SampleJacobian(None, torch.arange(values.shape[0], device=values.device), values)

    def active(d):  # indices of the nonzero derivatives, None when all are nonzero
        idx = torch.nonzero(d).squeeze(1)
        return None if idx.numel() == d.numel() else idx

    rows = active(ds[0])
    first = _submatrix(weights[0], rows, None).mul_((ds[0] if rows is None else ds[0][rows]).unsqueeze(1))
    prod = None  # M^l ... M^2, shape (k_l, k_1)
    for w, d in zip(weights[1:], ds[1:]):
        if first.shape[0] == 0 or (prod is not None and prod.shape[0] == 0):
            break  # every row is zero from here on
        new_rows = active(d)
        m = _submatrix(w, new_rows, rows).mul_((d if new_rows is None else d[new_rows]).unsqueeze(1))
        prod = m if prod is None else m @ prod
        rows = new_rows
    else:
        values = first if prod is None else prod @ first
        return _SampleJacobian(None, torch.arange(first.shape[0] if prod is None else prod.shape[0],
                                                  device=first.device) if rows is None else rows, values)
    return _SampleJacobian(None, first.new_zeros(0, dtype=torch.long), first.new_zeros((0, first.shape[1])))


def _iter_sample_jacobians(
    model: nn.Module, x: torch.Tensor, chunk_size: int | None, dtype: torch.dtype | None, dense_out: int = 0
) -> Iterator[list[_SampleJacobian]]:
    """Yield, chunk by chunk, the list of the chunk's per-sample Jacobians in compact form."""
    _check_model(model)
    x = _check_x(model, x)
    step = _check_chunk(chunk_size, x.shape[0])
    dtype = dtype or x.dtype
    convert = any(lin.weight.dtype != dtype for lin in model.layers)
    _check_memory(model, step, torch.empty((), dtype=dtype).element_size(), convert, dense_out)
    with torch.no_grad():
        weights = [lin.weight.detach().to(dtype) for lin in model.layers]
        biases = [None if lin.bias is None else lin.bias.detach().to(dtype) for lin in model.layers]
        diagonal = all(_is_diagonal(w) for w in weights)
        diags = [w.diagonal() for w in weights] if diagonal else None
        for start in range(0, x.shape[0], step):
            xc = x[start : start + step].to(dtype)
            ds = []
            for w, b in zip(weights, biases):
                h = xc @ w.T
                if b is not None:
                    h = h + b
                ds.append(_elementwise_derivative(model.act, h))
                xc = model.act(h)
            if diagonal:
                g = ds[0] * diags[0]
                for d, wd in zip(ds[1:], diags[1:]):
                    g = g * d * wd
                yield [_SampleJacobian(gi, None, None) for gi in g]
            else:
                yield [_sample_jacobian(weights, [d[i] for d in ds]) for i in range(xc.shape[0])]


def _dense(sample: _SampleJacobian, n_out: int, n_in: int) -> torch.Tensor:
    if sample.diag is not None:
        return torch.diag(sample.diag)
    out = sample.values.new_zeros((n_out, n_in))
    out[sample.rows] = sample.values
    return out


def iter_hidden_jacobians(
    model: nn.Module,
    x: torch.Tensor,
    *,
    chunk_size: int | None = None,
    dtype: torch.dtype | None = torch.float64,
) -> Iterator[torch.Tensor]:
    """Yield the per-sample Jacobians chunk by chunk, each of shape ``(chunk, N_L, N_0)``.

    Peak memory is about ``(chunk_size + 6) N^2`` numbers plus the weights in ``dtype``,
    independent of the batch size; it is checked before any work starts.
    """
    n_out, n_in = model.layers[-1].out_features, model.layers[0].in_features
    for samples in _iter_sample_jacobians(model, x, chunk_size, dtype):
        yield torch.stack([_dense(s, n_out, n_in) for s in samples])


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
        Samples processed at once (working memory ``~ (chunk_size + 6) N^2``); default all.
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
    _check_model(model)
    x = _check_x(model, x)
    dt = dtype or x.dtype
    n_out, n_in = model.layers[-1].out_features, model.layers[0].in_features
    total = x.shape[0] * n_out * n_in
    out = None
    start = 0
    for samples in _iter_sample_jacobians(model, x, chunk_size, dtype, dense_out=total):
        if out is None:
            out = torch.zeros((x.shape[0], n_out, n_in), dtype=dt, device=x.device)
        for s in samples:
            if s.diag is not None:
                out[start].diagonal().copy_(s.diag)
            else:
                out[start, s.rows] = s.values
            start += 1
    return out


def _spectrum(sample: _SampleJacobian, n_out: int, method: str) -> torch.Tensor:
    if sample.diag is not None:
        return torch.sort(sample.diag * sample.diag).values
    j = sample.values
    if method == "eigvalsh":
        lam = torch.linalg.eigvalsh(j @ j.T)
    else:
        lam = torch.linalg.svdvals(j) ** 2
    zeros = lam.new_zeros(n_out - lam.numel())  # the rows of J that are exactly zero
    return torch.sort(torch.cat([zeros, lam])).values


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
    :func:`rmt_idinit.jjt_eigenvalues` predicts. Rows of J that are exactly zero (units with
    :math:`\phi'(h^L_i) = 0`) contribute exact zeros; the rest comes from the nonzero rows only.

    Parameters
    ----------
    model : IdentityMLP or compatible
        Anything with ``layers`` (``nn.Linear``) and an elementwise ``act``.
    x : torch.Tensor
        Inputs of shape ``(batch, N)`` (or ``(N,)``).
    chunk_size : int, optional
        Samples processed at once (working memory ``~ (chunk_size + 6) N^2``); default all.
    dtype : torch.dtype, optional
        Computation dtype (default float64; ``None`` keeps ``x.dtype``).
    method : {"eigvalsh", "svd"}
        ``"eigvalsh"``: eigenvalues of the symmetric :math:`J J^T` (the faster one at width 794,
        see ``benchmarks/bench_jacobian.py``); ``"svd"``: squared singular values of J (more
        accurate for eigenvalues far below the largest one).

    Returns
    -------
    torch.Tensor
        Shape ``(batch, N)``, ascending per sample.

    Examples
    --------
    >>> import torch
    >>> from rmt_idinit.nn import IdentityMLP
    >>> m = IdentityMLP(width=3, depth=2, sigma=1.5)
    >>> jacobian_spectra(m, torch.tensor([[0.1, 0.5, -0.2]]))
    tensor([[0.0000, 5.0625, 5.0625]], dtype=torch.float64)
    """
    _checks.check_choice("method", method, _METHODS)
    n_out = model.layers[-1].out_features if hasattr(model, "layers") else 0
    out = []
    for samples in _iter_sample_jacobians(model, x, chunk_size, dtype):
        out.extend(_spectrum(s, n_out, method) for s in samples)
    return torch.stack(out)
