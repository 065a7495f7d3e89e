"""Random-initialization baselines: mean-field signal propagation (:mod:`.meanfield`), the limiting
J Jᵀ laws of free probability (:mod:`.freeprob`), and identity-versus-random comparison
(:mod:`.compare`). Pure numerics; matplotlib is imported only by the plotting helpers."""
