"""The iteration schedule and the ETA: pure arithmetic, checked without running the engine."""

from __future__ import annotations

import pytest

from impasto.nst import schedule
from impasto.nst.options import Options

R = schedule.OWN_RESTART_ITERATIONS  # the default's runs: the engine's own L-BFGS


def measured(iterations: int, seconds: float) -> list[float]:
    """A scale's iteration times: the first includes tracing (4× as long), the rest ``seconds`` each."""
    return [4 * seconds] + [seconds] * (iterations - 1) if iterations else []


def test_the_polish_takes_a_fifth_of_each_scale():
    assert [schedule.polish_iterations(n) for n in (1, 2, 10, 30, 70)] == [0, 1, 2, 6, 14]


def test_restarts_still_to_come():
    """A 70-iteration scale starts L-BFGS twice: at 0 (free) and at 56 (the polish)."""
    assert [schedule.restarts_after(70, done) for done in (-1, 10, 56, 57)] == [2, 1, 1, 0]
    assert schedule.restarts_after(70, -1, pixel_bounds=True) == 1  # bounded all the way: one run
    assert schedule.restarts_after(10, -1, round_evals=20) == 0  # rounds: restarts are in the measured speed


def test_eta_counts_iterations_left_and_every_lbfgs_restart_to_come():
    """Default 512 px job: 85 iterations at 256 px (68 free + 17 polish), 15 at 512 px (12 + 3)."""
    options = Options(size=512, iterations=100)
    plan, sizes = options.scale_iterations(), options.scale_sizes()
    assert plan == [85, 15] and sizes == [256, 512]
    fine = 4**schedule.PIXEL_EXPONENT  # 4× the pixels
    halfway = schedule.eta(measured(50, 1.0), plan, sizes, scale=0, done_in_scale=50)
    assert halfway == pytest.approx((35 + R) + (15 + 2 * R) * fine)
    # At the final scale its own speed counts, and only the polish is still to start.
    late = schedule.eta(measured(10, 2.0), plan, sizes, scale=1, done_in_scale=10)
    assert late == pytest.approx(2.0 * (5 + R))
    # Bounded all the way (scipy's L-BFGS-B): one run per scale, each start costing more.
    bounded = schedule.eta(measured(10, 2.0), plan, sizes, scale=1, done_in_scale=10, pixel_bounds=True)
    assert bounded == pytest.approx(2.0 * 5)
    early = schedule.eta(measured(50, 1.0), plan, sizes, scale=0, done_in_scale=50, pixel_bounds=True)
    assert early == pytest.approx(35 + (15 + schedule.RESTART_ITERATIONS) * fine)


def test_eta_takes_the_median_of_the_last_ten_iterations():
    seconds = [9.0] + [1.0] * 5 + [3.0] * 10  # the scale slowed down: only the recent speed counts
    assert schedule.eta(seconds, [100], [256], scale=0, done_in_scale=16) == pytest.approx(3.0 * (84 + R))


def test_eta_in_the_articles_rounds_counts_evaluations():
    plan = Options.from_mapping({"preset": "article"}).scale_iterations()
    assert schedule.eta(measured(40, 0.5), plan, [512], scale=0, done_in_scale=40, round_evals=20) == \
        pytest.approx(0.5 * (200 - 40))


def test_a_later_scale_goes_by_the_scale_befores_speed_until_its_own_is_timed():
    plan, sizes = [43, 9], [256, 512]
    fine = 4**schedule.PIXEL_EXPONENT
    # At the final scale's second iteration: none of its own steady seconds yet, 0.15 s at 256 px before.
    early = schedule.eta([1.2], plan, sizes, scale=1, done_in_scale=1, earlier=0.15)
    assert early == pytest.approx(0.15 * fine * (8 + R))
    # Once three are timed, its own speed counts, whatever the scale before said.
    own = schedule.eta([1.2, 0.4, 0.4, 0.4], plan, sizes, scale=1, done_in_scale=4, earlier=0.15)
    assert own == pytest.approx(0.4 * (5 + R))
    # The first scale has no scale before it.
    assert schedule.eta([1.2], plan, sizes, scale=0, done_in_scale=1, earlier=0.15) is None
    assert schedule.seconds_per_iteration([1.2, 0.4, 0.5, 0.3]) == pytest.approx(0.4)
    assert schedule.seconds_per_iteration([1.2, 0.4]) is None


def test_later_scales_cost_what_the_cost_model_says_when_it_is_given():
    plan, sizes, costs = [43, 9], [256, 512], [0.18, 0.47]  # the cost model's seconds per iteration
    early = schedule.eta([1.2], plan, sizes, scale=1, done_in_scale=1, earlier=0.15, costs=costs)
    assert early == pytest.approx(0.15 * 0.47 / 0.18 * (8 + R))
    whole = schedule.eta([1.2, 0.15, 0.15, 0.15], plan, sizes, scale=0, done_in_scale=4, costs=costs)
    assert whole == pytest.approx(0.15 * (39 + R) + 0.15 * 0.47 / 0.18 * (9 + 2 * R))  # the polish: 1 and 2 restarts


def test_a_later_scales_set_up_and_tracing_are_counted_at_the_measured_speed():
    plan, sizes, costs, set_ups = [43, 9], [256, 512], [0.18, 0.47], [0.65, 0.9]  # the cost model's seconds
    without = schedule.eta([1.2, 0.15, 0.15, 0.15], plan, sizes, scale=0, done_in_scale=4, costs=costs)
    ahead = schedule.eta([1.2, 0.15, 0.15, 0.15], plan, sizes, scale=0, done_in_scale=4, costs=costs, set_ups=set_ups)
    assert ahead == pytest.approx(without + 0.9 * 0.15 / 0.18)  # the 512 px scale's, at 0.15/0.18 of the model
    # in the last scale nothing is left to set up
    last = schedule.eta([1.2, 0.4, 0.4, 0.4], plan, sizes, scale=1, done_in_scale=4, costs=costs)
    assert schedule.eta([1.2, 0.4, 0.4, 0.4], plan, sizes, scale=1, done_in_scale=4, costs=costs,
                        set_ups=set_ups) == pytest.approx(last)


def test_a_runs_eta_uses_the_cost_models_ratio_for_its_pictures_aspect():
    from impasto.nst import cost
    from impasto.nst.optimizer import Run

    options = Options(size=512)
    run = Run(options, None, None, 0.0)
    wide, square = run._scale_costs(384, 512), run._scale_costs(512, 512)
    assert wide[1] / wide[0] == pytest.approx(
        cost.evaluation_seconds(options, 0.196608, 0.75) / cost.evaluation_seconds(options, 0.049152, 0.75), rel=0.05)
    assert 2.0 < wide[1] / wide[0] < square[1] / square[0] < 4**schedule.PIXEL_EXPONENT + 0.1


def test_eta_needs_three_measured_iterations_after_the_first():
    assert schedule.eta([], [10], [64], scale=0, done_in_scale=0) is None
    assert schedule.eta([3.0], [10], [64], scale=0, done_in_scale=1) is None  # only the first, with tracing
    assert schedule.eta([3.0, 1.0, 0.5], [10], [64], scale=0, done_in_scale=3) is None  # still warming up
    assert schedule.eta([3.0, 1.0, 0.5, 0.5], [10], [64], scale=0, done_in_scale=4) == pytest.approx(0.5 * (6 + R))
