"""The answer of `select`/`report`: rounding, 'nothing is feasible', what would be, the summary page."""
import math
from html.parser import HTMLParser

import numpy as np
import pytest

from rmt_idinit import select as sel
from rmt_idinit.report import _md_to_html
from rmt_idinit.select import recommend, round_in_interval, what_would_be_feasible


def _nonempty(depth, q0, eps, kappa):
    lo, hi = sel.feasible_sigma_interval(q0, depth, eps=eps, kappa=kappa)
    return bool(np.isfinite(lo))


@pytest.mark.parametrize("depth,q0", [(100, 50.0), (100, 0.3), (20, 0.5), (7, 2.0)])
def test_hardtanh_suggestions_sit_on_the_feasibility_boundary(depth, q0):
    eps, kappa = 0.05, 10.0
    assert not _nonempty(depth, q0, eps, kappa)
    w = what_would_be_feasible(q0, depth, eps=eps, kappa=kappa)
    # each suggestion checked by the closed-form feasible interval just inside and just outside
    assert _nonempty(depth, w["max_q0"] * (1 - 1e-9), eps, kappa)
    assert not _nonempty(depth, w["max_q0"] * (1 + 1e-9), eps, kappa)
    assert _nonempty(depth, q0, w["min_eps"] * (1 + 1e-9), kappa)
    assert not _nonempty(depth, q0, w["min_eps"] * (1 - 1e-9), kappa)
    lk = w["log10_min_kappa"] * math.log(10)
    if lk < 700:
        assert _nonempty(depth, q0, eps, math.exp(lk * (1 + 1e-9)))
        assert not _nonempty(depth, q0, eps, math.exp(lk * (1 - 1e-9)))
    if w["max_depth"]:
        assert _nonempty(w["max_depth"], q0, eps, kappa) and not _nonempty(w["max_depth"] + 1, q0, eps, kappa)
    else:
        assert not _nonempty(1, q0, eps, kappa)


@pytest.mark.parametrize("depth,q0", [(100, 0.3), (30, 0.3)])
def test_generic_bisection_agrees_with_closed_forms(depth, q0):
    eps, kappa = 0.05, 10.0
    exact = what_would_be_feasible(q0, depth, eps=eps, kappa=kappa)
    scan = what_would_be_feasible(q0, depth, eps=eps, kappa=kappa, generic=True)
    # the generic path only sees the sigma scan exp(linspace(-15, 15, 241) / L): step d = 0.125 / L
    # in log sigma, so it is conservative by at most one step: q0_max ~ sigma^-2 (factor e^(2d)),
    # kappa ~ sigma^(-2L) (factor e^(2Ld) = e^0.25); bisection tolerance 1e-4 in logs on top.
    d = 0.125 / depth
    assert exact["max_q0"] * math.exp(-2 * d - 2e-4) <= scan["max_q0"] <= exact["max_q0"] * (1 + 2e-4)
    assert exact["log10_min_kappa"] - 2e-4 <= scan["log10_min_kappa"] <= exact["log10_min_kappa"] + (2 * depth * d + 2e-4) / math.log(10)
    s_lo = float(sel.sigma_window(depth, kappa=kappa)[0])
    assert exact["min_eps"] <= scan["min_eps"] <= float(sel.dead_fraction(s_lo * math.exp(d), q0, depth))
    assert scan["max_depth"] <= exact["max_depth"]


def test_rounding_follows_the_interval():
    assert round_in_interval(0.9999979960154878, 0.98855, 1.00116) == (1.0, 3)
    v, d = round_in_interval(1.00049, 1.0004, 1.0006)
    assert d == 5 and v == 1.00049 and 1.0004 <= v <= 1.0006
    with pytest.raises(ValueError, match="value must lie"):
        round_in_interval(2.0, 0.0, 1.0)


def test_recommend_margins_are_at_the_rounded_sigma():
    r = recommend(0.2064, 100)
    assert r["sigma"] == 1.0
    assert r["dead_fraction"] == pytest.approx(math.erfc(1 / math.sqrt(2 * 0.2064)), rel=1e-12)
    assert r["eps_margin"] == pytest.approx(0.05 - r["dead_fraction"])
    assert r["kappa_spare_factor"] == pytest.approx(10.0)


def test_old_report_helpers_forward_with_the_old_order():
    from rmt_idinit import report

    with pytest.warns(DeprecationWarning, match=r"report\.recommend .*select\.recommend\(q0, depth"):
        old = report.recommend(100, 0.2064, 0.05, 10.0)
    assert old == recommend(0.2064, 100, eps=0.05, kappa=10.0)
    with pytest.warns(DeprecationWarning, match="what_would_be_feasible"):
        old = report.what_would_be_feasible(100, 0.3, 0.05, 10.0)
    assert old == what_would_be_feasible(0.3, 100, eps=0.05, kappa=10.0)
    with pytest.warns(DeprecationWarning, match="why_infeasible"):
        old = report.why_infeasible(100, 0.3, 0.05, 10.0)
    assert old == sel.why_infeasible(0.3, 100, eps=0.05, kappa=10.0)
    with pytest.warns(DeprecationWarning, match="round_in_interval"):
        assert report.round_in_interval(1.00049, 1.0004, 1.0006) == round_in_interval(1.00049, 1.0004, 1.0006)


class _Paragraphs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.paras = [], []

    def handle_starttag(self, tag, attrs):
        if tag == "p":
            self.paras.append("")
        self.stack.append(tag)

    def handle_endtag(self, tag):
        self.stack.pop()

    def handle_data(self, data):
        if "p" in self.stack:
            self.paras[-1] += data


def test_summary_html_keeps_paragraphs_whole():
    md = "# T\n\nA sentence that is\nbroken over two lines.\n\n- item one\n- item two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    html = _md_to_html(md)
    p = _Paragraphs()
    p.feed(html)
    assert p.paras == ["A sentence that is\nbroken over two lines."]
    assert "<table>" in html and html.count("<li>") == 2 and "<h1>T</h1>" in html
