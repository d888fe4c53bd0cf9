-- gk.simplify: distances and reduction from Lua, against references computed here
-- (trapezoidal integration of the densities, closed forms for single Gaussians), and
-- every bad input the API names.
local gk = require "gmmkit"

local SQRT2PI = math.sqrt(2 * math.pi)

-- A 1-D mixture from plain lists.
local function mix1(w, mu, var)
  local m, c = {}, {}
  for i = 1, #w do m[i] = {mu[i]}; c[i] = {var[i]} end
  return gk.gmm.new{weights = w, means = m, covariances = c, covariance_type = "diag"}
end

-- The 1-D test mixture of Salmond, Williams, Runnalls, Crouse et al. (2011).
local function canonical()
  return mix1({0.03, 0.18, 0.12, 0.19, 0.02, 0.16, 0.06, 0.10, 0.08, 0.06},
              {1.45, 2.20, 0.67, 0.48, 1.49, 0.91, 1.01, 1.42, 2.77, 0.89},
              {0.0487, 0.0305, 0.1171, 0.0174, 0.0295, 0.0102, 0.0323, 0.0380, 0.0115, 0.0679})
end

-- Density of a 1-D diagonal model, written out here.
local function pdf1(g, x)
  local w, m, c = g:weights(), g:means(), g:covariances()
  local s = 0
  for i = 1, #w do
    local v = c:get(i, 1)
    local z = x - m:get(i, 1)
    s = s + w[i] * math.exp(-0.5 * z * z / v) / (SQRT2PI * math.sqrt(v))
  end
  return s
end

-- A random full 2-D mixture (deterministic LCG, so the spec needs no seed support).
local function lcg(seed)
  local s = seed
  return function()
    s = (s * 1103515245 + 12345) % 2147483648
    return s / 2147483648
  end
end

local function random_full(k, seed)
  local r = lcg(seed)
  local w, m, c, sw = {}, {}, {}, 0
  for i = 1, k do
    w[i] = 0.2 + r(); sw = sw + w[i]
    m[i] = {6 * r() - 3, 6 * r() - 3}
    local a, b, e = 0.3 + r(), 0.3 + r(), 0.8 * r() - 0.4
    c[i] = {{a, e * math.sqrt(a * b)}, {e * math.sqrt(a * b), b}}
  end
  for i = 1, k do w[i] = w[i] / sw end
  return gk.gmm.new{weights = w, means = m, covariances = c, covariance_type = "full"}
end

describe("gk.simplify distances", function()
  it("ise agrees with the trapezoidal rule on a fine grid (1-D)", function()
    local f = canonical()
    local g = mix1({0.5, 0.3, 0.2}, {0.7, 1.4, 2.3}, {0.05, 0.04, 0.06})
    local h, s = 1e-3, 0
    for i = -4000, 8000 do
      local x = i * h
      local d = pdf1(f, x) - pdf1(g, x)
      s = s + d * d
    end
    s = s * h
    local F = gk.simplify.ise(f, g)
    assert.is_true(math.abs(F - s) <= 1e-6 * s, string.format("%.15g vs %.15g", F, s))
    assert.is_true(math.abs(gk.simplify.ise(g, f) - F) <= 1e-14 * F)
  end)

  it("is zero from a model to itself and scale-free", function()
    local f = random_full(12, 7)
    assert.is_true(gk.simplify.nise(f, f) <= 1e-30)
    assert.are.equal(0, gk.simplify.cs(f, f))
    local t = gk.simplify.terms(f, canonical() and f)
    assert.is_true(t.nise <= 1e-30)
    assert.is_true(math.abs(t.log_ff - t.log_gg) < 1e-14)
  end)

  it("cs and kl match the closed forms for one Gaussian each", function()
    local f, g = mix1({1}, {0.3}, {0.5}), mix1({1}, {1.1}, {2.0})
    -- KL(N(a, s) || N(b, t)) = 1/2 (s/t + (a-b)^2/t - 1 + ln(t/s))
    local kl = 0.5 * (0.5 / 2.0 + 0.8 ^ 2 / 2.0 - 1 + math.log(2.0 / 0.5))
    local est, se = gk.simplify.kl(f, g, {samples = 200000, seed = 3})
    assert.is_true(math.abs(est - kl) <= 4 * se, string.format("%g +- %g vs %g", est, se, kl))
    local est2 = gk.simplify.kl(f, g, {samples = 200000, seed = 3, threads = 1})
    assert.are.equal(est, est2)
    -- CS = -log z_fg + 1/2 log z_ff + 1/2 log z_gg, z = N(a; b, s + t)
    local function lz(a, b, v) return -0.5 * math.log(2 * math.pi * v) - 0.5 * (a - b) ^ 2 / v end
    local cs = -lz(0.3, 1.1, 2.5) + 0.5 * lz(0, 0, 1.0) + 0.5 * lz(0, 0, 4.0)
    assert.is_true(math.abs(gk.simplify.cs(f, g) - cs) <= 1e-12 * cs)
  end)

  it("keeps NISE finite where ISE leaves the double range (60-D)", function()
    local m1, m2, c = {}, {}, {}
    for a = 1, 60 do m1[a] = 0; m2[a] = 1e-7; c[a] = 1e-14 end
    local f = gk.gmm.new{weights = {1}, means = {m1}, covariances = {c}, covariance_type = "diag"}
    local g = gk.gmm.new{weights = {1}, means = {m2}, covariances = {c}, covariance_type = "diag"}
    local t = gk.simplify.terms(f, g)
    -- q = sum (1e-7)^2 / (2e-14) = 60 * 0.5 = 30: NISE = F / (2 z0) = 1 - exp(-q/2)
    assert.is_true(math.abs(t.nise - (1 - math.exp(-15))) < 1e-12, t.nise)
    assert.is_true(t.log_ise > 700 and t.log_ise < math.huge)
  end)
end)

