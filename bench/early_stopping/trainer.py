"""A synthetic training run for bench/early_stopping: a learning curve whose
final quality and speed depend on the parameters, reported step by step with
the Vernier Python client (metrics collector push).

Accuracy at step t (1..max_step) is 0.1 + (q - 0.1) * (1 - exp(-t / tau)) plus
Gaussian noise (sd 0.004), where
  q   = 0.95 - 0.15 (log10 lr + 1.5)^2 - 0.2 (reg - 0.3)^2, at least 0.2:
        the final quality, best at lr = 0.03, reg = 0.3;
  tau = 6 (0.03 / lr)^0.15: larger learning rates learn faster.
So curves cross: lr = 0.3 (q = 0.81) leads lr = 0.03 (q = 0.95) until about
step 6. The noise of a step is a function of (lr, reg, step), so the same
configuration gives the same curve under every stopping rule.

Stops as soon as a report answers should_stop; otherwise completes with the
accuracy of its last step as the final objective.

Usage: trainer.py MAX_STEP STEP_SECONDS
"""
import hashlib
import math
import random
import struct
import sys
import time

import vernier


def quality(lr, reg):
    return max(0.2, 0.95 - 0.15 * (math.log10(lr) + 1.5) ** 2 - 0.2 * (reg - 0.3) ** 2)


def speed(lr):
    return 6 * (0.03 / lr) ** 0.15


def accuracy(lr, reg, step):
    digest = hashlib.sha256(struct.pack("<ddq", lr, reg, step)).digest()
    noise = random.Random(digest).gauss(0, 0.004)
    q = quality(lr, reg)
    return 0.1 + (q - 0.1) * (1 - math.exp(-step / speed(lr))) + noise


def main():
    max_step, step_seconds = int(sys.argv[1]), float(sys.argv[2])
    trial = vernier.current_trial()
    lr, reg = trial.params["lr"], trial.params["reg"]
    value = None
    for step in range(1, max_step + 1):
        time.sleep(step_seconds)  # the "epoch"
        value = accuracy(lr, reg, step)
        if trial.report(step, {"accuracy": value}).should_stop:
            return
    trial.complete({"accuracy": value})


if __name__ == "__main__":
    main()
