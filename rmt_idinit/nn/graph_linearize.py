r"""Exact linearization of piecewise-linear networks of any shape traced with :mod:`torch.fx`.

Convolution, linear layers, average pooling, eval-mode batch norm, padding, reshapes, slices, means
and sums of tensors are affine; ReLU, leaky ReLU, hard-tanh and max pooling are affine on the region
of inputs that share the activation pattern of x (which units are on which linear piece, which input
wins every pooling window). One forward pass records that pattern along the traced graph and
propagates the offsets :math:`\beta` (biases, saturation constants, batch-norm shifts) through it,
exactly as the data would be propagated from a zero input with the pattern held fixed. The frozen
network is then the linear map :math:`t \mapsto W_x t`, evaluated with torch ops, so

.. math::
    F(x) = W_x x + b_x, \qquad b_x = \beta_{\text{out}},

holds to round-off; :math:`W_x` comes from pushing identity-basis chunks through the frozen linear
map (forward) or from one backward pass of it per output (reverse, its exact transpose), and
:class:`LinearizedOperator` offers :math:`W_x v` and :math:`W_x^T u` without forming :math:`W_x`.

Operations outside that list (Tanh, GELU, Softmax, train-mode batch norm or dropout, products of two
input-dependent tensors...) raise a ValueError that names the module or operation.
"""
from __future__ import annotations

import copy
import operator
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import fx, nn

from .._core import checks as _checks
from .activations import Erf

__all__ = ["FrozenPattern", "LinearizedOperator", "dense_linearization", "linearize_operator"]

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_BN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
_ACT = (nn.ReLU, nn.LeakyReLU, nn.Hardtanh)  # Hardtanh covers ReLU6
_MAXPOOL = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d,
            nn.AdaptiveMaxPool3d)
_LINEAR_MODULES = (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d,
                   nn.AdaptiveAvgPool3d, nn.ZeroPad1d, nn.ZeroPad2d, nn.ZeroPad3d, nn.ReflectionPad1d,
                   nn.ReflectionPad2d, nn.ReplicationPad1d, nn.ReplicationPad2d, nn.CircularPad1d,
                   nn.CircularPad2d)
_DROPOUT = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout)
_RESHAPE_MODULES = (nn.Flatten, nn.Unflatten)

_ADD = {operator.add, operator.iadd, torch.add, "add", "add_", "__add__", "__radd__"}
_SUB = {operator.sub, operator.isub, torch.sub, "sub", "sub_", "__sub__"}
_MUL = {operator.mul, operator.imul, torch.mul, "mul", "mul_", "__mul__", "__rmul__"}
_DIV = {operator.truediv, operator.itruediv, torch.div, "div", "div_", "__truediv__"}
_NEG = {operator.neg, torch.neg, "neg"}
_RESHAPE = {torch.flatten, torch.reshape, torch.squeeze, torch.unsqueeze, "flatten", "view", "reshape",
            "squeeze", "unsqueeze", "contiguous", "unflatten", "view_as", "reshape_as"}
_SAME = {torch.transpose, torch.permute, "transpose", "permute", torch.mean, torch.sum, "mean", "sum",
         operator.getitem, F.avg_pool1d, F.avg_pool2d, F.avg_pool3d, F.adaptive_avg_pool1d,
         F.adaptive_avg_pool2d, F.adaptive_avg_pool3d}
_CAT = {torch.cat, torch.concat, torch.concatenate}
# shape queries and *_like creation ops read the input's metadata only: their results are constants
_META = {getattr, len, "size", "dim", "numel", "__len__", torch.zeros_like, torch.ones_like, torch.full_like,
         torch.empty_like}
_ACT_FUNCS: dict[Any, Callable[..., nn.Module]] = {
    F.relu: lambda *a, **k: nn.ReLU(), torch.relu: lambda *a, **k: nn.ReLU(), "relu": lambda *a, **k: nn.ReLU(),
    F.relu6: lambda *a, **k: nn.ReLU6(),
    F.leaky_relu: lambda x, negative_slope=0.01, inplace=False: nn.LeakyReLU(negative_slope),
    F.hardtanh: lambda x, min_val=-1.0, max_val=1.0, inplace=False: nn.Hardtanh(min_val, max_val),
}
_MAXPOOL_FUNCS = {F.max_pool1d, F.max_pool2d, F.max_pool3d, F.adaptive_max_pool1d, F.adaptive_max_pool2d,
                  F.adaptive_max_pool3d}


