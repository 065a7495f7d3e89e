"""Random-init laws against simulated networks at N = 1500 (the actual forward pass at q*).

Each test builds a network with i.i.d. Gaussian weights of variance sigma_w^2 / N at the critical
point with fixed point q*, feeds an input at the fixed point, forms J = D^L W^L ... D^1 W^1 from
the actual activation pattern, and takes the eigenvalues of J Jᵀ.

Tolerances, and why (measured with seeds 0-2 at N = 1500 on this machine, one-off script):

* linear Gaussian, depth 3 (Fuss-Catalan): KS 0.0020-0.0025 (0.0039-0.0049 at N = 750). The ESD
  of a product of Gaussian matrices is rigid: its distance to the limit is a deterministic O(1/N)
  bias plus O(log N / N) fluctuations, far below the i.i.d. DKW scale (1.36/sqrt(N) = 0.035).
  Tolerance 0.006: 2.4x the largest measured value, five times below the 0.031 that the old
  tabulated CDF gave.
* hard-tanh Gaussian, depth 2 (q* = 1/2): KS 0.0067-0.0140. Here the finite net carries binomial
  noise the limit cannot know: a_l, the active units of layer l, has standard deviation
  sqrt(p(1-p) N) (0.0094 N here), and the zero atom is exactly ``1 - min_l a_l / N`` (rank of J).
  To first order the finite net is the free product with ``p_l = a_l / N``, so the tolerance is
  ``sum_l |a_l/N - p|`` from the realized pattern plus the rigid-bulk allowance 0.006.
"""
import math

import numpy as np

from rmt_idinit.random_init import freeprob as fp
from rmt_idinit.activations import get_activation

N = 1500


def simulate(L, activation, setting, rng):
    act = get_activation(activation)
    h = rng.normal(0.0, math.sqrt(setting.q_star), N)
    x = act.phi(h)
    J, active = None, []
    for _ in range(L):
        W = rng.normal(0.0, setting.sigma_w / math.sqrt(N), (N, N))
        h = W @ x + (rng.normal(0.0, setting.sigma_b, N) if setting.sigma_b > 0 else 0.0)
        x = act.phi(h)
        d = act.dphi(h)
        active.append(int(np.count_nonzero(d)))
        J = d[:, None] * (W if J is None else W @ J)
    lam = np.sort(np.abs(np.linalg.eigvalsh(J @ J.T)))
    zeros = N - min(active)  # rank(J) = min_l a_l for generic W: the zero count, exactly
    lam[:zeros] = 0.0
    return lam, np.array(active) / N


def ks_distance(lam, law):
    """sup |F_N - F| over right and left limits at every sample (atoms included)."""
    n = lam.size
    i = np.arange(1, n + 1)
    F = law.cdf(lam)
    Fm = law.cdf(np.where(lam > 0, lam * (1 - 1e-12), -1.0))
    return float(max(np.max(i / n - F), np.max(Fm - (i - 1) / n)))


BULK_TOL = 0.006


def test_linear_gaussian_depth3_network():
    law = fp.random_jjt_law(3, "linear", "gaussian", q_star=1.0)
    lam, _ = simulate(3, "linear", law.setting, np.random.default_rng(0))
    assert ks_distance(lam, law) < BULK_TOL


def test_hardtanh_gaussian_depth2_network():
    law = fp.random_jjt_law(2, "hardtanh", "gaussian", q_star=0.5)
    lam, active = simulate(2, "hardtanh", law.setting, np.random.default_rng(1))
    p = 1.0 - float(law.cdf(0.0))
    # first order in the realized active fractions: the finite net is the free product of laws
    # with p_l = a_l / N, which moves the CDF by at most sum_l |p_l - p|
    drift = float(np.sum(np.abs(active - p)))
    d = ks_distance(lam, law)
    assert d < drift + BULK_TOL, (d, drift)
