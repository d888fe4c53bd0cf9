-- gk.gmm.llr_matrix: the scores of a trial list (many MAP-adapted models against one UBM,
-- on many tests) equal the per-pair gk.gmm.llr calls they replace.
local gk = require "gmmkit"

local function helper_diff(a, b) return require("spec_helper").max_abs_diff(a, b) end

local function rel(a, b)
  return math.abs(a - b) / math.max(1, math.abs(b))
end

-- Every entry of S equals its per-pair gk.gmm.llr(models[m], ubm, tests[t], {top = top}).
local function assert_pairs(S, models, ubm, tests, top, what)
  for m = 1, #models do
    for t = 1, #tests do
      local want = gk.gmm.llr(models[m], ubm, tests[t], {top = top})
      assert.is_true(rel(S:get(m, t), want) < 1e-12,
                     string.format("%s, (%d, %d): %.17g vs %.17g", what, m, t, S:get(m, t), want))
    end
  end
end

describe("gk.gmm.llr_matrix", function()
  for _, cov in ipairs{"diag", "full"} do
    it("equals per-pair gk.gmm.llr, exhaustive and top-C (" .. cov .. ")", function()
      local X = gk.matrix.random(600, 4, {seed = 1, dtype = "float32"})
      local ubm = gk.gmm.train(X, {components = 8, covariance_type = cov, max_iter = 5, seed = 2})
      local models, tests = {}, {}
      for m = 1, 3 do
        models[m] = ubm:map_adapt(gk.matrix.random(80, 4, {seed = 10 + m, dtype = "float32"}), {relevance = 4})
      end
      for t = 1, 4 do tests[t] = gk.matrix.random(50 + 30 * t, 4, {seed = 20 + t, dtype = "float32"}) end
      tests[5] = {gk.matrix.random(30, 4, {seed = 40}), gk.matrix.random(20, 4, {seed = 41, dtype = "float32"})}
      for _, top in ipairs{0, 1, 3, 8} do
        local S = gk.gmm.llr_matrix(models, ubm, tests, {top = top})
        assert.are.equal(3, S:rows())
        assert.are.equal(5, S:cols())
        assert_pairs(S, models, ubm, tests, top, "top " .. top)
      end
    end)
  end

  it("equals per-pair gk.gmm.llr when tests span several blocks and blocks several tests", function()
    -- scoring runs in blocks of 1024 frames of the joined tests: a long test is cut across
    -- blocks, short ones share one; each test's sum must still be its own; 10 models
    -- exceed one group of 8 models a pass
    local X = gk.matrix.random(3000, 5, {seed = 4, dtype = "float32"})
    local ubm = gk.gmm.train(X, {components = 12, max_iter = 4, seed = 3})
    local models, tests = {}, {}
    for m = 1, 10 do models[m] = ubm:map_adapt(X:select_rows({m, m + 10, m + 20, m + 30}), {relevance = 2}) end
    -- means-only models share the UBM's prepared variances; these two must not
    models[4] = ubm:map_adapt(X:select_rows({4, 14, 24}), {relevance = 2, weights = true, variances = true})
    models[7] = ubm:map_adapt(X:select_rows({7, 17, 27}), {relevance = 2, variances = true})
    local sizes = {700, 2600, 3, 1, 1500, 40}
    for t, n in ipairs(sizes) do tests[t] = gk.matrix.random(n, 5, {seed = 50 + t, dtype = "float32"}) end
    for _, threads in ipairs{1, 2} do
      local before = gk.threads()
      gk.set_threads(threads)
      local S = gk.gmm.llr_matrix(models, ubm, tests, {top = 3})
      gk.set_threads(before)
      assert_pairs(S, models, ubm, tests, 3, threads .. " threads")
    end
  end)

  it("equals per-pair gk.gmm.llr when components have fewer than four frames (models four at a time)", function()
    -- 64 components and a few short tests: most components hold one to three of a block's
    -- pairs, which are scored four models at a time where four share the UBM's variances
    -- (the UBM and means-only models); models 5 and 7 adapt variances and break the runs
    local X = gk.matrix.random(2000, 6, {seed = 7, dtype = "float32"})
    local ubm = gk.gmm.train(X, {components = 64, max_iter = 3, seed = 5})
    local models, tests = {}, {}
    for m = 1, 9 do models[m] = ubm:map_adapt(X:select_rows({m, m + 9, m + 18, m + 27, m + 36}), {relevance = 2}) end
    models[5] = ubm:map_adapt(X:select_rows({5, 15, 25}), {relevance = 2, variances = true})
    models[7] = ubm:map_adapt(X:select_rows({7, 17, 27}), {relevance = 2, weights = true, variances = true})
    for t, n in ipairs{1, 2, 5, 9, 4} do tests[t] = gk.matrix.random(n, 6, {seed = 60 + t, dtype = "float32"}) end
    for _, top in ipairs{1, 2, 3} do
      assert_pairs(gk.gmm.llr_matrix(models, ubm, tests, {top = top}), models, ubm, tests, top, "top " .. top)
    end
  end)

  it("does not depend on the number of threads", function()
    local X = gk.matrix.random(2000, 3, {seed = 3, dtype = "float32"})
    local ubm = gk.gmm.train(X, {components = 6, max_iter = 3})
    local models = {ubm:map_adapt(X:select_rows({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}))}
    local before = gk.threads()
    gk.set_threads(1)
    local a = gk.gmm.llr_matrix(models, ubm, {X}, {top = 2})
    gk.set_threads(2)
    local b = gk.gmm.llr_matrix(models, ubm, {X}, {top = 2})
    gk.set_threads(before)
    assert.are.equal(a:get(1, 1), b:get(1, 1))
  end)

  it("names a bad model, test or option", function()
    local X = gk.matrix.random(100, 2, {seed = 1})
    local ubm = gk.gmm.train(X, {components = 3, max_iter = 2})
    local small = gk.gmm.train(X, {components = 2, max_iter = 2})
    assert.error_matches(function() gk.gmm.llr_matrix({ubm, small}, ubm, {X}, {top = 2}) end,
                         "model 2: 2 diag, UBM 3 diag")
    assert.error_matches(function() gk.gmm.llr_matrix({ubm, 5}, ubm, {X}) end, "item 2 is number, not an open gmmkit.Gmm")
    assert.error_matches(function() gk.gmm.llr_matrix({ubm}, ubm, {X, gk.matrix.new(3, 5)}) end,
                         "test 2: dimension mismatch")
    assert.error_matches(function() gk.gmm.llr_matrix({ubm}, ubm, {X}, {top = 4}) end, "option 'top' must be in %[0, 3%]")
    assert.error_matches(function() gk.gmm.llr_matrix({}, ubm, {X}) end, "no models")
    assert.error_matches(function() gk.gmm.llr_matrix({ubm}, ubm, {}) end, "no tests")
    assert.error_matches(function() gk.gmm.llr_matrix({ubm}, ubm, {X}, {tops = 1}) end, "did you mean 'top'")
  end)
end)

