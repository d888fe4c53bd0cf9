#!/usr/bin/python3
"""Reference EM results from scikit-learn's GaussianMixture for tests/spec/gmm_spec.lua.

Writes tests/data/em/<case>_{X,w0,mu0,cov0,w,mu,cov,ll}.npy for the cases
  diag: N=3000, D=5, K=4 diagonal covariances, 15 EM iterations
  full: N=3000, D=4, K=3 full covariances, 15 EM iterations
Same data (float32, read by sklearn as the same values in float64), same initial
parameters (weights_init, means_init, precisions_init), same number of iterations
(max_iter with tol=0 so that it never stops early), reg_covar=1e-6 (gmmkit's reg).
cov is K x D (diag) or (K*D) x D (full, the K matrices stacked); ll is the mean
log-likelihood per frame of the final model (GaussianMixture.score); bic and aic its
GaussianMixture.bic / .aic.

Also writes Kaldi text GMMs (kaldi_diag.txt, kaldi_full.txt) of known parameters
(kaldi_{diag,full}_{w,mu,cov}.npy) in the layout of gmm-global-copy / fgmm-global-copy
--binary=false (Kaldi's DiagGmm::Write, FullGmm::Write: gconsts, weights, means times
inverse (co)variances, inverse (co)variances; full ones as packed lower triangles).

Generated with scikit-learn 1.2.1 and NumPy 1.24.2 (Debian 12: python3-sklearn).
Run: /usr/bin/python3 scripts/ref/em_ref.py  (from the repository root)
"""
import os
import warnings

import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "em")
ITERS = 15
REG = 1e-6


def make_data(rng, n, d, k):
    centres = rng.normal(0.0, 3.0, size=(k, d))
    scales = rng.uniform(0.5, 1.5, size=(k, d))
    lab = rng.integers(0, k, size=n)
    X = centres[lab] + rng.normal(size=(n, d)) * scales[lab]
    if d >= 2:  # some correlation, so that full covariances matter
        X[:, 1] += 0.5 * X[:, 0]
    return X.astype(np.float32)


def save(case, **arrays):
    for name, a in arrays.items():
        a = np.asarray(a, dtype=np.float32 if name == "X" else np.float64)
        if a.ndim == 1:
            a = a.reshape(-1, 1)
        np.save(os.path.join(OUT, f"{case}_{name}.npy"), a)


def run(case, cov_type, n, d, k, seed):
    rng = np.random.default_rng(seed)
    X = make_data(rng, n, d, k)
    X64 = X.astype(np.float64)
    # Initial parameters: k random frames as means, the global variance, uniform weights.
    idx = rng.choice(n, size=k, replace=False)
    mu0 = X64[idx].copy()
    w0 = np.full(k, 1.0 / k)
    if cov_type == "diag":
        cov0 = np.tile(X64.var(axis=0), (k, 1))
        prec0 = 1.0 / cov0
    else:
        c = np.cov(X64, rowvar=False, bias=True)
        cov0 = np.stack([c] * k)
        prec0 = np.stack([np.linalg.inv(c)] * k)
    gm = GaussianMixture(n_components=k, covariance_type=cov_type, weights_init=w0, means_init=mu0,
                         precisions_init=prec0, max_iter=ITERS, tol=0.0, reg_covar=REG, n_init=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm.fit(X64)
    assert gm.n_iter_ == ITERS, gm.n_iter_
    cov = gm.covariances_ if cov_type == "diag" else gm.covariances_.reshape(k * d, d)
    cov0 = cov0 if cov_type == "diag" else cov0.reshape(k * d, d)
    save(case, X=X, w0=w0, mu0=mu0, cov0=cov0, w=gm.weights_, mu=gm.means_, cov=cov, ll=[gm.score(X64)],
         bic=[gm.bic(X64)], aic=[gm.aic(X64)])
    print(f"{case}: mean log-likelihood {gm.score(X64):.10f} after {gm.n_iter_} iterations")


def kaldi_files():
    rng = np.random.default_rng(5)
    k, d = 3, 4
    w = np.array([0.2, 0.5, 0.3])
    mu = rng.normal(size=(k, d))
    var = rng.uniform(0.5, 2.0, size=(k, d))
    iv = 1.0 / var
    gc = np.log(w) - 0.5 * (d * np.log(2 * np.pi) + np.log(var).sum(1) + (mu * mu * iv).sum(1))
    fmt = lambda v: " ".join(f"{x:.9g}" for x in v)
    with open(os.path.join(OUT, "kaldi_diag.txt"), "w") as f:
        f.write("<DiagGMM> \n")
        f.write(f"<GCONSTS>  [ {fmt(gc)} ]\n<WEIGHTS>  [ {fmt(w)} ]\n<MEANS_INVVARS>  [")
        for r in mu * iv:
            f.write(f"\n  {fmt(r)} ")
        f.write("]\n<INV_VARS>  [")
        for r in iv:
            f.write(f"\n  {fmt(r)} ")
        f.write("]\n</DiagGMM> \n")
    save("kaldi_diag", w=w, mu=mu, cov=var)
    covs = []
    with open(os.path.join(OUT, "kaldi_full.txt"), "w") as f:
        P = []
        gcs = []
        for c in range(k):
            A = rng.normal(size=(d, d))
            S = A @ A.T / d + np.eye(d)
            covs.append(S)
            Pi = np.linalg.inv(S)
            P.append(Pi)
            gcs.append(np.log(w[c]) - 0.5 * (d * np.log(2 * np.pi) + np.linalg.slogdet(S)[1] + mu[c] @ Pi @ mu[c]))
        f.write("<FullGMM> \n")
        f.write(f"<GCONSTS>  [ {fmt(gcs)} ]\n<WEIGHTS>  [ {fmt(w)} ]\n<MEANS_INVCOVARS>  [")
        for c in range(k):
            f.write(f"\n  {fmt(P[c] @ mu[c])} ")
        f.write("]\n<INV_COVARS> ")
        for c in range(k):
            f.write("[\n")
            for i in range(d):
                f.write(fmt(P[c][i, :i + 1]) + " " + ("]\n" if i == d - 1 else "\n"))
        f.write("</FullGMM> \n")
    save("kaldi_full", w=w, mu=mu, cov=np.concatenate(covs))


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    print(f"scikit-learn {sklearn.__version__}, numpy {np.__version__}")
    run("diag", "diag", 3000, 5, 4, 11)
    run("full", "full", 3000, 4, 3, 12)
    kaldi_files()
