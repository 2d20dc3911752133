"""Kernel ridge regression on scikit-learn's bundled diabetes data set:
prints the 5-fold cross-validated mean squared error as `name=value` lines for
Vernier's stdout collector."""
import argparse
import time

from sklearn.datasets import load_diabetes
from sklearn.kernel_ridge import KernelRidge
from sklearn.model_selection import KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--alpha", type=float, required=True)
    parser.add_argument("--gamma", type=float, required=True)
    parser.add_argument("--kernel", choices=["rbf", "laplacian", "poly"], required=True)
    parser.add_argument("--degree", type=int, default=3)
    args = parser.parse_args()

    x, y = load_diabetes(return_X_y=True)
    model = make_pipeline(StandardScaler(), KernelRidge(
        alpha=args.alpha, gamma=args.gamma, kernel=args.kernel, degree=args.degree))
    start = time.monotonic()
    folds = KFold(n_splits=5, shuffle=True, random_state=0)
    scores = -cross_val_score(model, x, y, cv=folds, scoring="neg_mean_squared_error")
    for fold, _ in enumerate(scores, start=1):
        print(f"step={fold} mse={scores[:fold].mean():.4f}", flush=True)
    print(f"mse={scores.mean():.4f} fit_seconds={time.monotonic() - start:.3f}")


if __name__ == "__main__":
    main()
