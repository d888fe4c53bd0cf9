-- canonical_1d.lua: the 1-D ten-component test mixture of the mixture-reduction literature
-- (Salmond; Williams; Runnalls; Crouse et al. 2011) reduced to 5, 6 and 3 components by
-- every method of gk.simplify.reduce, brute force included. Prints a table of NISE per
-- method and target (the README's), checks that lbfgs is never worse than the paper's
-- methods and the greedy baselines and that brute force is never beaten by more than
-- rounding, and plots f with the K = 5 reductions (canonical_k5.png).
--   gmmkit examples/canonical_1d.lua [--out DIR] [--targets 5,6,3] [--methods a,b,...]
local gk = require "gmmkit"
local ex = gk.experiment

local opt = ex.setup(arg, "canonical_1d", {
  targets = {5, 6, 3},
  methods = {"topk", "runnalls", "minise", "gmrc", "gd", "kmeans", "lbfgs", "brute"},
}, "canonical_1d.lua: the literature's 1-D ten-component mixture reduced to 5, 6 and 3")

local w = {0.03, 0.18, 0.12, 0.19, 0.02, 0.16, 0.06, 0.10, 0.08, 0.06}
local mu = {1.45, 2.20, 0.67, 0.48, 1.49, 0.91, 1.01, 1.42, 2.77, 0.89}
local var = {0.0487, 0.0305, 0.1171, 0.0174, 0.0295, 0.0102, 0.0323, 0.0380, 0.0115, 0.0679}
local means, covs = {}, {}
for i = 1, #w do means[i], covs[i] = {mu[i]}, {var[i]} end
local f = gk.gmm.new{weights = w, means = means, covariances = covs, covariance_type = "diag"}

-- Brute force is never beaten by more than rounding.
local function brute_is_best(by, k)
  if by.brute and by.lbfgs then
    assert(by.brute.nise <= by.lbfgs.nise * (1 + 1e-6) + 1e-12,
      string.format("K = %d: lbfgs NISE %.6g beats brute force %.6g", k, by.lbfgs.nise, by.brute.nise))
  end
end

-- f with its K = 5 reductions: densities on a grid, from score_samples (log density per point).
local function densities(result)
  local reduced = result.reduced
  if not reduced[5] then return end
  local n, lo, hi = 400, -0.2, 3.4
  local grid = gk.matrix.new(n, 1, 0)
  local xs = {}
  for j = 1, n do
    xs[j] = lo + (hi - lo) * (j - 1) / (n - 1)
    grid:set(j, 1, xs[j])
  end
  local function density(g)
    local ll, ys = g:score_samples(grid), {}
    for j = 1, n do ys[j] = math.exp(ll:get(j, 1)) end
    return ys
  end
  local series = {{label = "f (10 components)", x = xs, y = density(f)}}
  for _, m in ipairs({"lbfgs", "runnalls", "gd", "kmeans"}) do
    local r = reduced[5][m]
    if r then
      series[#series + 1] = {label = string.format("%s (5): NISE %.3g", m, r.nise), x = xs, y = density(r.model)}
    end
  end
  gk.plot.curves{series = series, xlabel = "x", ylabel = "density", points = false,
    file = opt.out .. "/canonical_k5.png",
    title = "The canonical 1-D mixture reduced to 5 components"}
end

-- Compare: one row per method, one NISE column per target; canonical_1d.md.
ex.compare(f, opt.targets, opt.methods, {check = brute_is_best, out = opt.out, name = "canonical_1d",
  title = "The canonical 1-D mixture", plots = opt.plots, figures = densities})
