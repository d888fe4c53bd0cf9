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

-- info.assignment against references written here: the merged weights (a partition's
-- blocks), and the overlap w_j N(mu_i; mu_j, S_i + S_j) from the closed-form Gaussian
-- density (diagonal: a product over dimensions; full 2-D: the 2 x 2 inverse and determinant).
describe("gk.simplify.reduce info.assignment", function()
  local LOG2PI = math.log(2 * math.pi)

  -- Plain Lua parameters: w[i], mu[i][t], S[i] (a list of variances or a 2 x 2 table).
  local function params(m)
    local w, mu, c = m:weights(), m:means(), m:covariances()
    local P = {w = w, mu = {}, S = {}, full = m.covariance_type == "full", d = m.dim}
    for i = 1, #w do
      P.mu[i] = {}
      for t = 1, m.dim do P.mu[i][t] = mu:get(i, t) end
      if P.full then
        P.S[i] = {{c[i]:get(1, 1), c[i]:get(1, 2)}, {c[i]:get(2, 1), c[i]:get(2, 2)}}
      else
        P.S[i] = {}
        for t = 1, m.dim do P.S[i][t] = c:get(i, t) end
      end
    end
    return P
  end

  -- log w_j N(a; b, S_a + S_b) in closed form.
  local function log_overlap(F, i, G, j)
    local d, lw = F.d, math.log(G.w[j])
    if not F.full then
      local s = 0
      for t = 1, d do
        local v, z = F.S[i][t] + G.S[j][t], F.mu[i][t] - G.mu[j][t]
        s = s - 0.5 * (LOG2PI + math.log(v) + z * z / v)
      end
      return lw + s
    end
    local A, B = F.S[i], G.S[j]
    local a, b, c, e = A[1][1] + B[1][1], A[1][2] + B[1][2], A[2][1] + B[2][1], A[2][2] + B[2][2]
    local det = a * e - b * c
    local x, y = F.mu[i][1] - G.mu[j][1], F.mu[i][2] - G.mu[j][2]
    local q = (e * x * x - (b + c) * x * y + a * y * y) / det
    return lw - 0.5 * (2 * LOG2PI + math.log(det) + q)
  end

  local function random_diag(k, d, seed)
    local r = lcg(seed)
    local w, m, c, sw = {}, {}, {}, 0
    for i = 1, k do
      w[i] = 0.1 + r(); sw = sw + w[i]
      m[i], c[i] = {}, {}
      for t = 1, d do m[i][t] = 6 * r() - 3; c[i][t] = 0.2 + r() end
    end
    for i = 1, k do w[i] = w[i] / sw end
    return gk.gmm.new{weights = w, means = m, covariances = c, covariance_type = "diag"}
  end

  local models = {diag = random_diag(12, 3, 7), full = random_full(11, 5)}

  local function check_valid(a, f, g)
    assert.are.equal(f.components, #a)
    for i = 1, #a do
      assert.are.equal("integer", math.type(a[i]))
      assert.is_true(a[i] >= 1 and a[i] <= g.components, "assignment " .. tostring(a[i]))
    end
  end

  -- The j of largest closed-form overlap, and the margin to the second (to skip near ties).
  local function best_overlap(F, i, G)
    local best, second, arg = -math.huge, -math.huge, 0
    for j = 1, #G.w do
      local v = log_overlap(F, i, G, j)
      if v > best then best, second, arg = v, best, j elseif v > second then second = v end
    end
    return arg, best - second
  end

  for cov, f in pairs(models) do
    local F = params(f)

    for _, method in ipairs{"runnalls", "gmrc", "minise"} do
      it(method .. " returns its partition: each weight of g is the sum of its members' (" .. cov .. ")", function()
        local g, info = gk.simplify.reduce(f, 4, {method = method})
        check_valid(info.assignment, f, g)
        local sum, n = {0, 0, 0, 0}, {0, 0, 0, 0}
        for i, j in ipairs(info.assignment) do sum[j] = sum[j] + F.w[i]; n[j] = n[j] + 1 end
        local gw = g:weights()
        for j = 1, 4 do
          assert.is_true(n[j] >= 1)
          assert.is_true(math.abs(sum[j] - gw[j]) < 1e-12, method .. ": " .. sum[j] .. " vs " .. gw[j])
        end
      end)
    end

    for _, method in ipairs{"lbfgs", "gd", "brute"} do
      it(method .. " assigns each component to the one of largest overlap (" .. cov .. ")", function()
        local g, info = gk.simplify.reduce(f, 4, {method = method, max_iter = 50})
        check_valid(info.assignment, f, g)
        local G, checked = params(g), 0
        for i = 1, f.components do
          local j, margin = best_overlap(F, i, G)
          if margin > 1e-9 then
            assert.are.equal(j, info.assignment[i], method .. " component " .. i)
            checked = checked + 1
          end
        end
        assert.is_true(checked >= f.components - 1)
      end)
    end

    it("topk keeps the K heaviest as themselves and assigns the rest by overlap (" .. cov .. ")", function()
      local g, info = gk.simplify.reduce(f, 4, {method = "topk"})
      check_valid(info.assignment, f, g)
      local G = params(g)
      local order = {}
      for i = 1, #F.w do order[i] = i end
      table.sort(order, function(a, b) return F.w[a] > F.w[b] end)
      local kept = {}
      for t = 1, 4 do kept[order[t]] = true end
      for i = 1, f.components do
        local j = info.assignment[i]
        if kept[i] then
          -- the same mean, up to the round trip through whitened coordinates
          for t = 1, F.d do assert.is_true(math.abs(F.mu[i][t] - G.mu[j][t]) < 1e-12) end
        else
          local b, margin = best_overlap(F, i, G)
          if margin > 1e-9 then assert.are.equal(b, j) end
        end
      end
    end)

    it("kmeans assigns by its least chi-squared distance w_j^2 z_jj - 2 w_j v_i z_ij (" .. cov .. ")", function()
      local g, info = gk.simplify.reduce(f, 4, {method = "kmeans", max_iter = 20})
      check_valid(info.assignment, f, g)
      local G = params(g)
      for i = 1, f.components do
        local best, second, arg = math.huge, math.huge, 0
        for j = 1, 4 do
          -- z_jj = N(mu_j; mu_j, 2 S_j): the overlap of component j with itself, weight 1
          local Gj = {w = {1}, mu = {G.mu[j]}, S = {G.S[j]}, full = G.full, d = G.d}
          local zjj = math.exp(log_overlap(Gj, 1, Gj, 1))
          local zij = math.exp(log_overlap(F, i, G, j) - math.log(G.w[j]))
          local D = G.w[j] ^ 2 * zjj - 2 * G.w[j] * F.w[i] * zij
          if D < best then best, second, arg = D, best, j elseif D < second then second = D end
        end
        if second - best > 1e-9 * math.abs(best) then assert.are.equal(arg, info.assignment[i]) end
      end
    end)
  end

  it("drops a dead component from the assignment (dead = 'drop')", function()
    local f = models.diag
    for _, method in ipairs{"gd", "kmeans"} do
      local g, info = gk.simplify.reduce(f, 6, {method = method, dead = "drop", max_iter = 30})
      check_valid(info.assignment, f, g)
    end
  end)
end)
