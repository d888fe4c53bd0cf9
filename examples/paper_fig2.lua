-- paper_fig2.lua: the second experiment of "Local Gradient Descent Methods for GMM
-- Simplification": 15 Gaussians in 10-D, 10,000 points, EM with 30 components, reduced to
-- 15. The paper reports K-means (4 updates per assignment) ending about 3 times sooner
-- than gradient descent, with a larger error; this script measures what gmmkit gives.
-- Writes fig2_slices.png (2-D slices), fig2_convergence.png and fig2.md.
--   gmmkit examples/paper_fig2.lua [--out DIR] [--seed N] [--points N]
local gk = require "gmmkit"
local ex = gk.experiment

local opt = ex.setup(arg, "paper_fig2", {
  seed = 2,
  points = ex.smoke() and 4000 or 10000,
  dim = 10,
  truth = 15,
  fit = 30,
  target = 15,
  methods = {"gd", "kmeans", "lbfgs", "topk", "runnalls", "minise", "gmrc"},
}, "paper_fig2.lua: 10-D, 30 -> 15 components (the paper's figure 2)")

-- The true mixture: means uniform in [0, 10]^D, diagonal variances uniform in [0.2, 1.2],
-- weights uniform then normalised.
local D, K = opt.dim, opt.truth
local u = gk.matrix.random(K, 2 * D + 1, {seed = opt.seed, dist = "uniform"})
local weights, means, covs, total = {}, {}, {}, 0
for k = 1, K do
  weights[k] = 0.5 + u:get(k, 2 * D + 1)
  total = total + weights[k]
  means[k], covs[k] = {}, {}
  for d = 1, D do
    means[k][d] = 10 * u:get(k, d)
    covs[k][d] = 0.2 + u:get(k, D + d)
  end
end
for k = 1, K do weights[k] = weights[k] / total end
local truth = gk.gmm.new{weights = weights, means = means, covariances = covs, covariance_type = "diag"}
local X = truth:sample(opt.points, {seed = opt.seed})

-- The EM fit.
local f, em = gk.gmm.train(X, {components = opt.fit, covariance_type = "full", seed = opt.seed, max_iter = 200, tol = 1e-6})
print(string.format("EM: %d components in %d-D, %d iterations, %.2f s", opt.fit, D, em.iterations, em.seconds))

-- Compare: the table, what K-means gains in time and loses in NISE against gradient
-- descent, two 2-D slices of f and the lbfgs and kmeans reductions, the convergence, fig2.md.
local function kmeans_against_gd(r)
  local gd, km = r.by.gd, r.by.kmeans
  if not (gd and km) then return "" end
  return string.format("K-means ended %.2f times %s than gradient descent, with a NISE %.3g times gd's.",
    gd.seconds >= km.seconds and gd.seconds / km.seconds or km.seconds / gd.seconds,
    gd.seconds >= km.seconds and "sooner" or "later", km.nise / gd.nise)
end
local function slices(r)
  for _, dims in ipairs({{1, 2}, {3, 4}}) do
    gk.plot.mixtures{mixtures = {f, r.by.lbfgs.model, r.by.kmeans.model}, labels = {"f (30)", "lbfgs (15)", "kmeans (15)"},
      points = X, dims = dims, ellipses = false, file = string.format("%s/fig2_slice_%d%d.png", opt.out, dims[1], dims[2]),
      title = string.format("10-D, 30 -> 15: dimensions %d-%d", dims[1], dims[2])}
  end
end
ex.compare(f, opt.target, opt.methods, {data = X, seed = opt.seed, out = opt.out, name = "fig2",
  title = "Figure 2: 10-D, 30 -> 15", notes = kmeans_against_gd, plots = opt.plots, figures = slices,
  convergence = "10-D, 30 -> 15: ISE against time"})
