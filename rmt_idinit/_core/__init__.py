"""Private core shared by the numerics, each piece once; nothing here is public API.

* :mod:`.checks` -- every parameter check (imports nothing from the package);
* :mod:`.gauss` -- the cached Gauss rules (Legendre, panels, normal expectations, Hermite, Laguerre);
* :mod:`.gaussian` -- Gaussian interval masses accurate in both tails, the normal range cutoff;
* :mod:`.hardtanh` -- the Gaussian moments of hard-tanh;
* :mod:`.logsum` -- the NaN-safe log-sum-exp;
* :mod:`.kernels` -- the numba kernels of the layer recursion;
* :mod:`.errors` -- the package's warning classes.

Names shared between modules carry no leading underscore here (the package itself is private).
"""
