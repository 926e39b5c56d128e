"""The numbers the handout (student_template/numpy-clr/README.md) publishes, which the reference
must reproduce. Kept in one place so the handout, ``check_reference`` and the tests agree."""

from __future__ import annotations

#: Check problem (``toy_problem()``: 20 images, 10 dimensions, m = 50, seed 0) at lam = 0.01.
TOY_COST = 3.05737986060
TOY_LOSS = 2.45359097250
TOY_ACCURACY = 0.05
#: ``cyclical_eta(t, 1e-5, 1e-1, 500)`` at t = 0, 250, 500, 750, 1000, 1250.
ETA_POINTS = {0: 1e-5, 250: 0.050005, 500: 0.1, 750: 0.050005, 1000: 1e-5, 1250: 0.050005}
#: Reduced configuration 1 (``reduced_data()``, ``init_weights(100, 50, 10, seed=2)``): training cost
#: after the first and the last (10th) epoch, validation cost and accuracy after the last.
REDUCED_COST_FIRST = 2.89651355939
REDUCED_COST_LAST = 0.81283230800
REDUCED_VAL_COST_LAST = 0.87799464969
REDUCED_VAL_ACC_LAST = 0.994
#: Published on the real CIFAR-10 (test accuracy): configuration 1, and the final run with a
#: searched lambda. Reproduced by the reference only where the data set is available.
CIFAR_CONFIG_1_ACCURACY = 0.458
CIFAR_FINAL_ACCURACY = 0.52
#: Digits the handout prints: a reproduction must agree to this absolute difference.
PRINTED_TOLERANCE = 1e-10
