"""Coefficients of the expm1 polynomial in rmt_idinit/_core/kernels.py (vexpm1_parts).

expm1(r) = r + r^2 q(r) on |r| <= ln2/2 (the Cody-Waite reduced range), q of degree DEG with
``q(r) = 1/2 + r s(r)``: c0 = 1/2 is kept exact (a fitted c0 rounded to double would cost up to
2^-54 |r| relative), and s, of degree DEG - 1, interpolates ``(q(r) - 1/2) / r`` at the DEG
Chebyshev points of the range (within a small factor of the minimax error), in 60-digit mpmath,
then rounded to double. Prints the coefficients (c0 first) and the relative error of
r + r^2 q(r) with the rounded coefficients, evaluated exactly, on a dense grid.
Run:  python tools/expm1_poly.py [DEG]
"""
import sys

import mpmath as mp

mp.mp.dps = 60
A = mp.log(2) / 2


def s_true(r):
    # (expm1(r) - r - r^2/2) / r^3 as its series: no cancellation at the node next to r = 0
    return mp.fsum(r ** n / mp.factorial(n + 3) for n in range(60))


def rel_err(c, r):
    q = mp.mpf(0)
    for ck in reversed(c):
        q = q * r + ck
    p = r + r * r * q
    return (p - mp.expm1(r)) / mp.expm1(r)


def coefficients(deg):
    xs = [A * mp.cos(mp.pi * (2 * k + 1) / (2 * deg)) for k in range(deg)]
    V = mp.matrix([[x ** j for j in range(deg)] for x in xs])
    sol = mp.lu_solve(V, mp.matrix([s_true(x) for x in xs]))
    return [mp.mpf(1) / 2] + [sol[j] for j in range(deg)]


def main():
    deg = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    c = coefficients(deg)
    cd = [float(x) for x in c]
    grid = [A * (2 * mp.mpf(k) / 20000 - 1) for k in range(20001)]
    exact = max(abs(rel_err(c, g)) for g in grid if g != 0)
    worst = max(abs(rel_err([mp.mpf(x) for x in cd], g)) for g in grid if g != 0)
    print(f"degree {deg} (expm1 total degree {deg + 2}): max relative error {float(exact):.2e} "
          f"unrounded, {float(worst):.2e} with the double coefficients")
    for k, x in enumerate(cd):
        print(f"    {x!r},  # c{k}")


if __name__ == "__main__":
    main()
