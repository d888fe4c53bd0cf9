-- gk.gmm: models, scoring, EM training, statistics, MAP, files and bad input.
-- References: scikit-learn's GaussianMixture (fixtures from scripts/ref/em_ref.py),
-- closed forms computed here in Lua, and the worked example of Deisenroth et al.,
-- Mathematics for Machine Learning, sec. 11.2.
local gk = require "gmmkit"
local helper = require "helper"

local SRC = os.getenv("GMMKIT_SOURCE_DIR") or "."
local DATA = SRC .. "/tests/data/em/"
local LUA = "lua5.4"  -- a stock interpreter, as CTest runs the specs (same environment)

local function fixture(case, name) return gk.matrix.load(DATA .. case .. "_" .. name .. ".npy") end

local function col(m)
  local t = {}
  for i = 1, m:rows() do t[i] = m:get(i, 1) end
  return t
end

-- Rows a..b of m as a new matrix.
local function rows(m, a, b)
  local idx = {}
  for i = a, b do idx[#idx + 1] = i end
  return m:select_rows(idx)
end

local max_abs_diff = helper.max_abs_diff

-- The scikit-learn starting model of a fixture case.
local function initial(case)
  local mu0, cov0 = fixture(case, "mu0"), fixture(case, "cov0")
  local k, d = mu0:rows(), mu0:cols()
  local covs = cov0
  if case == "full" then
    covs = {}
    for c = 1, k do covs[c] = rows(cov0, (c - 1) * d + 1, c * d) end
  end
  return gk.gmm.new{weights = col(fixture(case, "w0")), means = mu0, covariances = covs, covariance_type = case}
end

-- Options that make an EM iteration the textbook / scikit-learn one.
local plain = {var_floor_relative = 0, min_weight = 0, reg = 1e-6, tol = 0}
local function opts(extra)
  local o = {}
  for k, v in pairs(plain) do o[k] = v end
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

local function same_model(a, b)
  if a.components ~= b.components or a.dim ~= b.dim then return false end
  local wa, wb = a:weights(), b:weights()
  for i = 1, #wa do if string.format("%a", wa[i]) ~= string.format("%a", wb[i]) then return false end end
  local ma, mb = a:means(), b:means()
  for i = 1, ma:rows() do
    for j = 1, ma:cols() do
      if string.format("%a", ma:get(i, j)) ~= string.format("%a", mb:get(i, j)) then return false end
    end
  end
  local ca, cb = a:covariances(), b:covariances()
  if a.covariance_type == "diag" then ca, cb = {ca}, {cb} end
  for c = 1, #ca do
    for i = 1, ca[c]:rows() do
      for j = 1, ca[c]:cols() do
        if string.format("%a", ca[c]:get(i, j)) ~= string.format("%a", cb[c]:get(i, j)) then return false end
      end
    end
  end
  return true
end

local function no_nan(g)
  local function ok(m)
    for i = 1, m:rows() do
      for j = 1, m:cols() do
        local v = m:get(i, j)
        if v ~= v or v == math.huge or v == -math.huge then return false end
      end
    end
    return true
  end
  for _, w in ipairs(g:weights()) do if w ~= w then return false end end
  local c = g:covariances()
  if g.covariance_type == "full" then
    for _, m in ipairs(c) do if not ok(m) then return false end end
  elseif not ok(c) then return false end
  return ok(g:means())
end

-- A two-cluster 3-D data set drawn from a known model.
local truth = gk.gmm.new{weights = {0.3, 0.7}, means = {{0, 0, 0}, {5, 5, 5}},
                         covariances = {{1, 2, 3}, {0.5, 0.5, 0.5}}}
local X = truth:sample(4000, {seed = 7})

describe("gk.gmm.new", function()
  it("builds diagonal and full models with accessors and fields", function()
    local g = gk.gmm.new{weights = {0.25, 0.75}, means = {{0, 1}, {2, 3}}, covariances = {{1, 2}, {3, 4}}}
    assert.equal(2, g.components)
    assert.equal(2, g.dim)
    assert.equal("diag", g.covariance_type)
    assert.same({0.25, 0.75}, g:weights())
    assert.equal(3, g:means():get(2, 2))
    assert.equal(4, g:covariances():get(2, 2))
    assert.equal("float64", g:means():dtype())
    assert.matches("2 components, dim 2, diag", tostring(g))
    local f = gk.gmm.new{weights = {1}, means = {{0, 0}}, covariances = {{{4, 2}, {2, 3}}},
                         covariance_type = "full"}
    assert.equal("full", f.covariance_type)
    assert.equal(2, f:covariances()[1]:get(1, 2))
  end)

  it("rejects invalid parameters with clear errors", function()
    local function err(t) local ok, e = pcall(gk.gmm.new, t) assert.is_false(ok) return e end
    assert.matches("sum to 1.1", err{weights = {0.5, 0.6}, means = {1, 2}, covariances = {1, 1}})
    assert.matches("weight of component 1", err{weights = {-0.5, 1.5}, means = {1, 2}, covariances = {1, 1}})
    assert.matches("variance of component 2", err{weights = {0.5, 0.5}, means = {1, 2}, covariances = {1, 0}})
    assert.matches("not positive definite", err{weights = {1}, means = {{0, 0}}, covariances = {{{1, 2}, {2, 1}}},
                                               covariance_type = "full"})
    assert.matches("not symmetric", err{weights = {1}, means = {{0, 0}}, covariances = {{{1, 0.5}, {0.2, 1}}},
                                       covariance_type = "full"})
    assert.matches("means has 1 rows but there are 2 weights",
                   err{weights = {0.5, 0.5}, means = {{1, 2}}, covariances = {{1, 1}, {1, 1}}})
    assert.matches("did you mean 'covariances'", err{weights = {1}, means = {1}, covariance = {1}})
    assert.matches("'covariance_type'", err{weights = {1}, means = {1}, covariances = {1}, covariance_type = "ful"})
  end)

  it("closes idempotently and refuses a closed model", function()
    local g = gk.gmm.new{weights = {1}, means = {0}, covariances = {1}}
    g:close()
    g:close()
    assert.is_true(g.closed)
    assert.has_error(function() g:means() end)
    do local h <close> = gk.gmm.new{weights = {1}, means = {0}, covariances = {1}} end
  end)
end)

describe("EM", function()
  it("reproduces the worked example of MML sec. 11.2", function()
    local g0 = gk.gmm.new{weights = {1 / 3, 1 / 3, 1 / 3}, means = {-4, 0, 8}, covariances = {1, 0.2, 3}}
    local x = {{-3}, {-2.5}, {-1}, {0}, {2}, {4}, {5}}
    local g = gk.gmm.train(x, opts{init = g0, max_iter = 1, reg = 0})
    local w, m, v = g:weights(), g:means(), g:covariances()
    local function r2(a) return math.floor(a * 100 + 0.5) / 100 end
    assert.same({0.29, 0.29, 0.42}, {r2(w[1]), r2(w[2]), r2(w[3])})
    assert.same({-2.7, -0.4, 3.7}, {r2(m:get(1, 1)), r2(m:get(2, 1)), r2(m:get(3, 1))})
    assert.same({0.14, 0.44, 1.53}, {r2(v:get(1, 1)), r2(v:get(2, 1)), r2(v:get(3, 1))})
  end)

  for _, case in ipairs{"diag", "full"} do
    it("matches scikit-learn's GaussianMixture (" .. case .. ")", function()
      local x = fixture(case, "X")
      local g, info = gk.gmm.train(x, opts{init = initial(case), max_iter = 15})
      assert.equal(15, info.iterations)
      assert.is_false(info.converged)
      local ll, ref = g:log_likelihood(x), fixture(case, "ll"):get(1, 1)
      assert.is_true(math.abs(ll - ref) <= 1e-6 * math.abs(ref), ("%.12g vs %.12g"):format(ll, ref))
      assert.is_true(max_abs_diff(g:means(), fixture(case, "mu")) < 1e-4)
      local w, rw = g:weights(), fixture(case, "w")
      for i = 1, #w do assert.is_true(math.abs(w[i] - rw:get(i, 1)) < 1e-4) end
      local rc = fixture(case, "cov")
      if case == "diag" then
        assert.is_true(max_abs_diff(g:covariances(), rc) < 1e-4)
      else
        local d = g.dim
        for c, m in ipairs(g:covariances()) do
          assert.is_true(max_abs_diff(m, rows(rc, (c - 1) * d + 1, c * d)) < 1e-4)
        end
      end
      local bic, aic = fixture(case, "bic"):get(1, 1), fixture(case, "aic"):get(1, 1)
      assert.is_true(math.abs(g:bic(x) - bic) <= 1e-6 * math.abs(bic))
      assert.is_true(math.abs(g:aic(x) - aic) <= 1e-6 * math.abs(aic))
      -- The log-likelihood rises every iteration, up to the float32 E-step's rounding
      -- (about 2e-7 of the mean log-likelihood).
      for i = 2, #info.history do
        assert.is_true(info.history[i] >= info.history[i - 1] - 1e-6 * math.abs(info.history[i]))
      end
    end)
  end

  it("trains from every initialisation and stops at tol", function()
    for _, init in ipairs{"kmeans++", "kmeans", "random", "split"} do
      for _, ct in ipairs{"diag", "full"} do
        local g, info = gk.gmm.train(X, {components = 2, covariance_type = ct, init = init, seed = 3})
        assert.is_true(info.converged, init .. " " .. ct)
        assert.equal(#info.history, info.iterations)
        assert.is_true(math.abs(g:log_likelihood(X) - truth:log_likelihood(X)) < 0.01, init .. " " .. ct)
        assert.equal(ct, g.covariance_type)
      end
    end
    local g = gk.gmm.train(X, {components = 5, init = "split", max_iter = 3})
    assert.equal(5, g.components)
  end)

  it("takes a list of matrices (one per file) like the stacked frames", function()
    local a, b = rows(X, 1, 1500), rows(X, 1501, 4000)
    local g1 = gk.gmm.train({a, b}, opts{init = truth, max_iter = 5})
    local g2 = gk.gmm.train(X, opts{init = truth, max_iter = 5})
    assert.is_true(max_abs_diff(g1:means(), g2:means()) < 1e-9)
    assert.near(g1:log_likelihood({a, b}), g2:log_likelihood(X), 1e-9)
  end)

  it("subsamples every n-th frame", function()
    local idx = {}
    for i = 1, 4000, 4 do idx[#idx + 1] = i end
    local g1 = gk.gmm.train(X, opts{init = truth, max_iter = 3, subsample = 4})
    local g2 = gk.gmm.train(X:select_rows(idx), opts{init = truth, max_iter = 3})
    assert.is_true(same_model(g1, g2))
  end)

  it("gives bit-identical models whatever the number of threads", function()
    local big = truth:sample(30000, {seed = 3})
    local ref
    for _, th in ipairs{1, 2, 3, 8} do
      for _, ct in ipairs{"diag", "full"} do
        local g = gk.gmm.train(big, {components = 6, covariance_type = ct, max_iter = 4, tol = 0, threads = th, seed = 1})
        ref = ref or {}
        if ref[ct] then assert.is_true(same_model(ref[ct], g), ct .. " threads " .. th)
        else ref[ct] = g end
      end
    end
  end)

  it("reports progress between iterations and stops when asked", function()
    local seen = {}
    local _, info = gk.gmm.train(X, {components = 2, max_iter = 10, tol = 0, progress = function(p)
      seen[#seen + 1] = p
      assert.is_number(p.log_likelihood)
      assert.is_number(p.seconds)
      return p.iteration < 3
    end})
    assert.equal(3, #seen)
    assert.equal(3, info.iterations)
    assert.same({1, 2, 3}, {seen[1].iteration, seen[2].iteration, seen[3].iteration})
  end)

  it("resumes a stopped run from its checkpoint and ends with the same model", function()
    local dir = helper.tmpdir()
    local ck = dir .. "/ck.gmm"
    local o = {components = 4, covariance_type = "full", max_iter = 8, tol = 0, seed = 5}
    local full = gk.gmm.train(X, o)
    local o2 = {checkpoint = ck, progress = function(p) return p.iteration < 3 end}
    for k, v in pairs(o) do o2[k] = v end
    local _, i1 = gk.gmm.train(X, o2)
    assert.equal(3, i1.iterations)
    o2.progress, o2.resume = nil, true
    local g, i2 = gk.gmm.train(X, o2)
    assert.is_true(i2.resumed)
    assert.equal(8, i2.iterations)
    assert.equal(8, #i2.history)
    assert.is_true(same_model(full, g))
    -- other data: the checkpoint is refused
    local ok, e = pcall(gk.gmm.train, rows(X, 1, 2000), o2)
    assert.is_false(ok)
    assert.matches("other data or options", e)
    os.remove(ck)
    os.remove(dir)
  end)

  it("resumes after the process was killed (kill -9) mid-training", function()
    local dir = helper.tmpdir()
    local ck, out = dir .. "/ck.gmm", dir .. "/final.gmm"
    local script = dir .. "/train.lua"
    local f = assert(io.open(script, "w"))
    f:write(([[
local gk = require "gmmkit"
local truth = gk.gmm.new{weights = {0.3, 0.7}, means = {{0, 0, 0}, {5, 5, 5}},
                         covariances = {{1, 2, 3}, {0.5, 0.5, 0.5}}}
local X = truth:sample(4000, {seed = 7})
local kill = arg[1] == "kill"
local g = gk.gmm.train(X, {components = 3, max_iter = 7, tol = 0, seed = 2, checkpoint = %q,
  resume = not kill, progress = function(p)
    if kill and p.iteration == 4 then os.execute("kill -9 $PPID") end
  end})
g:save(%q)
]]):format(ck, out))
    f:close()
    local _, ok = helper.run(LUA .. " " .. script .. " kill")
    assert.is_falsy(ok)
    assert.is_nil(io.open(out))
    local out2, ok2 = helper.run(LUA .. " " .. script .. " resume")
    assert.is_true(ok2, out2)
    local resumed = gk.gmm.load(out)
    local straight = gk.gmm.train(X, {components = 3, max_iter = 7, tol = 0, seed = 2})
    assert.is_true(same_model(straight, resumed))
    for _, p in ipairs{ck, out, script} do os.remove(p) end
    os.remove(dir)
  end)
end)

describe("dying components and bad input", function()
  local two = gk.gmm.new{weights = {0.45, 0.45, 0.1}, means = {{0, 0, 0}, {5, 5, 5}, {500, 500, 500}},
                         covariances = {{1, 1, 1}, {1, 1, 1}, {1, 1, 1}}}
  it("re-splits the heaviest component or removes a dying one", function()
    local g, info = gk.gmm.train(X, {init = two, max_iter = 3})
    assert.equal(3, g.components)
    assert.is_true(info.component_events >= 1)
    assert.is_true(no_nan(g))
    local h, info2 = gk.gmm.train(X, {init = two, max_iter = 3, min_weight_action = "remove"})
    assert.equal(2, h.components)
    assert.equal(1, info2.component_events)
    assert.is_true(no_nan(h))
  end)

  it("names the row of a NaN or Inf frame", function()
    local bad = X:copy()
    bad:set(17, 2, 0 / 0)
    local ok, e = pcall(gk.gmm.train, bad, {components = 2})
    assert.is_false(ok)
    assert.matches("row 17, column 2 is NaN", e)
    bad:set(17, 2, 0)
    bad:set(30, 1, math.huge)
    ok, e = pcall(truth.log_likelihood, truth, {rows(X, 1, 10), bad})
    assert.is_false(ok)
    assert.matches("matrix 2: row 30, column 1 is Inf", e)
  end)

  it("rejects K larger than the frames, dimension mismatches and empty input", function()
    local ok, e = pcall(gk.gmm.train, rows(X, 1, 5), {components = 6})
    assert.is_false(ok)
    assert.matches("components = 6 exceeds the number of frames %(5%)", e)
    ok, e = pcall(truth.log_likelihood, truth, gk.matrix.new(4, 2))
    assert.is_false(ok)
    assert.matches("dimension mismatch", e)
    ok, e = pcall(gk.gmm.train, {X, gk.matrix.new(3, 2)}, {components = 2})
    assert.is_false(ok)
    assert.matches("dimension mismatch", e)
    ok, e = pcall(gk.gmm.train, gk.matrix.new(0, 3), {components = 1})
    assert.is_false(ok)
    assert.matches("no data", e)
    ok, e = pcall(truth.log_likelihood, truth, {})
    assert.is_false(ok)
    assert.matches("no data", e)
    ok, e = pcall(gk.gmm.train, X, {components = 2, max_iters = 3})
    assert.is_false(ok)
    assert.matches("did you mean 'max_iter'", e)
    ok, e = pcall(gk.gmm.train, X, {components = 2, init = "kmeans+"})
    assert.is_false(ok)
    assert.matches("did you mean 'kmeans", e)
    ok, e = pcall(gk.gmm.train, X, {components = 2, resume = true})
    assert.is_false(ok)
    assert.matches("needs the option 'checkpoint'", e)
  end)

  it("trains on identical frames without NaN, or says what is missing", function()
    local same = gk.matrix.new(50, 3):fill(2.5)
    for _, ct in ipairs{"diag", "full"} do
      local g = gk.gmm.train(same, {components = 3, covariance_type = ct, max_iter = 5})
      assert.is_true(no_nan(g))
      assert.near(2.5, g:means():get(1, 1), 1e-9)
      local ok, e = pcall(gk.gmm.train, same, {components = 2, covariance_type = ct, reg = 0,
                                                 var_floor_relative = 0})
      assert.is_false(ok)
      assert.matches("set var_floor or reg", e)
    end
    local g = gk.gmm.train(same, {components = 2, reg = 0, var_floor = 1e-4})
    assert.near(1e-4, g:covariances():get(1, 1), 1e-12)
  end)
end)

describe("scoring", function()
  local g = gk.gmm.new{weights = {0.4, 0.6}, means = {{0, 1}, {3, -1}}, covariances = {{1, 2}, {0.5, 1}}}
  local pts = {{0.5, 0.5}, {2, -1}, {-1, 3}}
  local function dens(x, c)
    local m, v = g:means(), g:covariances()
    local q, ld = 0, 0
    for j = 1, 2 do
      local t = x[j] - m:get(c, j)
      q = q + t * t / v:get(c, j)
      ld = ld + math.log(v:get(c, j))
    end
    return g:weights()[c] * math.exp(-0.5 * (2 * math.log(2 * math.pi) + ld + q))
  end
  it("computes log densities and posteriors as the closed form", function()
    local s = g:score_samples(pts)
    local total = 0
    for i, x in ipairs(pts) do
      local p = dens(x, 1) + dens(x, 2)
      assert.near(math.log(p), s:get(i, 1), 1e-5)
      total = total + math.log(p)
    end
    assert.near(total / 3, g:log_likelihood(pts), 1e-5)
    local post = g:posteriors(pts)
    for i, x in ipairs(pts) do
      local p1, p2 = dens(x, 1), dens(x, 2)
      assert.near(p1 / (p1 + p2), post:get(i, 1), 1e-5)
      assert.near(p2 / (p1 + p2), post:get(i, 2), 1e-5)
    end
    local v, ix = g:posteriors(pts, {top = 1})
    local lab = g:predict(pts)
    for i = 1, 3 do
      assert.equal(lab[i], ix:get(i, 1))
      assert.near(post:get(i, lab[i]), v:get(i, 1), 1e-12)
    end
  end)

  it("ranks the top C of many components exactly, ties to the lower index", function()
    -- rows of 16 components and more are ranked from a lower bound on their C-th best (C <=
    -- 8), rows of 128 and more also for C <= 64, other lists one by one; checked against a
    -- sort of the double posteriors (up to float32 rounding between near ties), for C on
    -- both sides of each bound's limit
    local data = gk.matrix.random(3000, 3, {seed = 9, dtype = "float32"})
    local Y = gk.matrix.random(300, 3, {seed = 10, dtype = "float32"})
    local function check(K, tops)
      local big = gk.gmm.train(data, {components = K, max_iter = 4, seed = 2})
      local full = big:posteriors(Y)
      for _, C in ipairs(tops) do
        local _, ix = big:posteriors(Y, {top = C})
        require("spec_helper").assert_top_ranked(full, ix, C, string.format("%d components, top %d", K, C))
      end
    end
    check(48, {1, 3, 5, 8, 9, 48})
    check(160, {5, 9, 20, 64, 65})
    -- copies of one component and one other: equal scores, taken in index order
    for _, n in ipairs{20, 140} do
      local w, mu, cov = {}, {}, {}
      for k = 1, n + 1 do w[k], mu[k], cov[k] = 1 / (n + 1), {k == n + 1 and 5 or 0}, {1} end
      local twins = gk.gmm.new{weights = w, means = mu, covariances = cov}
      for _, C in ipairs{1, 5, 8, 9, 20} do
        local _, ix = twins:posteriors({{0}, {5}}, {top = C})
        for t = 1, C do assert.are.equal(t, ix:get(1, t)) end
        assert.are.equal(n + 1, ix:get(2, 1))
        for t = 2, C do assert.are.equal(t - 1, ix:get(2, t)) end
      end
    end
  end)

  it("scores a full model through its Cholesky factors", function()
    local S = {{2, 0.8}, {0.8, 1}}
    local f = gk.gmm.new{weights = {1}, means = {{1, 2}}, covariances = {S}, covariance_type = "full"}
    local det = 2 * 1 - 0.8 * 0.8
    local x = {3, 1}
    local d1, d2 = x[1] - 1, x[2] - 2
    local q = (1 * d1 * d1 - 2 * 0.8 * d1 * d2 + 2 * d2 * d2) / det
    assert.near(-0.5 * (2 * math.log(2 * math.pi) + math.log(det) + q), f:log_likelihood({x}), 1e-5)
  end)

  it("samples with the model's moments, reproducibly", function()
    local a, b = g:sample(20000, {seed = 4}), g:sample(20000, {seed = 4})
    assert.equal(0, max_abs_diff(a, b))
    local m = a:mean()
    assert.near(0.4 * 0 + 0.6 * 3, m:get(1, 1), 0.05)
    assert.near(0.4 * 1 + 0.6 * -1, m:get(1, 2), 0.05)
  end)
end)

describe("statistics, update and MAP", function()
  it("accumulates, merges and updates like a training iteration", function()
    local a, b = rows(X, 1, 1000), rows(X, 1001, 4000)
    for _, ct in ipairs{"diag", "full"} do
      local g0 = gk.gmm.train(X, {components = 3, covariance_type = ct, max_iter = 2, seed = 1})
      local whole = g0:accumulate(X)
      local parts = g0:accumulate(a)
      parts:merge(g0:accumulate(b))
      assert.equal(4000, parts.frames)
      assert.near(whole.loglik, parts.loglik, 1e-9 * math.abs(whole.loglik))
      assert.is_true(max_abs_diff(whole:first(), parts:first()) < 1e-8)
      local one = gk.gmm.train(X, {init = g0, max_iter = 1, tol = 0})
      local upd = g0:update(whole)
      assert.is_true(same_model(one, upd))
      -- sums about the origin agree with the posteriors computed here
      local post = g0:posteriors(X)
      local n1, f11 = 0, 0
      for i = 1, 4000 do
        n1 = n1 + post:get(i, 1)
        f11 = f11 + post:get(i, 1) * X:get(i, 1)
      end
      assert.near(n1, whole:zero():get(1, 1), 1e-6 * n1)
      assert.near(f11, whole:first():get(1, 1), 1e-5 * math.abs(f11) + 1e-6)
      -- save / load
      local dir = helper.tmpdir()
      whole:save(dir .. "/s.stats")
      local back = gk.gmm.load_stats(dir .. "/s.stats")
      assert.equal(whole.frames, back.frames)
      assert.equal(0, max_abs_diff(whole:first(), back:first()))
      assert.is_true(same_model(g0:update(back), upd))
      os.remove(dir .. "/s.stats")
      os.remove(dir)
    end
  end)

  it("adapts means, weights and variances as Reynolds' formulas (one component)", function()
    local ubm = gk.gmm.new{weights = {1}, means = {{1, -1}}, covariances = {{2, 3}}}
    local x = truth:sample(50, {seed = 9}):select_cols({1, 2})
    local n, r = 50, 16
    local mean, sq = {0, 0}, {0, 0}
    for i = 1, n do
      for j = 1, 2 do
        mean[j] = mean[j] + x:get(i, j) / n
        sq[j] = sq[j] + x:get(i, j) ^ 2 / n
      end
    end
    local alpha = n / (n + r)
    local g = ubm:map_adapt(x, {relevance = r, means = true, variances = true})
    local m0, v0 = {1, -1}, {2, 3}
    for j = 1, 2 do
      local mu = alpha * mean[j] + (1 - alpha) * m0[j]
      assert.near(mu, g:means():get(1, j), 1e-6)
      local var = alpha * sq[j] + (1 - alpha) * (v0[j] + m0[j] ^ 2) - mu ^ 2
      assert.near(var, g:covariances():get(1, j), 1e-5)
    end
    local only = ubm:map_adapt(x, {relevance = r})
    assert.same({2, 3}, {only:covariances():get(1, 1), only:covariances():get(1, 2)})
  end)

  it("scores log-likelihood ratios, also over the top components", function()
    local spk = truth:map_adapt(rows(X, 1, 300))
    assert.near(0, gk.gmm.llr(truth, truth, X), 1e-12)
    local direct = spk:log_likelihood(X) - truth:log_likelihood(X)
    assert.near(direct, gk.gmm.llr(spk, truth, X), 1e-9)
    assert.near(direct, gk.gmm.llr(spk, truth, X, {top = 2}), 1e-5)
    assert.is_true(math.abs(gk.gmm.llr(spk, truth, X, {top = 1}) - direct) < 0.05)
  end)
end)

describe("files", function()
  local dir = helper.tmpdir()
  local full = gk.gmm.train(X, {components = 3, covariance_type = "full", max_iter = 3})
  local diag = gk.gmm.train(X, {components = 3, max_iter = 3})

  it("saves and loads the native format exactly", function()
    for _, g in ipairs{diag, full} do
      g:save(dir .. "/m.gmm")
      assert.is_true(same_model(g, gk.gmm.load(dir .. "/m.gmm")))
    end
  end)

  it("detects corrupted, truncated and foreign files", function()
    diag:save(dir .. "/m.gmm")
    local f = assert(io.open(dir .. "/m.gmm", "rb"))
    local bytes = f:read("a")
    f:close()
    local function write(s) local o = assert(io.open(dir .. "/bad.gmm", "wb")) o:write(s) o:close() end
    write(bytes:sub(1, 100) .. string.char((bytes:byte(101) + 1) % 256) .. bytes:sub(102))
    local ok, e = pcall(gk.gmm.load, dir .. "/bad.gmm")
    assert.is_false(ok)
    assert.matches("checksum", e)
    write(bytes:sub(1, #bytes - 9))
    ok, e = pcall(gk.gmm.load, dir .. "/bad.gmm")
    assert.is_false(ok)
    assert.matches("truncated", e)
    write("hello world, this is not a model at all, not at all....")
    ok, e = pcall(gk.gmm.load, dir .. "/bad.gmm")
    assert.is_false(ok)
    assert.matches("bad magic", e)
    ok, e = pcall(gk.gmm.load_stats, dir .. "/m.gmm")
    assert.is_false(ok)
    assert.matches("not gmmkit statistics", e)
    ok, e = pcall(gk.gmm.load, dir .. "/missing.gmm")
    assert.is_false(ok)
    assert.matches("missing.gmm", e)
    os.remove(dir .. "/bad.gmm")
  end)

  it("keeps the previous file intact when a writer is killed during save", function()
    diag:save(dir .. "/keep.gmm")
    local script, marker = dir .. "/writer.lua", dir .. "/saved-once"
    local f = assert(io.open(script, "w"))
    f:write(([[
local gk = require "gmmkit"
local means, covs, w = {}, {}, {}
for c = 1, 2000 do
  w[c] = 1 / 2000
  means[c], covs[c] = {}, {}
  for j = 1, 60 do means[c][j] = c + j; covs[c][j] = 1 end
end
local big = gk.gmm.new{weights = w, means = means, covariances = covs}
big:save(%q)
io.open(%q, "w"):close()
while true do big:save(%q) end
]]):format(dir .. "/keep.gmm", marker, dir .. "/keep.gmm"))
    f:close()
    -- After one complete save the writer saves in a loop and is killed at some point
    -- of a save, several times at different moments.
    for _, delay in ipairs{"0.05", "0.13", "0.31"} do
      os.remove(marker)
      helper.run("(" .. LUA .. " " .. script .. " & p=$!; while [ ! -e " .. marker .. " ]; do sleep 0.02; done; " ..
                 "sleep " .. delay .. "; kill -9 $p; wait $p)")
      local g = gk.gmm.load(dir .. "/keep.gmm")
      assert.equal(2000, g.components)
      assert.equal(61, g:means():get(1, 60))
    end
    os.execute("rm -f " .. dir .. "/keep.gmm* " .. marker .. " " .. script)
  end)

  it("reads Kaldi text GMMs and writes them back", function()
    for _, case in ipairs{"diag", "full"} do
      local g = gk.gmm.load_kaldi(DATA .. "kaldi_" .. case .. ".txt")
      assert.equal(case, g.covariance_type)
      local w = g:weights()
      local rw = fixture("kaldi_" .. case, "w")
      for i = 1, 3 do assert.near(rw:get(i, 1), w[i], 1e-8) end
      assert.is_true(max_abs_diff(g:means(), fixture("kaldi_" .. case, "mu")) < 1e-6)
      local rc = fixture("kaldi_" .. case, "cov")
      if case == "diag" then
        assert.is_true(max_abs_diff(g:covariances(), rc) < 1e-6)
      else
        for c, m in ipairs(g:covariances()) do assert.is_true(max_abs_diff(m, rows(rc, 4 * c - 3, 4 * c)) < 1e-6) end
      end
      g:save_kaldi(dir .. "/k.txt")
      local f = assert(io.open(dir .. "/k.txt"))
      local text = f:read("a")
      f:close()
      assert.matches(case == "diag" and "^<DiagGMM> \n<GCONSTS>  %[ " or "^<FullGMM> \n<GCONSTS>  %[ ", text)
      assert.matches(case == "diag" and "<INV_VARS>  %[\n  " or "<INV_COVARS> %[\n", text)
      local back = gk.gmm.load_kaldi(dir .. "/k.txt")
      assert.is_true(max_abs_diff(g:means(), back:means()) < 1e-7)
      -- gconsts written as Kaldi defines them: log w - (D log 2pi + log|S| + mu' S^-1 mu) / 2
      local gc1 = tonumber(text:match("<GCONSTS>  %[ (%S+)"))
      local only1 = gk.gmm.new{weights = {1}, means = rows(g:means(), 1, 1),
                               covariances = case == "diag" and rows(g:covariances(), 1, 1) or {g:covariances()[1]},
                               covariance_type = case}
      assert.near(math.log(g:weights()[1]) + only1:log_likelihood({{0, 0, 0, 0}}), gc1, 1e-6)
    end
    -- the older packed form "FP size values" of Kaldi's text files
    local old = assert(io.open(dir .. "/old.txt", "w"))
    old:write("<FullGMM> \n<WEIGHTS>  [ 1 ]\n<MEANS_INVCOVARS>  [\n  2 1 ]\n<INV_COVARS> FP 2 2 1 1 \n</FullGMM> \n")
    old:close()
    local og = gk.gmm.load_kaldi(dir .. "/old.txt")
    -- P = [[2, 1], [1, 1]], S = P^-1 = [[1, -1], [-1, 2]], mu = S (2, 1) = (1, 0)
    assert.near(1, og:means():get(1, 1), 1e-12)
    assert.near(0, og:means():get(1, 2), 1e-12)
    assert.near(-1, og:covariances()[1]:get(1, 2), 1e-12)
    assert.near(2, og:covariances()[1]:get(2, 2), 1e-12)
    os.remove(dir .. "/old.txt")
    local f = assert(io.open(dir .. "/bad.txt", "w"))
    f:write("<DiagGMM> \n<WEIGHTS>  [ 0.5 0.5 ]\n<MEANS_INVVARS>  [\n  1 2 \n  3 ]\n")
    f:close()
    local ok, e = pcall(gk.gmm.load_kaldi, dir .. "/bad.txt")
    assert.is_false(ok)
    assert.matches("row has 1 values", e)
    os.remove(dir .. "/bad.txt")
    os.remove(dir .. "/k.txt")
  end)

  teardown(function()
    os.remove(dir .. "/m.gmm")
    os.remove(dir)
  end)
end)
