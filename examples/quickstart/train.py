"""Trains an SVM on scikit-learn's bundled digits data set and prints its
cross-validated accuracy as `name=value` lines for Vernier's stdout collector."""
import argparse
import time

from sklearn.datasets import load_digits
from sklearn.model_selection import cross_val_score
from sklearn.svm import SVC


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--C", type=float, required=True)
    parser.add_argument("--gamma", type=float, required=True)
    parser.add_argument("--kernel", choices=["rbf", "poly", "sigmoid"], required=True)
    parser.add_argument("--folds", type=int, default=3)
    args = parser.parse_args()

    digits = load_digits()
    model = SVC(C=args.C, gamma=args.gamma, kernel=args.kernel)
    start = time.monotonic()
    scores = cross_val_score(model, digits.data, digits.target, cv=args.folds)
    for fold, score in enumerate(scores, start=1):
        # Intermediate measurements: the running mean after each fold.
        print(f"step={fold} accuracy={scores[:fold].mean():.6f}", flush=True)
    print(f"accuracy={scores.mean():.6f} fit_seconds={time.monotonic() - start:.3f}")


if __name__ == "__main__":
    main()