-- ubm's reduction to 4 by Runnalls plus a fifth component far from every UBM component.
local function sel_mixture_with_far_component(ubm)
  local g = gk.simplify.reduce(ubm, 4, {method = "runnalls"})
  local w, mu, cov = g:weights(), g:means(), g:covariances()
  local W, MU, COV = {}, {}, {}
  for k = 1, 4 do
    W[k] = 0.9 * w[k]
    MU[k] = {mu:get(k, 1), mu:get(k, 2), mu:get(k, 3)}
    COV[k] = {cov:get(k, 1), cov:get(k, 2), cov:get(k, 3)}
  end
  W[5], MU[5], COV[5] = 0.1, {1e3, 1e3, 1e3}, {1, 1, 1}
  return gk.gmm.new{weights = W, means = MU, covariances = COV}
end

describe("gk.gmm.selector", function()
  local ubm, X
  setup(function()
    local data = gk.matrix.random(3000, 3, {seed = 7, dtype = "float32"})
    for i = 1, 3000 do
      local c = i % 4
      data:set(i, 1, data:get(i, 1) + 5 * c)
      data:set(i, 2, data:get(i, 2) - 3 * (c % 2))
    end
    ubm = gk.gmm.train(data, {components = 16, max_iter = 10, seed = 1})
    X = gk.matrix.random(400, 3, {seed = 8, dtype = "float32"})
    for i = 1, 400 do X:set(i, 1, X:get(i, 1) + 5 * (i % 4)) end
  end)

  it("searching every cluster is exhaustive scoring: the same top components and scores", function()
    local sel = gk.gmm.selector_from(ubm, ubm)  -- a cluster per component (those some component joined)
    local M = sel.clusters
    local idx, evals = sel:select(X, {search = M, top = 4})
    local _, ex = ubm:posteriors(X, {top = 4})
    for i = 1, X:rows() do
      for t = 1, 4 do assert.are.equal(ex:get(i, t), idx:get(i, t), "frame " .. i) end
    end
    assert.are.equal(M + 16, evals)
    local m = ubm:map_adapt(X, {relevance = 8})
    local want = gk.gmm.llr(m, ubm, X, {top = 4})
    assert.is_true(rel(gk.gmm.llr(m, ubm, X, {selector = sel, search = M, top = 4}), want) < 1e-12)
  end)

  it("log_likelihood and posteriors over every cluster's members are the exhaustive ones", function()
    local sel = gk.gmm.selector_from(ubm, ubm)
    local M = sel.clusters
    -- the exhaustive pass forms its densities in float32 (blocked SGEMM), the selected one in double
    assert.is_true(rel(ubm:log_likelihood(X, {selector = sel, search = M, top = 16}), ubm:log_likelihood(X)) < 1e-6)
    local p, ix = ubm:posteriors(X, {selector = sel, search = M, top = 16})
    local full = ubm:posteriors(X)
    for i = 1, X:rows(), 37 do
      local sum = 0
      for t = 1, 16 do
        sum = sum + p:get(i, t)
        assert.is_true(math.abs(p:get(i, t) - full:get(i, ix:get(i, t))) < 1e-4)
      end
      assert.is_true(math.abs(sum - 1) < 1e-12)
    end
    -- fewer components: the selected density is below the whole one, posteriors still sum to 1
    local small = gk.gmm.selector(ubm, {clusters = 4})
    assert.is_true(ubm:log_likelihood(X, {selector = small, top = 2}) <= ubm:log_likelihood(X) + 1e-12)
    local q = ubm:posteriors(X, {selector = small, top = 2})
    assert.is_true(math.abs(q:get(1, 1) + q:get(1, 2) - 1) < 1e-12 or q:get(1, 2) == 0)
    assert.error_matches(function() ubm:log_likelihood(X, {top = 2}) end, "option 'top' needs the option 'selector'")
  end)

  it("statistics and MAP adaptation over every cluster's members are the exhaustive ones", function()
    local sel = gk.gmm.selector_from(ubm, ubm)
    local M = sel.clusters
    local a = ubm:accumulate(X)
    local b = ubm:accumulate(X, nil, {selector = sel, search = M, top = 16})
    assert.is_true(math.abs(a.frames - b.frames) == 0)
    assert.is_true(rel(a.loglik, b.loglik) < 1e-6)
    assert.is_true(helper_diff(a:zero(), b:zero()) < 1e-3)
    assert.is_true(helper_diff(a:first(), b:first()) < 1e-2)
    local ma = ubm:map_adapt(X, {relevance = 4})
    local mb = ubm:map_adapt(X, {relevance = 4, selector = sel, search = M, top = 16})
    assert.is_true(helper_diff(ma:means(), mb:means()) < 1e-5)
    -- selection: the occupancies still sum to the frames (to the float32 rounding of the
    -- E-step's posteriors, and less those under 2^-30 of a frame's largest, which it drops)
    local small = gk.gmm.selector(ubm, {clusters = 4})
    local c = ubm:accumulate(X, nil, {selector = small, top = 2})
    local z, sum = c:zero(), 0
    for k = 1, z:rows() do sum = sum + z:get(k, 1) end
    assert.is_true(math.abs(sum - X:rows()) < 1e-6 * X:rows())
  end)

  for _, cov in ipairs{"diag", "full"} do
    it("ranks long member lists exactly: every searched member counts, the best C in order (" .. cov .. ")", function()
      -- clusters of 16 members and more are ranked from a lower bound on their C-th best
      -- (C <= 8); with every cluster searched, the selection is the exhaustive top C, up to
      -- float32 rounding between near ties (checked against the double posteriors); full
      -- covariances take the clusters' E-step and score members by Cholesky solves
      local data = gk.matrix.random(1500, 3, {seed = 9, dtype = "float32"})
      local big = gk.gmm.train(data, {components = 48, covariance_type = cov, max_iter = 4, seed = 2})
      local Y = gk.matrix.random(400, 3, {seed = 10, dtype = "float32"})
      local full = big:posteriors(Y)
      for _, clusters in ipairs{1, 2} do
        local sel = gk.gmm.selector(big, {clusters = clusters})
        for _, C in ipairs{1, 3, 5, 8} do
          local idx = sel:select(Y, {search = clusters, top = C})
          require("spec_helper").assert_top_ranked(full, idx, C, string.format("%d clusters, top %d", clusters, C))
        end
      end
    end)
  end

  it("evaluates the clusters and the members of the searched ones, and partitions the components", function()
    local sel, info = gk.gmm.selector(ubm, {clusters = 4})
    assert.are.equal("runnalls", info.method)
    assert.are.equal(4, sel.clusters)
    assert.are.equal(16, sel.components)
    local seen, sizes = {}, {}
    for j = 1, 4 do
      sizes[j] = #sel:members(j)
      for _, k in ipairs(sel:members(j)) do
        assert.is_nil(seen[k], "component " .. k .. " in two clusters with overlap 1")
        seen[k] = j
      end
    end
    for k = 1, 16 do assert.is_truthy(seen[k], "component " .. k .. " in no cluster") end
    -- the mean evaluations: 4 clusters plus the members of each frame's best cluster
    local _, best = sel:mixture():posteriors(X, {top = 1})
    local want = 0
    for i = 1, X:rows() do want = want + 4 + sizes[best:get(i, 1)] end
    local idx, evals = sel:select(X, {search = 1, top = 2})
    assert.is_true(math.abs(evals - want / X:rows()) < 1e-9)
    for i = 1, X:rows() do
      local members = {}
      for _, k in ipairs(sel:members(best:get(i, 1))) do members[k] = true end
      for t = 1, 2 do
        local k = idx:get(i, t)
        assert.is_true(k == 0 or members[k], "frame " .. i .. " took a component outside its cluster")
      end
    end
  end)

  it("with overlap 2 every component is in two clusters", function()
    local sel = gk.gmm.selector(ubm, {clusters = 4, overlap = 2})
    local count = {}
    for j = 1, 4 do
      for _, k in ipairs(sel:members(j)) do count[k] = (count[k] or 0) + 1 end
    end
    for k = 1, 16 do assert.are.equal(2, count[k]) end
  end)

  it("drops a cluster that no component joined, so that every frame has components to score", function()
    local g = sel_mixture_with_far_component(ubm)
    local sel = gk.gmm.selector_from(ubm, g)
    assert.are.equal(g.components - 1, sel.clusters)
    local far = gk.matrix.new(5, 3, 1e3, "float32")  -- frames nearest the dropped cluster
    local idx = sel:select(far, {search = 1, top = 2})
    for i = 1, 5 do assert.is_true(idx:get(i, 1) >= 1) end
    local m = ubm:map_adapt(X, {relevance = 8})
    local v = gk.gmm.llr(m, ubm, far, {selector = sel, top = 2})
    assert.is_true(v == v, "NaN score")
  end)

  it("with data, the frames' best components are members of the clusters they search", function()
    local geo = gk.gmm.selector(ubm, {clusters = 4})
    for _, c in ipairs{{search = 1, top = 3}, {search = 2, top = 2}} do
      local sel = gk.gmm.selector(ubm, {clusters = 4, data = X, search = c.search, top = c.top, min_count = 1})
      -- the members by overlap stay; data only adds
      for j = 1, 4 do
        local have = {}
        for _, k in ipairs(sel:members(j)) do have[k] = true end
        for _, k in ipairs(geo:members(j)) do assert.is_true(have[k], "cluster " .. j .. " lost component " .. k) end
      end
      -- selecting the same frames finds their exhaustive best components, every one
      local idx = sel:select(X, {search = c.search, top = c.top})
      local _, ex = ubm:posteriors(X, {top = c.top})
      for i = 1, X:rows() do
        local want = {}
        for t = 1, c.top do want[ex:get(i, t)] = true end
        for t = 1, c.top do assert.is_true(want[idx:get(i, t)], "frame " .. i .. " missed a best component") end
      end
    end
    -- the geometric selector misses some of them: the data made a difference
    local idx = geo:select(X, {search = 1, top = 3})
    local _, ex = ubm:posteriors(X, {top = 3})
    local missed = 0
    for i = 1, X:rows() do if idx:get(i, 1) ~= ex:get(i, 1) then missed = missed + 1 end end
    assert.is_true(missed > 0)
    -- a count no pair reaches keeps the members by overlap alone
    local strict = gk.gmm.selector(ubm, {clusters = 4, data = X, min_count = X:rows() * 5 + 1})
    for j = 1, 4 do assert.are.same(geo:members(j), strict:members(j)) end
    -- a list of matrices is the frames of all of them
    local first, second = {}, {}
    for i = 1, 200 do first[i], second[i] = i, 200 + i end
    local halves = {X:select_rows(first), X:select_rows(second)}
    local a = gk.gmm.selector(ubm, {clusters = 4, data = X, top = 2, min_count = 2})
    local b = gk.gmm.selector(ubm, {clusters = 4, data = halves, top = 2, min_count = 2})
    for j = 1, 4 do assert.are.same(a:members(j), b:members(j)) end
  end)

  it("names bad options", function()
    local sel = gk.gmm.selector(ubm, {clusters = 4})
    for _, key in ipairs{"search", "top", "min_count"} do
      assert.error_matches(function() gk.gmm.selector(ubm, {clusters = 4, [key] = 1}) end,
                           "bad argument #2 to 'selector' %(option '" .. key .. "' needs the option 'data'%)")
    end
    assert.error_matches(function() gk.gmm.selector(ubm, {clusters = 4, data = "X"}) end,
                         "option 'data' must be a gmmkit.Matrix or a list of them, got string")
    assert.error_matches(function() gk.gmm.selector(ubm, {clusters = 4, data = {}}) end, "option 'data' is an empty list")
    assert.error_matches(function() gk.gmm.selector(ubm, {clusters = 4, data = {X, 5}}) end,
                         "option 'data' item 2 is a number, not a gmmkit.Matrix")
    assert.error_matches(function() gk.gmm.selector(ubm, {clusters = 4, data = gk.matrix.random(5, 2)}) end,
                         "option 'data' has 2 columns, the UBM dimension 3")
    assert.error_matches(function() gk.gmm.selector(ubm, {clusters = 4, data = X, search = 5}) end,
                         "option 'search' must be in %[1, 4%]")
    assert.error_matches(function() gk.gmm.selector(ubm, {clusters = 4, data = X, top = 17}) end,
                         "option 'top' must be in %[1, 16%]")
    assert.error_matches(function() gk.gmm.selector(ubm, {clusters = 4, data = X, min_count = 0}) end,
                         "option 'min_count' must be in %[1, ")
    assert.error_matches(function() gk.gmm.selector(ubm, {clusters = 4, data = gk.matrix.new(0, 3)}) end,
                         "option 'data' has no frames")
    assert.error_matches(function() gk.gmm.selector(ubm, {clusters = 16}) end, "option 'clusters' must be an integer in %[1, 15%]")
    assert.error_matches(function() gk.gmm.selector(ubm, {clusters = 4, method = "nope"}) end,
                         "bad argument #2 to 'selector' %(option 'method' 'nope' is unknown")
    assert.error_matches(function() sel:select(X, {search = 5}) end, "option 'search' must be in %[1, 4%]")
    assert.error_matches(function() gk.gmm.llr(ubm, ubm, X, {search = 2}) end, "option 'search' needs the option 'selector'")
    assert.error_matches(function() gk.gmm.llr(ubm, ubm, X, {selector = ubm}) end, "must be an open gmmkit.Selector")
    assert.error_matches(function() gk.gmm.selector_from(ubm, (gk.gmm.train(gk.matrix.random(50, 2), {components = 2}))) end,
                         "the clusters have dimension 2, the UBM 3")
    sel:close()
    assert.error_matches(function() sel:select(X) end, "closed gmmkit.Selector")
  end)
end)