describe("gk.simplify.reduce", function()
  local f = canonical()
  local methods = {"topk", "runnalls", "minise", "gmrc", "gd", "kmeans", "lbfgs", "brute"}

  it("returns K components and an info whose figures match the distances", function()
    for _, m in ipairs(methods) do
      local g, info = gk.simplify.reduce(f, 5, {method = m, history = true})
      assert.are.equal(5, g.components)
      assert.are.equal(m, info.method)
      assert.is_true(math.abs(gk.simplify.nise(f, g) - info.nise) <= 1e-9 * info.nise, m)
      assert.is_true(math.abs(gk.simplify.ise(f, g) - info.ise) <= 1e-9 * info.ise, m)
      assert.is_true(#info.history >= 1, m)
      assert.is_number(info.seconds)
      local sw = 0
      for _, w in ipairs(g:weights()) do sw = sw + w end
      assert.is_true(math.abs(sw - 1) < 1e-12, m)
    end
  end)

  it("lbfgs is at least as good as every other method but brute, which is the optimum", function()
    for _, K in ipairs{5, 6, 3} do
      local res = {}
      for _, m in ipairs(methods) do
        local _, info = gk.simplify.reduce(f, K, {method = m})
        res[m] = info
      end
      for _, m in ipairs(methods) do
        if m ~= "brute" then
          assert.is_true(res.lbfgs.ise <= res[m].ise * (1 + 1e-9), m .. " K=" .. K)
        end
        assert.is_true(res.brute.ise <= res[m].ise * (1 + 1e-9), m .. " K=" .. K)
      end
    end
  end)

  it("records a history in which lbfgs decreases the ISE at every iteration", function()
    local _, info = gk.simplify.reduce(random_full(16, 3), 4, {history = true})
    assert.are.equal(info.iterations + 1, #info.history)
    for i = 2, #info.history do
      assert.is_true(info.history[i].ise <= info.history[i - 1].ise)
      assert.is_true(info.history[i].seconds >= info.history[i - 1].seconds)
    end
    assert.are.equal(info.nise, info.history[#info.history].nise)
    assert.is_true(info.converged)
    assert.is_string(info.init)
  end)

  it("with probe_iter = 0, iterates from topk before the greedy initialisations and ends no worse for it", function()
    local compared = 0
    for _, seed in ipairs{3, 5, 9} do
      local g0 = random_full(16, seed)
      local _, info = gk.simplify.reduce(g0, 4, {history = true, probe_iter = 0})
      local _, tk = gk.simplify.reduce(g0, 4, {method = "topk"})
      -- the first record is topk itself, the next ones its first L-BFGS iterations
      assert.is_true(math.abs(info.history[1].nise - tk.nise) <= 1e-9 * tk.nise)
      assert.is_true(info.history[2].ise < info.history[1].ise)
      for _, m in ipairs{"topk", "runnalls", "minise"} do
        local _, one = gk.simplify.reduce(g0, 4, {init = m, probe_iter = 0})
        if one.init ~= "topk" and one.init == info.init then
          -- the same start without the probe before it: the probe never makes it worse
          assert.is_true(info.ise <= one.ise * (1 + 1e-9), m .. " seed " .. seed)
          compared = compared + 1
        end
      end
    end
    assert.is_true(compared >= 2)
  end)

  it("refines every initialisation of a small problem and keeps the lowest ISE", function()
    local better = 0
    for _, seed in ipairs{3, 5, 15, 16, 19} do
      local g0 = random_full(16, seed)
      local _, info = gk.simplify.reduce(g0, 4, {history = true})
      local _, best = gk.simplify.reduce(g0, 4, {probe_iter = 0})
      local lowest = math.huge
      for _, m in ipairs{"topk", "runnalls", "minise"} do
        local _, one = gk.simplify.reduce(g0, 4, {init = m})
        lowest = math.min(lowest, one.ise)
        assert.is_true(info.ise <= one.ise * (1 + 1e-9), m .. " seed " .. seed)
      end
      assert.is_true(info.ise <= lowest * (1 + 1e-9))
      if info.ise < best.ise * (1 - 1e-6) then better = better + 1 end
      -- one record per iteration, the ISE never rising across the starts, the last the result
      assert.are.equal(info.iterations + 1, #info.history)
      for i = 2, #info.history do assert.is_true(info.history[i].ise <= info.history[i - 1].ise) end
      assert.are.equal(info.nise, info.history[#info.history].nise)
    end
    -- a short probe of each start, then the best continues; a given start: the same records
    for _, opts in ipairs{{history = true, probe_iter = 5}, {history = true, start = gk.simplify.reduce(random_full(16, 3), 4)}} do
      local _, info = gk.simplify.reduce(random_full(16, 3), 4, opts)
      assert.are.equal(info.iterations + 1, #info.history)
      for i = 2, #info.history do assert.is_true(info.history[i].ise <= info.history[i - 1].ise) end
      assert.are.equal(info.nise, info.history[#info.history].nise)
    end
    io.stderr:write(("simplify_spec: refining every start beat the best start alone on %d of 5 problems\n"):format(better))
    -- the best start misleads on about a fifth of such problems (seeds 15 and 19 here)
    assert.is_true(better >= 1)
  end)

  it("reports kmeans assignment changes per round", function()
    local _, info = gk.simplify.reduce(f, 3, {method = "kmeans"})
    assert.are.equal(info.iterations, #info.changes)
    assert.are.equal(10, info.changes[1])
    assert.is_boolean(info.oscillating)
  end)

  it("gives a diagonal g from a full f, and the same result with any thread count", function()
    local ff = random_full(14, 11)
    local g = gk.simplify.reduce(ff, 4, {covariance_type = "diag"})
    assert.are.equal("diag", g.covariance_type)
    local g1 = gk.simplify.reduce(ff, 4, {threads = 1})
    local g2 = gk.simplify.reduce(ff, 4, {threads = 2})
    assert.are.same(g1:weights(), g2:weights())
    assert.are.equal("full", g1.covariance_type)
  end)

  it("reports, drops or re-seeds a component whose weight reaches zero, never NaN", function()
    -- gd from a start whose second component sits far from all of f: its weight gradient
    -- drives it below zero, where it is clipped.
    local fm = mix1({0.4, 0.4, 0.2}, {0, 3, 6}, {1, 1, 1})
    local g0 = mix1({0.999, 0.001}, {1, 50}, {2, 1})
    local g, info = gk.simplify.reduce(fm, 2, {method = "gd", start = g0, dead = "keep"})
    assert.are.same({2}, info.dead)
    assert.are.equal(2, g.components)
    assert.are.equal(0, g:weights()[2])
    assert.is_true(math.abs(gk.simplify.nise(fm, g) - info.nise) <= 1e-12 * info.nise)
    g, info = gk.simplify.reduce(fm, 2, {method = "gd", start = g0, dead = "drop"})
    assert.are.same({2}, info.dead)
    assert.are.equal(1, g.components)
    g, info = gk.simplify.reduce(fm, 2, {method = "gd", start = g0, dead = "reseed"})
    assert.are.equal(1, info.reseeded)
    assert.are.equal(2, g.components)
    for _, w in ipairs(g:weights()) do assert.is_true(w > 0.1 and w == w) end
    -- re-seeding helps: the lost component comes back where f lacks mass
    local _, kept = gk.simplify.reduce(fm, 2, {method = "gd", start = g0})
    assert.is_true(info.nise < kept.nise)
    -- lbfgs from the same start: softmax weights stay positive and finite
    local gl, il = gk.simplify.reduce(fm, 2, {start = g0})
    assert.are.equal("start", il.init)
    for _, w in ipairs(gl:weights()) do assert.is_true(w >= 0 and w == w) end
  end)
end)

describe("gk.simplify bad input", function()
  local f = canonical()
  local g2 = random_full(3, 1)

  local function fails(pattern, fn, ...)
    local ok, err = pcall(fn, ...)
    assert.is_false(ok)
    assert.truthy(tostring(err):find(pattern, 1, true), tostring(err))
  end

  it("rejects K out of range", function()
    fails("K must be at least 1, got 0", gk.simplify.reduce, f, 0)
    fails("K must be at least 1, got -2", gk.simplify.reduce, f, -2)
    fails("K = 10 must be smaller than the 10 components of f", gk.simplify.reduce, f, 10)
    fails("K = 11 must be smaller", gk.simplify.reduce, f, 11)
    fails("number has no integer representation", gk.simplify.reduce, f, 2.5)
  end)

  it("rejects models of different dimensions", function()
    fails("dimension mismatch: f has dimension 1, g has 2", gk.simplify.ise, f, g2)
    fails("dimension mismatch", gk.simplify.nise, g2, f)
    fails("dimension mismatch", gk.simplify.kl, f, g2)
    fails("dimension mismatch", gk.simplify.cs, f, g2)
  end)

  it("rejects unknown methods and options with a suggestion", function()
    fails("'lbgfs' is unknown (did you mean 'lbfgs'?)", gk.simplify.reduce, f, 3, {method = "lbgfs"})
    fails("'kmean' is unknown (did you mean 'kmeans'?)", gk.simplify.reduce, f, 3, {method = "kmean"})
    fails("unknown option 'max_iters' (did you mean 'max_iter'?)", gk.simplify.reduce, f, 3, {max_iters = 5})
    fails("'runals' is unknown (did you mean 'runnalls'?)", gk.simplify.reduce, f, 3, {init = {"topk", "runals"}})
    fails("option 'covariance_type'", gk.simplify.reduce, f, 3, {covariance_type = "ful"})
    fails("option 'dead'", gk.simplify.reduce, f, 3, {dead = "bury"})
  end)

  it("rejects NaN and out-of-range numbers", function()
    fails("option 'tol' must be a number, got NaN", gk.simplify.reduce, f, 3, {tol = 0 / 0})
    fails("option 'max_iter'", gk.simplify.reduce, f, 3, {max_iter = -1})
    fails("non-finite", gk.gmm.new, {weights = {1}, means = {{0 / 0}}, covariances = {{1}}, covariance_type = "diag"})
    fails("option 'samples'", gk.simplify.kl, f, f, {samples = 1})
  end)

  it("rejects a start model of the wrong shape or for a merge method", function()
    local g0 = mix1({0.5, 0.5}, {0, 1}, {1, 1})
    fails("start model has 2 components in dimension 1, expected 3", gk.simplify.reduce, f, 3, {start = g0})
    fails("applies to lbfgs, gd and kmeans, not to 'runnalls'", gk.simplify.reduce, f, 2, {method = "runnalls", start = g0})
    fails("option 'start' must be an open gmmkit.Gmm", gk.simplify.reduce, f, 2, {start = {}})
    fails("dimension", gk.simplify.reduce, g2, 2, {start = g0})
  end)

  it("rejects brute force on more than 12 components and non-models", function()
    fails("at most 12 components", gk.simplify.reduce, random_full(13, 5), 3, {method = "brute"})
    fails("gmmkit.Gmm expected", gk.simplify.ise, f, {})
    local c = canonical()
    c:close()
    fails("closed gmmkit.Gmm", gk.simplify.nise, c, f)
  end)

  it("documents every function", function()
    for name in pairs(gk.simplify) do
      assert.truthy(gk.helptext(gk.simplify[name]), name)
    end
    assert.truthy(gk.helptext(gk.simplify.reduce):find("method", 1, true))
  end)
end)
