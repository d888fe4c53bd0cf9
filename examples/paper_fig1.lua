-- paper_fig1.lua: the first experiment of "Local Gradient Descent Methods for GMM
-- Simplification": 5 Gaussians in 2-D with equal diagonal covariance, random means and
-- weights; 3,000 points; EM with 10 components; the 10-component fit reduced to 5 by the
-- paper's gradient descent and K-means, by L-BFGS and by the baselines.
-- Writes fig1_<method>.png (f and g over the data), fig1_convergence.png and fig1.md.
--   gmmkit examples/paper_fig1.lua [--out DIR] [--seed N] [--points N] [--methods a,b,...]
local gk = require "gmmkit"
local ex = gk.experiment

local opt = ex.setup(arg, "paper_fig1", {
  seed = 1,
  points = ex.smoke() and 1500 or 3000,
  fit = 10,
  target = 5,
  methods = {"gd", "kmeans", "lbfgs", "topk", "runnalls", "minise", "gmrc"},
}, "paper_fig1.lua: 2-D, 10 -> 5 components (the paper's figure 1)")

-- The true mixture: 5 components, means uniform in [0, 10]^2, weights uniform then
-- normalised, every covariance 0.5 I (equal, diagonal).
local u = gk.matrix.random(5, 3, {seed = opt.seed, dist = "uniform"})
local weights, means, covs, total = {}, {}, {}, 0
for k = 1, 5 do
  weights[k] = 0.5 + u:get(k, 3)
  total = total + weights[k]
  means[k] = {10 * u:get(k, 1), 10 * u:get(k, 2)}
  covs[k] = {0.5, 0.5}
end
for k = 1, 5 do weights[k] = weights[k] / total end
local truth = gk.gmm.new{weights = weights, means = means, covariances = covs, covariance_type = "diag"}
local X = truth:sample(opt.points, {seed = opt.seed})

-- The EM fit, whose log-likelihood never falls.
local f, em = gk.gmm.train(X, {components = opt.fit, covariance_type = "full", seed = opt.seed, max_iter = 200, tol = 1e-6})
print(string.format("EM: %d components, %d iterations, mean log-likelihood %.4f", opt.fit, em.iterations,
  em.history[#em.history]))
for i = 2, #em.history do
  assert(em.history[i] >= em.history[i - 1] - 1e-9 * math.abs(em.history[i - 1]),
    "EM log-likelihood fell at iteration " .. i)
end

-- Compare (the check that makes this example a test: the exact optimiser is never worse
-- than the paper's methods and the greedy baselines): the table, f against each
-- reduction over the data, the convergence, fig1.md.
ex.compare(f, opt.target, opt.methods, {data = X, ise = true, seed = opt.seed, out = opt.out, name = "fig1",
  title = "Figure 1: 2-D, 10 -> 5", plots = opt.plots, mixtures = opt.methods,
  convergence = "2-D, 10 -> 5: ISE against time"})