class _Tracer(fx.Tracer):
    """Keeps torch.nn built-ins and the package's activations (e.g. Erf) as leaves, so an unsupported
    one is reported by its module name instead of by the ops inside it."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return isinstance(m, Erf) or super().is_leaf_module(m, qualname)


def _trace(model: nn.Module) -> fx.GraphModule:
    try:
        graph = _Tracer().trace(model)
    except Exception as exc:  # fx raises TraceError, TypeError, NotImplementedError, ...
        raise ValueError(
            f"linearize could not trace {type(model).__name__} with torch.fx ({type(exc).__name__}: {exc}); "
            "data-dependent Python control flow in forward() cannot be linearized this way"
        ) from None
    return fx.GraphModule(model, graph)


def _pw_parts(act: nn.Module, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    from .linearization import piecewise_linear_parts

    return piecewise_linear_parts(act, h)


class _Dep:
    """A tensor that depends on the input: its value and its offset beta (value at t = 0, pattern frozen)."""

    __slots__ = ("val", "beta")

    def __init__(self, val: torch.Tensor, beta: torch.Tensor) -> None:
        self.val, self.beta = val, beta
        _Dep.largest = max(_Dep.largest, val[0].numel() if val.dim() else 1)

    largest = 0  # numel of the largest per-sample activation seen in the current pass 1


def _describe(node: fx.Node, mod: nn.Module | None = None) -> str:
    if mod is not None:
        return f"module '{node.target}' ({type(mod).__name__}: {mod!r})"
    if node.op == "call_module":
        return f"module '{node.target}'"
    target = node.target if isinstance(node.target, str) else getattr(node.target, "__name__", repr(node.target))
    return f"operation '{target}' ({node.op} in node '{node.name}')"


def _unsupported(node: fx.Node, mod: nn.Module | None = None, why: str = "") -> ValueError:
    return ValueError(
        f"linearize cannot handle {_describe(node, mod)}{': ' + why if why else ''}. Exact linearization "
        "needs piecewise-linear layers: Conv/Linear, ReLU/LeakyReLU/Hardtanh, Max/AvgPool (adaptive too), "
        "eval-mode BatchNorm, Flatten, eval-mode Dropout, padding, reshapes and sums of tensors"
    )


def _maxpool_call(fn_or_mod: Any, x: torch.Tensor, args=(), kwargs=None) -> tuple[torch.Tensor, torch.Tensor]:
    kwargs = dict(kwargs or {})
    if isinstance(fn_or_mod, nn.Module):
        m = fn_or_mod
        if isinstance(m, (nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)):
            fn = {1: F.adaptive_max_pool1d, 2: F.adaptive_max_pool2d, 3: F.adaptive_max_pool3d}[
                {nn.AdaptiveMaxPool1d: 1, nn.AdaptiveMaxPool2d: 2, nn.AdaptiveMaxPool3d: 3}[type(m)]]
            return fn(x, m.output_size, return_indices=True)
        fn = {nn.MaxPool1d: F.max_pool1d, nn.MaxPool2d: F.max_pool2d, nn.MaxPool3d: F.max_pool3d}[type(m)]
        return fn(x, m.kernel_size, m.stride, m.padding, m.dilation, ceil_mode=m.ceil_mode, return_indices=True)
    kwargs["return_indices"] = True
    return fn_or_mod(x, *args, **kwargs)


def _gather(t: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Pick per (sample, channel) the flat spatial positions ``idx`` of t (max-pool selection)."""
    n, c = t.shape[:2]
    out = t.reshape(n, c, -1).gather(2, idx.reshape(n, c, -1))
    return out.reshape(idx.shape)


