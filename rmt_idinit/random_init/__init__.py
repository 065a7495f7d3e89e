"""Random-initialization baselines: mean-field signal propagation (:mod:`.meanfield`), the limiting
J Jᵀ laws of free probability (:mod:`.freeprob`), and identity-versus-random comparison
(:mod:`.compare`). Pure numerics; matplotlib is imported only by the plotting helpers."""

_SUBMODULES = ("meanfield", "freeprob", "compare")


def __getattr__(name: str):
    # ``ri.random_init.freeprob`` works without an explicit import, like the top level's submodules
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
