-- paper_fig1.lua: the first experiment of "Local Gradient Descent Methods for GMM
-- Simplification": 5 Gaussians in 2-D with equal diagonal covariance, random means and
-- weights; 3,000 points; EM with 10 components; the 10-component fit reduced to 5 by the
-- paper's gradient descent and K-means, by L-BFGS and by the baselines.
-- Writes fig1_<method>.png (f and g over the data), fig1_convergence.png and fig1.md.
--   gmmkit examples/paper_fig1.lua [--out DIR] [--seed N] [--points N] [--methods a,b,...]
local gk = require "gmmkit"
local ex = gk.experiment

local smoke = ex.smoke()
local opt = ex.options(arg, {
  out = os.getenv("GMMKIT_OUT") or "out/paper_fig1",
  seed = 1,
  points = smoke and 1500 or 3000,
  fit = 10,
  target = 5,
  methods = {"gd", "kmeans", "lbfgs", "topk", "runnalls", "minise", "gmrc"},
  plots = not smoke,
}, "paper_fig1.lua: 2-D, 10 -> 5 components (the paper's figure 1)")
ex.mkdir(opt.out)

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

local f, em = gk.gmm.train(X, {components = opt.fit, covariance_type = "full", seed = opt.seed, max_iter = 200, tol = 1e-6})
print(string.format("EM: %d components, %d iterations, mean log-likelihood %.4f", opt.fit, em.iterations,
  em.history[#em.history]))
for i = 2, #em.history do
  assert(em.history[i] >= em.history[i - 1] - 1e-9 * math.abs(em.history[i - 1]),
    "EM log-likelihood fell at iteration " .. i)
end

local rows = ex.reduce_all(f, opt.target, opt.methods, {seed = opt.seed})
local by = ex.by_method(rows)
for _, r in ipairs(rows) do
  r.loglik = r.model:log_likelihood(X)
end
local tbl = ex.markdown_table(rows, {"method", "nise", "ise", "loglik", "iterations", "seconds"},
  {"method", "NISE", "ISE", "mean log-lik of the data", "iterations", "seconds"})
print(tbl)

-- The checks that make this example a test: the exact optimiser is never worse than
-- the paper's methods and the greedy baselines.
ex.check_best(by, "lbfgs", {"gd", "kmeans", "topk", "runnalls", "minise"})

if opt.plots then
  for _, r in ipairs(rows) do
    gk.plot.mixtures{mixtures = {f, r.model}, labels = {"f (10)", r.method .. " (5)"}, points = X,
      file = opt.out .. "/fig1_" .. r.method .. ".png",
      title = string.format("10 -> 5 by %s: NISE %.3g", r.method, r.nise)}
  end
  local runs = {}
  for _, m in ipairs({"gd", "kmeans", "lbfgs"}) do
    if by[m] then runs[#runs + 1] = {label = m, info = by[m].info} end
  end
  gk.plot.convergence(runs, {file = opt.out .. "/fig1_convergence.png", title = "2-D, 10 -> 5: ISE against time"})
end
ex.write(opt.out .. "/fig1.md", "# Figure 1: 2-D, 10 -> 5\n\n" .. tbl .. "\n")
print("wrote " .. opt.out .. "/fig1.md")