def _bn_affine(m: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    scale = torch.rsqrt(m.running_var + m.eps)
    if m.weight is not None:
        scale = scale * m.weight
    shift = -m.running_mean * scale
    if m.bias is not None:
        shift = shift + m.bias
    return scale, shift


def _chan(v: torch.Tensor, ndim: int) -> torch.Tensor:
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def _is_reshape(node: fx.Node, mod: nn.Module | None) -> bool:
    return (mod is not None and isinstance(mod, _RESHAPE_MODULES)) or (mod is None and node.target in _RESHAPE)


class FrozenPattern:
    r"""The activation pattern of a batch x along the traced graph, with the frozen linear map.

    ``apply(t, reps)`` evaluates :math:`W_x t` for ``reps`` directions per sample (t of shape
    ``(batch * reps, *input_shape)``, sample-major); ``bias`` is :math:`b_x` ``(batch, n_out)`` and
    ``output`` the forward pass ``model(x)`` flattened.
    """

    def __init__(self, model: nn.Module, x: torch.Tensor) -> None:
        self.gm = _trace(model)
        self.modules = dict(self.gm.named_modules())
        self.batch = x.shape[0]
        self.input_shape = tuple(x.shape[1:])
        self.n_in = int(np.prod(self.input_shape))
        self.records: dict[fx.Node, Any] = {}
        self.consts: dict[fx.Node, Any] = {}
        nodes = list(self.gm.graph.nodes)
        self._last_use = self._last_uses(nodes)
        placeholders = [n for n in nodes if n.op == "placeholder"]
        if len(placeholders) != 1:
            raise ValueError(f"linearize needs a model with exactly one input, got {len(placeholders)}")
        _Dep.largest = 0
        with torch.no_grad():
            out = self._forward(nodes, x)
        self.largest = _Dep.largest  # bounds the memory of pass 2 per direction
        self.output = out.val.reshape(self.batch, -1)
        self.bias = out.beta.reshape(self.batch, -1)
        self.n_out = self.output.shape[1]
        self._nodes = nodes

    @staticmethod
    def _last_uses(nodes: list[fx.Node]) -> dict[fx.Node, list[fx.Node]]:
        seen: set[fx.Node] = set()
        free: dict[fx.Node, list[fx.Node]] = {}
        for node in reversed(nodes):
            for inp in node.all_input_nodes:
                if inp not in seen:
                    seen.add(inp)
                    free.setdefault(node, []).append(inp)
        return free

    # ---- pass 1: values, offsets and the pattern -------------------------------------------------------
    def _forward(self, nodes: list[fx.Node], x: torch.Tensor) -> _Dep:
        env: dict[fx.Node, Any] = {}
        result = None
        for node in nodes:
            if node.op == "placeholder":
                env[node] = _Dep(x, torch.zeros_like(x))
            elif node.op == "get_attr":
                env[node] = self._attr(node.target)
                self.consts[node] = env[node]
            elif node.op == "output":
                res = fx.graph.map_arg(node.args[0], lambda n: env[n])
                if not isinstance(res, _Dep):
                    raise ValueError("linearize needs a model whose output is one tensor that depends on the input")
                result = res
            else:
                args = fx.graph.map_arg(node.args, lambda n: env[n])
                kwargs = fx.graph.map_arg(node.kwargs, lambda n: env[n])
                env[node] = self._step(node, args, kwargs)
                if not isinstance(env[node], _Dep):
                    self.consts[node] = env[node]
            for dead in self._last_use.get(node, []):
                env.pop(dead, None)
        return result

    def _attr(self, target: str) -> Any:
        obj: Any = self.gm
        for part in target.split("."):
            obj = getattr(obj, part)
        return obj

    def _step(self, node: fx.Node, args: tuple, kwargs: dict) -> Any:
        deps = [a for a in _flat(args) + _flat(kwargs) if isinstance(a, _Dep)]
        mod = self.modules[node.target] if node.op == "call_module" else None
        call = self._caller(node, mod)
        if not deps:  # shapes, constants, creation ops: evaluated once, no tangent
            return call(*args, **kwargs)
        try:
            val = call(*_vals(args), **_vals(kwargs))
        except (RuntimeError, TypeError, IndexError) as exc:
            raise ValueError(f"the model's forward pass failed at {_describe(node, mod)} for an input x of shape "
                             f"{(self.batch,) + self.input_shape}: {exc}") from None
        if mod is None and node.target in _META:
            return val
        if mod is not None:
            return self._module_step(node, mod, args[0] if args else next(iter(kwargs.values())), val)
        t = node.target
        if t in _ACT_FUNCS:
            act = _ACT_FUNCS[t](*_vals(args), **_vals(kwargs)) if node.op == "call_function" else _ACT_FUNCS[t]()
            return self._act(node, act, args[0], val)
        if t in _MAXPOOL_FUNCS:
            _, idx = _maxpool_call(t, args[0].val, args[1:], kwargs)
            self.records[node] = idx
            return _Dep(val, _gather(args[0].beta, idx))
        if t in _ADD or t in _SUB:
            a, b = args[0], args[1]
            alpha = kwargs.get("alpha", 1)
            if len(args) > 2 or set(kwargs) - {"alpha"}:
                raise _unsupported(node, why="unexpected arguments")
            sign = alpha if t in _ADD else -alpha
            beta = (a.beta if isinstance(a, _Dep) else a) + sign * (b.beta if isinstance(b, _Dep) else b)
            return _Dep(val, beta)
        if t in _MUL or t in _DIV:
            if len(deps) != 1 or (t in _DIV and not isinstance(args[0], _Dep)):
                raise _unsupported(node, why="a product of two input-dependent tensors (or division by one) is "
                                              "not affine")
            if isinstance(args[0], _Dep):
                beta = call(args[0].beta, args[1])
            else:
                beta = call(args[0], args[1].beta)
            return _Dep(val, beta)
        if t in _NEG:
            return _Dep(val, -args[0].beta)
        if t in _RESHAPE or t in _SAME:
            if len(deps) != 1 or not isinstance(args[0], _Dep):
                raise _unsupported(node, why="only the first argument may depend on the input")
            if t in _SAME:
                _check_batch_axis(node, args, kwargs, args[0].val.dim())
            self._check_batch(node, val)
            self.records[node] = tuple(val.shape)
            return _Dep(val, call(args[0].beta, *args[1:], **kwargs))
        if t in _CAT:
            dim = kwargs.get("dim", args[1] if len(args) > 1 else 0)
            if dim == 0 or (dim < 0 and dim + val.dim() == 0):
                raise _unsupported(node, why="concatenation along the batch axis")
            parts = args[0]
            beta = torch.cat([p.beta if isinstance(p, _Dep) else p for p in parts], dim=dim)
            self.records[node] = [None if isinstance(p, _Dep) else p for p in parts]
            return _Dep(val, beta)
        if t is F.pad:
            mode = kwargs.get("mode", args[2] if len(args) > 2 else "constant")
            pad = kwargs.get("pad", args[1] if len(args) > 1 else None)
            if len(pad) > 2 * (args[0].val.dim() - 1):
                raise _unsupported(node, why="padding of the batch axis")
            self.records[node] = (pad, mode)
            self._check_batch(node, val)
            return _Dep(val, F.pad(args[0].beta, pad, mode=mode,
                                   value=kwargs.get("value", args[3] if len(args) > 3 else None)))
        if t in (F.dropout, F.dropout1d, F.dropout2d, F.dropout3d):
            training = kwargs.get("training", args[2] if len(args) > 2 else True)
            if training:
                raise _unsupported(node, why="dropout in training mode is random; call model.eval() first")
            return _Dep(val, args[0].beta)
        if t in (F.linear, F.conv1d, F.conv2d, F.conv3d):
            if len(deps) != 1 or not isinstance(args[0], _Dep):
                raise _unsupported(node, why="the weight must not depend on the input")
            return _Dep(val, call(args[0].beta, *args[1:], **kwargs))
        raise _unsupported(node)

    def _caller(self, node: fx.Node, mod: nn.Module | None) -> Callable:
        if node.op == "call_module":
            return mod
        if node.op == "call_method":
            return lambda obj, *a, **k: getattr(obj, node.target)(*a, **k)
        return node.target

    def _check_batch(self, node: fx.Node, val: Any) -> None:
        if not isinstance(val, torch.Tensor) or val.dim() == 0 or val.shape[0] != self.batch:
            raise _unsupported(node, why="its result does not keep the batch axis first")

    def _act(self, node: fx.Node, act: nn.Module, a: _Dep, val: torch.Tensor) -> _Dep:
        d, c = _pw_parts(act, a.val)
        self.records[node] = d
        return _Dep(val, d * a.beta + c)

    def _module_step(self, node: fx.Node, mod: nn.Module, a: Any, val: torch.Tensor) -> _Dep:
        if not isinstance(a, _Dep):
            raise _unsupported(node, mod, "its input must be the network's tensor")
        if isinstance(mod, _CONV + (nn.Linear,)) or isinstance(mod, _LINEAR_MODULES):
            return _Dep(val, mod(a.beta))
        if isinstance(mod, _BN):
            if mod.training or mod.running_mean is None:
                raise _unsupported(node, mod, "batch norm in training mode (or without running statistics) "
                                              "depends on the whole batch; call model.eval() first")
            scale, shift = _bn_affine(mod)
            self.records[node] = scale
            return _Dep(val, a.beta * _chan(scale, val.dim()) + _chan(shift, val.dim()))
        if isinstance(mod, _ACT):
            return self._act(node, mod, a, val)
        if isinstance(mod, nn.Identity):
            return _Dep(val, a.beta)
        if isinstance(mod, _DROPOUT):
            if mod.training:
                raise _unsupported(node, mod, "dropout in training mode is random; call model.eval() first")
            return _Dep(val, a.beta)
        if isinstance(mod, _MAXPOOL):
            if getattr(mod, "return_indices", False):
                raise _unsupported(node, mod, "return_indices=True")
            _, idx = _maxpool_call(mod, a.val)
            self.records[node] = idx
            return _Dep(val, _gather(a.beta, idx))
        if isinstance(mod, _RESHAPE_MODULES):
            self._check_batch(node, val)
            self.records[node] = tuple(val.shape)
            return _Dep(val, mod(a.beta))
        raise _unsupported(node, mod, "not piecewise linear (or not supported)")

    # ---- pass 2: the frozen linear map ------------------------------------------------------------------
    def apply(self, t: torch.Tensor, reps: int = 1) -> torch.Tensor:
        r""":math:`W_x t` for ``t`` of shape ``(batch * reps, *input_shape)`` (sample-major), flattened to
        ``(batch * reps, n_out)``; differentiable in t (its backward is the exact transpose)."""
        env: dict[fx.Node, Any] = {}
        rep = (lambda r: r) if reps == 1 else (lambda r: r.repeat_interleave(reps, 0))
        n_rows = t.shape[0]
        out = None
        for node in self._nodes:
            if node.op == "placeholder":
                env[node] = _Tan(t)
            elif node in self.consts:
                env[node] = self.consts[node]
            elif node.op == "output":
                out = env[node.args[0]].t
            else:
                args = fx.graph.map_arg(node.args, lambda n: env[n])
                kwargs = fx.graph.map_arg(node.kwargs, lambda n: env[n])
                env[node] = _Tan(self._linear_step(node, args, kwargs, rep, n_rows))
            for dead in self._last_use.get(node, []):
                env.pop(dead, None)
        return out.reshape(n_rows, -1)

    def _linear_step(self, node: fx.Node, args: tuple, kwargs: dict, rep: Callable, n_rows: int) -> torch.Tensor:
        mod = self.modules[node.target] if node.op == "call_module" else None
        rec = self.records.get(node)
        a = args[0] if args else None
        if mod is not None:
            x = a.t
            if isinstance(mod, _CONV):
                return mod._conv_forward(x, mod.weight, None)
            if isinstance(mod, nn.Linear):
                return F.linear(x, mod.weight)
            if isinstance(mod, _LINEAR_MODULES):
                return mod(x)
            if isinstance(mod, _BN):
                return x * _chan(rec, x.dim())
            if isinstance(mod, _ACT):
                return x * rep(rec)
            if isinstance(mod, (nn.Identity,) + _DROPOUT):
                return x
            if isinstance(mod, _MAXPOOL):
                return _gather(x, rep(rec))
            if isinstance(mod, _RESHAPE_MODULES):
                return _reshape_tangent(node, x, rec, n_rows)
        t = node.target
        if t in _ACT_FUNCS:
            return a.t * rep(rec)
        if t in _MAXPOOL_FUNCS:
            return _gather(a.t, rep(rec))
        if t in _ADD or t in _SUB:
            alpha = kwargs.get("alpha", 1)
            sign = alpha if t in _ADD else -alpha
            ta = args[0].t if isinstance(args[0], _Tan) else None
            tb = args[1].t if isinstance(args[1], _Tan) else None
            if ta is None:
                return sign * tb
            return ta if tb is None else ta + sign * tb
        if t in _MUL or t in _DIV:
            call = self._caller(node, None)
            if isinstance(args[0], _Tan):
                return call(args[0].t, args[1])
            return call(args[0], args[1].t)
        if t in _NEG:
            return -a.t
        if t in _RESHAPE:
            return _reshape_tangent(node, a.t, rec, n_rows)
        if t in _SAME:
            out = self._caller(node, None)(a.t, *args[1:], **kwargs)
            if tuple(out.shape[1:]) != tuple(rec[1:]) or out.shape[0] != n_rows:
                raise _unsupported(node, why="it mixes samples of the batch (acts on the batch axis)")
            return out
        if t in _CAT:
            dim = kwargs.get("dim", args[1] if len(args) > 1 else 0)
            parts = [p.t if isinstance(p, _Tan) else None for p in args[0]]
            ref = next(p for p in parts if p is not None)
            full = []
            for p, const in zip(parts, rec):
                if p is None:
                    shape = list(ref.shape)
                    shape[dim] = const.shape[dim]
                    p = ref.new_zeros(shape)
                full.append(p)
            return torch.cat(full, dim=dim)
        if t is F.pad:
            pad, mode = rec
            if mode == "constant":
                return F.pad(a.t, pad, mode="constant", value=0.0)
            return F.pad(a.t, pad, mode=mode)
        if t in (F.dropout, F.dropout1d, F.dropout2d, F.dropout3d):
            return a.t
        if t is F.linear:
            return F.linear(a.t, args[1])
        if t in (F.conv1d, F.conv2d, F.conv3d):
            rest = list(args[2:])
            kw = dict(kwargs)
            if rest:
                rest[0] = None
            kw.pop("bias", None)
            return t(a.t, args[1], *rest, **kw) if rest else t(a.t, args[1], None, **kw)
        raise _unsupported(node, mod)  # pragma: no cover - pass 1 already refused it


class _Tan:
    __slots__ = ("t",)

    def __init__(self, t: torch.Tensor) -> None:
        self.t = t


def _reshape_tangent(node: fx.Node, t: torch.Tensor, shape: tuple, n_rows: int) -> torch.Tensor:
    batch = n_rows  # rows of t; shape[0] is the batch of x
    if len(shape) == 0:
        raise _unsupported(node, why="it reshapes away the batch axis")
    # row-major reshapes that keep the leading batch axis keep each sample's element order
    return t.reshape((batch,) + tuple(shape[1:]))


def _check_batch_axis(node: fx.Node, args: tuple, kwargs: dict, ndim: int) -> None:
    """Refuse slicing, reductions and permutations that touch the batch axis (they would mix samples)."""
    t = node.target

    def is0(d: Any) -> bool:
        return isinstance(d, int) and d % max(ndim, 1) == 0

    if t is operator.getitem:
        idx = args[1] if isinstance(args[1], tuple) else (args[1],)
        if not idx or idx[0] != slice(None):
            raise _unsupported(node, why="indexing must keep the whole batch axis (x[:, ...])")
    elif t in (torch.mean, torch.sum, "mean", "sum"):
        dim = kwargs.get("dim", args[1] if len(args) > 1 else None)
        dims = dim if isinstance(dim, (tuple, list)) else (dim,)
        if dim is None or any(is0(d) for d in dims):
            raise _unsupported(node, why="a mean or sum over the batch axis (give dim without 0)")
    elif t in (torch.transpose, "transpose"):
        if any(is0(d) for d in list(args[1:3]) + [kwargs.get("dim0"), kwargs.get("dim1")]):
            raise _unsupported(node, why="a transpose of the batch axis")
    elif t in (torch.permute, "permute"):
        dims = args[1] if len(args) == 2 and isinstance(args[1], (tuple, list)) else args[1:]
        dims = kwargs.get("dims", dims)
        if not dims or not is0(dims[0]):
            raise _unsupported(node, why="a permutation that moves the batch axis")


def _flat(a: Any) -> list:
    if isinstance(a, (tuple, list)):
        return [y for x in a for y in _flat(x)]
    if isinstance(a, dict):
        return [y for x in a.values() for y in _flat(x)]
    return [a]


def _vals(a: Any) -> Any:
    if isinstance(a, _Dep):
        return a.val
    if isinstance(a, tuple):
        return tuple(_vals(x) for x in a)
    if isinstance(a, list):
        return [_vals(x) for x in a]
    if isinstance(a, dict):
        return {k: _vals(v) for k, v in a.items()}
    return a


def _prepare(model: nn.Module, x: torch.Tensor, dtype: torch.dtype | None) -> tuple[nn.Module, torch.Tensor]:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() < 1 or x.shape[0] == 0:
        raise ValueError(f"x must be a non-empty batch (batch, ...), got shape {tuple(x.shape)}")
    if not (x.is_floating_point()):
        raise TypeError(f"x must be a floating-point tensor, got {x.dtype}")
    dtype = dtype or x.dtype
    params = list(model.parameters()) + list(model.buffers())
    if any(p.is_floating_point() and p.dtype != dtype for p in params):
        model = copy.deepcopy(model).to(dtype)
    return model, x.to(dtype)


_MAX_DENSE = 2**31  # numbers (16 GiB in float64) in a dense W_x; beyond that use linearize_operator


def _basis_chunk(n_in: int, rows: int, per_row: int, budget: float = 2.0**24) -> int:
    """Basis directions per pass, so that rows * m * per_row numbers stay within ``budget``."""
    return int(max(1, min(n_in, budget // max(rows * per_row, 1))))


def dense_linearization(
    model: nn.Module,
    x: torch.Tensor,
    *,
    chunk_size: int | None = 64,
    dtype: torch.dtype | None = torch.float64,
    mode: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""``(W_x, b_x)`` of a traced piecewise-linear network: ``(batch, n_out, numel(x[0]))``, ``(batch, n_out)``.

    See :func:`rmt_idinit.nn.linearize` (which calls this for networks other than MLPs).
    """
    _checks.check_choice("mode", mode, ("auto", "reverse", "forward"))
    if chunk_size is not None:
        chunk_size = _checks.check_scalar_int("chunk_size", chunk_size, minimum=1)
    model, x = _prepare(model, x, dtype)
    n_in = int(np.prod(x.shape[1:]))
    with torch.no_grad():
        n_out = FrozenPattern(model, x[:1]).n_out
    if x.shape[0] * n_out * n_in > _MAX_DENSE:
        raise ValueError(
            f"a dense W_x of shape ({x.shape[0]}, {n_out}, {n_in}) has more than {_MAX_DENSE} numbers; "
            "pass fewer inputs at a time, or use linearize_operator(model, x) for W_x v and W_x^T u"
        )
    step = chunk_size or x.shape[0]
    ws, bs = [], []
    for start in range(0, x.shape[0], step):
        xc = x[start : start + step]
        fp = FrozenPattern(model, xc)
        B, n_in, n_out = xc.shape[0], fp.n_in, fp.n_out
        use = mode if mode != "auto" else ("reverse" if 2 * n_out < n_in else "forward")
        if use == "reverse":
            t = torch.zeros((B,) + fp.input_shape, dtype=x.dtype, device=x.device, requires_grad=True)
            with torch.enable_grad():
                out = fp.apply(t)
                rows = [torch.autograd.grad(out[:, k].sum(), t, retain_graph=k < n_out - 1)[0].reshape(B, n_in)
                        for k in range(n_out)]
            W = torch.stack(rows, dim=1)
        else:
            W = x.new_empty((B, n_out, n_in))
            m = _basis_chunk(n_in, B, 2 * fp.largest + n_out)  # two live activations per node, at most
            eye = torch.eye(n_in, dtype=x.dtype, device=x.device)
            with torch.no_grad():
                for j in range(0, n_in, m):
                    e = eye[j : j + m]  # (m, n_in): the same basis chunk for every sample
                    reps = e.shape[0]
                    t = e.unsqueeze(0).expand(B, -1, -1).reshape((B * reps,) + fp.input_shape)
                    W[:, :, j : j + reps] = fp.apply(t, reps).reshape(B, reps, n_out).transpose(1, 2)
        ws.append(W.detach())
        bs.append(fp.bias.detach())
    return torch.cat(ws), torch.cat(bs)


class LinearizedOperator:
    r"""The exact linear map :math:`W_x` of one input x as an operator: ``matvec`` :math:`W_x v`,
    ``rmatvec`` :math:`W_x^T u` (both at the activation pattern frozen at x), never forming :math:`W_x`.

    Compatible with :class:`scipy.sparse.linalg.LinearOperator` (``shape``, ``dtype``, ``matvec``,
    ``rmatvec``, ``matmat``, ``rmatmat``); :meth:`to_scipy` wraps it. numpy inputs give numpy outputs,
    torch inputs torch outputs.

    Attributes
    ----------
    shape : (n_out, n_in)
    bias : torch.Tensor
        :math:`b_x`, shape ``(n_out,)``; ``output`` is ``model(x)`` flattened.
    """

    def __init__(self, model: nn.Module, x: torch.Tensor, dtype: torch.dtype | None = torch.float64) -> None:
        model, x = _prepare(model, x, dtype)
        if x.shape[0] != 1:
            raise ValueError(f"LinearizedOperator takes one input, shape (1, ...); got batch {x.shape[0]}")
        self._fp = FrozenPattern(model, x)
        self.shape = (self._fp.n_out, self._fp.n_in)
        self.torch_dtype = x.dtype
        self.dtype = np.dtype(str(x.dtype).replace("torch.", ""))
        self.bias = self._fp.bias[0]
        self.output = self._fp.output[0]
        self._device = x.device

    def _in(self, v: Any, n: int) -> tuple[torch.Tensor, bool, bool]:
        is_np = not isinstance(v, torch.Tensor)
        t = torch.as_tensor(np.asarray(v) if is_np else v).to(self._device, self.torch_dtype)
        vec = t.dim() == 1
        t = t.reshape(n, -1)
        return t, is_np, vec

    @staticmethod
    def _out(t: torch.Tensor, is_np: bool, vec: bool) -> Any:
        t = t.detach()
        t = t[:, 0] if vec else t
        return t.cpu().numpy() if is_np else t

    def matmat(self, V: Any) -> Any:
        """:math:`W_x V` for V of shape ``(n_in, k)``."""
        V, is_np, vec = self._in(V, self.shape[1])
        k = V.shape[1]
        with torch.no_grad():
            out = self._fp.apply(V.T.reshape((k,) + self._fp.input_shape), reps=k)  # (k, n_out)
        return self._out(out.T, is_np, vec)

    def rmatmat(self, U: Any) -> Any:
        """:math:`W_x^T U` for U of shape ``(n_out, k)``: one backward pass of the frozen map."""
        U, is_np, vec = self._in(U, self.shape[0])
        k = U.shape[1]
        t = torch.zeros((k,) + self._fp.input_shape, dtype=self.torch_dtype, device=self._device, requires_grad=True)
        with torch.enable_grad():
            out = self._fp.apply(t, reps=k)  # (k, n_out)
            g = torch.autograd.grad((out * U.T).sum(), t)[0]
        return self._out(g.reshape(k, -1).T, is_np, vec)

    def matvec(self, v: Any) -> Any:
        """:math:`W_x v`."""
        return self.matmat(v)

    def rmatvec(self, u: Any) -> Any:
        """:math:`W_x^T u`."""
        return self.rmatmat(u)

    def to_scipy(self):
        """A :class:`scipy.sparse.linalg.LinearOperator` with the same action (numpy in and out)."""
        from scipy.sparse.linalg import LinearOperator

        return LinearOperator(self.shape, matvec=self.matvec, rmatvec=self.rmatvec, matmat=self.matmat,
                              rmatmat=self.rmatmat, dtype=self.dtype)


def linearize_operator(model: nn.Module, x: torch.Tensor, *, dtype: torch.dtype | None = torch.float64
                       ) -> LinearizedOperator:
    r""":math:`W_x` of one input as a :class:`LinearizedOperator` (for inputs too large for a dense W_x).

    Examples
    --------
    >>> import torch
    >>> net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
    ...                     nn.Linear(8, 3)).double()
    >>> x = torch.randn(1, 1, 4, 4, dtype=torch.float64)
    >>> op = linearize_operator(net, x)
    >>> op.shape
    (3, 16)
    >>> bool(torch.allclose(op.matvec(x.flatten()) + op.bias, net(x)[0]))
    True
    """
    return LinearizedOperator(model, x, dtype=dtype)
