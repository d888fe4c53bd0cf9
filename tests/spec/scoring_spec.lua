-- gk.gmm.llr_matrix: the scores of a trial list (many MAP-adapted models against one UBM,
-- on many tests) equal the per-pair gk.gmm.llr calls they replace.
local gk = require "gmmkit"

local function rel(a, b)
  return math.abs(a - b) / math.max(1, math.abs(b))
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
        for m = 1, 3 do
          for t = 1, 5 do
            local want = gk.gmm.llr(models[m], ubm, tests[t], {top = top})
            assert.is_true(rel(S:get(m, t), want) < 1e-12,
                           string.format("top %d, (%d, %d): %.17g vs %.17g", top, m, t, S:get(m, t), want))
          end
        end
      end
    end)
  end

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
