-- gk.eval: DET, EER, min/act DCF and Z-, T-, S-norm against computations written here from
-- the definitions (counts over all thresholds; the EER of the ROC convex hull as the
-- max-min of the detection cost over priors), a hand-worked example with ties, and every
-- bad input.
local gk = require "gmmkit"
local H = require "spec_helper"

local ev = gk.eval

-- ---- references from the definitions ------------------------------------------------------

--- Error rates at threshold t (accept when score >= t), by counting.
local function rates(tar, non, t)
  local m, f = 0, 0
  for _, s in ipairs(tar) do if s < t then m = m + 1 end end
  for _, s in ipairs(non) do if s >= t then f = f + 1 end end
  return m / #tar, f / #non
end

--- Every threshold that gives a distinct operating point: the distinct scores, then +inf.
local function thresholds(tar, non)
  local all, seen, t = {}, {}, {}
  for _, s in ipairs(tar) do all[#all + 1] = s end
  for _, s in ipairs(non) do all[#all + 1] = s end
  table.sort(all)
  for _, s in ipairs(all) do
    if not seen[s] then seen[s] = true; t[#t + 1] = s end
  end
  t[#t + 1] = math.huge
  return t
end

local function brute_points(tar, non)
  local pts = {}
  for _, t in ipairs(thresholds(tar, non)) do
    local pm, pf = rates(tar, non, t)
    pts[#pts + 1] = {pm = pm, pf = pf, t = t}
  end
  return pts
end

--- EER of the ROC convex hull without building a hull. For any prior P, the least cost
--- min_t P Pmiss(t) + (1 - P) Pfa(t) is reached on the hull, and (minimax theorem, the hull
--- being convex) max over P of that least cost = min over the hull of max(Pmiss, Pfa) =
--- the value where the hull crosses Pmiss = Pfa. The least cost is concave and piecewise
--- linear in P: its maximum is at P = 0, P = 1, or where two points' costs are equal.
local function brute_eer(tar, non)
  local pts = brute_points(tar, non)
  local function least(P)
    local best = math.huge
    for _, p in ipairs(pts) do best = math.min(best, P * p.pm + (1 - P) * p.pf) end
    return best
  end
  local eer = math.max(least(0), least(1))
  for i = 1, #pts do
    for j = i + 1, #pts do
      local a, b = pts[i], pts[j]
      -- P a.pm + (1 - P) a.pf = P b.pm + (1 - P) b.pf
      local den = (a.pm - a.pf) - (b.pm - b.pf)
      if den ~= 0 then
        local P = (b.pf - a.pf) / den
        if P > 0 and P < 1 then eer = math.max(eer, least(P)) end
      end
    end
  end
  return eer
end

local function dcf_of(pm, pf, o)
  local wm, wf = o.c_miss * o.p_target, o.c_fa * (1 - o.p_target)
  return (wm * pm + wf * pf) / math.min(wm, wf)
end

local function brute_min_dcf(tar, non, o)
  local best = math.huge
  for _, p in ipairs(brute_points(tar, non)) do best = math.min(best, dcf_of(p.pm, p.pf, o)) end
  return best
end

--- Random scores: targets around 1.5, non-targets around 0, on a grid of 1/grid (ties), or
--- continuous when grid is nil.
local function scores(rng, n, mean, grid)
  local x = {}
  for i = 1, n do
    local v = mean + rng:normal()
    x[i] = grid and math.floor(v * grid) / grid or v
  end
  return x
end

--- A small seeded normal generator written here (Box-Muller on math.random's state).
local function generator(seed)
  math.randomseed(seed)
  return {normal = function()
    local u1, u2 = 1 - math.random(), math.random()
    return math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)
  end}
end

--- Mean and population standard deviation of the `top` largest of x (all when top is 0).
local function stats(x, top)
  local y = {table.unpack(x)}
  table.sort(y, function(a, b) return a > b end)
  local k = (top and top > 0) and top or #y
  local s = 0
  for i = 1, k do s = s + y[i] end
  local mu, ss = s / k, 0
  for i = 1, k do ss = ss + (y[i] - mu) ^ 2 end
  return mu, math.sqrt(ss / k)
end

local function row(m, i)
  local r = {}
  for j = 1, m:cols() do r[j] = m:get(i, j) end
  return r
end

local function col(m, j)
  local c = {}
  for i = 1, m:rows() do c[i] = m:get(i, j) end
  return c
end

describe("gk.eval", function()
  it("works the hand example with ties", function()
    -- tar = {1, 2, 2}, non = {0, 2, 3}; accept when score >= t:
    --   t     misses  false alarms   Pmiss  Pfa
    --   0     0       3              0      1
    --   1     0       2              0      2/3
    --   2     1       2              1/3    2/3
    --   3     3       1              1      1/3   (the tie at 2: two targets and a
    --   inf   3       0              1      0      non-target pass together)
    -- Hull in (Pfa, Pmiss): (1, 0), (2/3, 0), (0, 1); the chord from (2/3, 0) to (0, 1) is
    -- Pmiss = 1 - 1.5 Pfa, and the other points lie above it. It meets Pmiss = Pfa at 0.4,
    -- 0.4 of the way along, so the nearer vertex is (2/3, 0), threshold 1. Splitting the
    -- tie non-target first would add (1/3, 1/3) and an EER of 1/3.
    local tar, non = {1, 2, 2}, {0, 2, 3}
    local d = ev.det(tar, non)
    assert.are.same({0, 1, 2, 3, math.huge}, d.threshold)
    local pm, pf = {0, 0, 1 / 3, 1, 1}, {1, 2 / 3, 2 / 3, 1 / 3, 0}
    for i = 1, 5 do
      assert.near(pm[i], d.pmiss[i], 1e-15)
      assert.near(pf[i], d.pfa[i], 1e-15)
    end
    local h = ev.det(tar, non, {rocch = true})
    assert.are.same({0, 1, math.huge}, h.threshold)
    local eer, thr = ev.eer(tar, non)
    assert.near(0.4, eer, 1e-15)
    assert.are.equal(1, thr)
    assert.near(0.4, brute_eer(tar, non), 1e-15)
    -- tar {1, 3}, non {2, 4}: the point (1/2, 1/2) at threshold 3 lies on the hull (the
    -- chord from (1, 0) to (0, 1)) at the crossing itself.
    eer, thr = ev.eer({1, 3}, {2, 4})
    assert.are.equal(0.5, eer)
    assert.are.equal(3, thr)
    -- p_target 0.5, costs 1: DCF / 0.5 = Pmiss + Pfa = 1, 2/3, 1, 4/3, 1.
    local dcf, t = ev.min_dcf(tar, non, {p_target = 0.5})
    assert.near(2 / 3, dcf, 1e-15)
    assert.are.equal(1, t)
    -- Defaults (0.01, 1, 1): Pmiss + 99 Pfa = 99, 66, 66.33, 34, 1: 1 at +inf.
    dcf, t = ev.min_dcf(tar, non)
    assert.near(1, dcf, 1e-15)
    assert.are.equal(math.huge, t)
    -- At 2.5: Pmiss 1, Pfa 1/3, DCF 4/3 (p_target 0.5); c_miss = 2 doubles the miss term
    -- and the normaliser stays 0.5: (1 + 1/6) / 0.5 = 7/3.
    local a, m, f = ev.act_dcf(tar, non, 2.5, {p_target = 0.5})
    assert.near(4 / 3, a, 1e-15)
    assert.are.equal(1, m)
    assert.near(1 / 3, f, 1e-15)
    assert.near(7 / 3, ev.act_dcf(tar, non, 2.5, {p_target = 0.5, c_miss = 2}), 1e-15)
  end)

  it("takes arrays and vector matrices alike", function()
    local tar, non = {1, 2, 2, 5}, {0, 2, 3, 0.5, 1}
    local e1, t1 = ev.eer(tar, non)
    local mt = gk.matrix.from_table({tar})            -- 1 x n
    local mn = gk.matrix.from_table(non)              -- n x 1
    local e2, t2 = ev.eer(mt, mn)
    assert.are.equal(e1, e2)
    assert.are.equal(t1, t2)
    assert.are.equal(ev.min_dcf(tar, non), ev.min_dcf(mt:astype("float32"), mn))
  end)

  it("equals the definitions on random scores, with and without ties", function()
    local rng = generator(15)
    for trial = 1, 60 do
      local grid = ({4, 2, nil})[trial % 3 + 1]
      local nt = grid and math.random(1, 300) or math.random(1, 25)
      local nn = grid and math.random(1, 300) or math.random(1, 25)
      local tar, non = scores(rng, nt, 1.5, grid), scores(rng, nn, 0, grid)
      -- DET: every point is the counts at its threshold, and all thresholds are there.
      local d, ref = ev.det(tar, non), brute_points(tar, non)
      assert.are.equal(#ref, #d.pmiss)
      for i, p in ipairs(ref) do
        assert.are.equal(p.t, d.threshold[i])
        assert.are.equal(p.pm, d.pmiss[i])
        assert.are.equal(p.pf, d.pfa[i])
      end
      -- EER against the max-min over priors; its threshold is a point of the curve.
      local eer, thr = ev.eer(tar, non)
      assert.near(brute_eer(tar, non), eer, 1e-12)
      -- Never above the crossing of the step curve (neighbouring points joined).
      for i = 1, #ref - 1 do
        local a, b = ref[i], ref[i + 1]
        if a.pf > a.pm and b.pf <= b.pm then
          local u = (a.pf - a.pm) / ((a.pf - a.pm) - (b.pf - b.pm))
          assert.is_true(eer <= a.pm + u * (b.pm - a.pm) + 1e-12)
        end
      end
      -- minDCF and its threshold.
      for _, o in ipairs({{p_target = 0.01, c_miss = 1, c_fa = 1}, {p_target = 0.5, c_miss = 1, c_fa = 1},
                          {p_target = 0.2, c_miss = 10, c_fa = 3}}) do
        local dcf, t = ev.min_dcf(tar, non, o)
        assert.near(brute_min_dcf(tar, non, o), dcf, 1e-12)
        local pm, pf = rates(tar, non, t)
        assert.near(dcf_of(pm, pf, o), dcf, 1e-12)
        assert.near(dcf, ev.act_dcf(tar, non, t, o), 1e-12)
        -- actDCF anywhere, off the scores too.
        local t0 = tar[math.random(#tar)] + (trial % 2) * 0.01
        local a, m, f = ev.act_dcf(tar, non, t0, o)
        local rm, rf = rates(tar, non, t0)
        assert.are.equal(rm, m)
        assert.are.equal(rf, f)
        assert.near(dcf_of(rm, rf, o), a, 1e-12)
      end
      -- The hull vertices are curve points and no point lies below a hull segment.
      local h = ev.det(tar, non, {rocch = true})
      -- The EER threshold's point is on the hull, and no point on the hull is nearer to the
      -- crossing in Pmiss.
      local function on_hull(pm, pf)
        for j = 1, #h.pmiss - 1 do
          if pf <= h.pfa[j] and pf >= h.pfa[j + 1] and pm >= h.pmiss[j] and pm <= h.pmiss[j + 1] and
             math.abs((h.pfa[j + 1] - h.pfa[j]) * (pm - h.pmiss[j]) - (h.pmiss[j + 1] - h.pmiss[j]) * (pf - h.pfa[j])) <= 1e-12 then
            return true
          end
        end
        return false
      end
      local tm, tf = rates(tar, non, thr)
      assert.is_true(on_hull(tm, tf))
      for _, p in ipairs(ref) do
        if on_hull(p.pm, p.pf) then assert.is_true(math.abs(tm - eer) <= math.abs(p.pm - eer) + 1e-12) end
      end
      for j = 1, #h.pmiss - 1 do
        for _, p in ipairs(ref) do
          local cr = (h.pfa[j + 1] - h.pfa[j]) * (p.pm - h.pmiss[j]) - (h.pmiss[j + 1] - h.pmiss[j]) * (p.pf - h.pfa[j])
          assert.is_true(cr <= 1e-12)
        end
      end
    end
  end)

  it("normalises score matrices as the definitions say", function()
    local M, N, K, C = 5, 7, 40, 30
    local S = gk.matrix.random(M, N, {seed = 1})
    local E = gk.matrix.random(M, K, {seed = 2})
    local T = gk.matrix.random(C, N, {seed = 3})
    for _, top in ipairs({0, 2, 10, 30}) do
      local z = ev.znorm(S, E, {top = top})
      local t = ev.tnorm(S, T, {top = top})
      local s = ev.snorm(S, E, T, {top = top})
      for i = 1, M do
        local zm, zs = stats(row(E, i), top)
        for j = 1, N do
          local tm, ts = stats(col(T, j), top)
          local v = S:get(i, j)
          local zr, tr = (v - zm) / zs, (v - tm) / ts
          assert.near(zr, z:get(i, j), 1e-12)
          assert.near(tr, t:get(i, j), 1e-12)
          assert.near(0.5 * (zr + tr), s:get(i, j), 1e-12)
        end
      end
    end
    -- By hand: row {0, 2} has mean 1 and population sd 1: 3 -> 2.
    local z = ev.znorm({{3}}, {{0, 2}})
    assert.are.equal(2, z:get(1, 1))
    -- The input is not changed, the result is float64.
    local S32 = S:astype("float32")
    assert.are.equal("float64", ev.znorm(S32, E):dtype())
  end)

  it("rejects bad input with errors naming the argument or option", function()
    local tar, non = {1, 2}, {0, 1}
    local function err(pat, f, ...)
      local args = table.pack(...)
      assert.error_matches(function() f(table.unpack(args, 1, args.n)) end, pat)
    end
    -- score lists
    err("bad argument #1.*tar is empty", ev.eer, {}, non)
    err("bad argument #2.*non is empty", ev.eer, tar, {})
    err("bad argument #1.*tar score 2 is NaN", ev.eer, {1, 0 / 0}, non)
    err("bad argument #2.*non score 1 is NaN", ev.min_dcf, tar, {0 / 0})
    err("bad argument #2.*non must be a vector.*2 x 2", ev.det, tar, {{1, 2}, {3, 4}})
    err("bad argument #1.*array of scores or Matrix", ev.eer, "scores", non)
    err("bad argument #2.*array of scores or Matrix", ev.act_dcf, tar, nil, 1)
    err("element 2 is a string", ev.eer, {1, "x"}, non)
    err("bad argument #1.*tar is empty", ev.det, gk.matrix.new(0, 3), non)
    -- DCF options
    err("bad argument #3.*'p_target' must be in %(0, 1%), got 0", ev.min_dcf, tar, non, {p_target = 0})
    err("'p_target' must be in %(0, 1%), got 1", ev.min_dcf, tar, non, {p_target = 1})
    err("'p_target' must be a number, got string", ev.min_dcf, tar, non, {p_target = "x"})
    err("'p_target' must be a number, got NaN", ev.min_dcf, tar, non, {p_target = 0 / 0})
    err("'c_miss' must be a finite cost > 0, got %-1", ev.min_dcf, tar, non, {c_miss = -1})
    err("'c_fa' must be a finite cost > 0, got 0", ev.min_dcf, tar, non, {c_fa = 0})
    err("bad argument #4.*'c_fa' must be a finite cost > 0", ev.act_dcf, tar, non, 0, {c_fa = -2})
    err("unknown option 'p_tar' %(did you mean 'p_target'%?%)", ev.min_dcf, tar, non, {p_tar = 0.1})
    err("unknown option 'cmiss' %(did you mean 'c_miss'%?%)", ev.act_dcf, tar, non, 0, {cmiss = 1})
    err("bad argument #3.*threshold is NaN", ev.act_dcf, tar, non, 0 / 0)
    err("bad argument #3.*number expected", ev.act_dcf, tar, non, nil)
    err("unknown option 'roch' %(did you mean 'rocch'%?%)", ev.det, tar, non, {roch = true})
    err("'rocch' must be a boolean", ev.det, tar, non, {rocch = 1})
    -- score matrices
    local S, E, T = gk.matrix.random(2, 3, {seed = 1}), gk.matrix.random(2, 5, {seed = 2}), gk.matrix.random(4, 3, {seed = 3})
    err("bad argument #2.*E is 3 x 5, S is 2 x 3", ev.znorm, S, gk.matrix.random(3, 5))
    err("bad argument #2.*T is 4 x 2, S is 2 x 3", ev.tnorm, S, gk.matrix.random(4, 2))
    err("bad argument #3.*T is 4 x 2", ev.snorm, S, E, gk.matrix.random(4, 2))
    err("bad argument #2.*E has 1 column", ev.znorm, S, gk.matrix.random(2, 1))
    err("bad argument #2.*T has 1 row", ev.tnorm, S, gk.matrix.random(1, 3))
    err("bad argument #3.*'top' must be 0 %(the whole cohort%) or >= 2, got 1", ev.znorm, S, E, {top = 1})
    err("'top' 6 exceeds the 5 impostor scores", ev.znorm, S, E, {top = 6})
    err("'top' 5 exceeds the 4 cohort scores", ev.snorm, S, E, T, {top = 5})
    err("bad argument #4.*'top' must be >= 0", ev.snorm, S, E, T, {top = -1})
    err("'top' must be an integer", ev.snorm, S, E, T, {top = 2.5})
    err("unknown option 'tops' %(did you mean 'top'%?%)", ev.tnorm, S, T, {tops = 2})
    local Sn = S:copy()
    Sn:set(2, 3, 0 / 0)
    err("bad argument #1.*S: row 2, column 3 is NaN", ev.znorm, Sn, E)
    err("bad argument #2.*E: row 2, column 3 is NaN", ev.znorm, S,
      gk.matrix.from_table({{1, 2, 3, 4, 5}, {1, 2, 0 / 0, 4, 5}}))
    local Ez = gk.matrix.from_table({{1, 2, 3, 4, 5}, {7, 7, 7, 7, 7}})
    err("bad argument #2.*E: the cohort scores of row 2 have standard deviation 0", ev.znorm, S, Ez)
    err("bad argument #3.*T: the cohort scores of column", ev.snorm, S, E, gk.matrix.new(4, 3, 1))
    err("bad argument #2.*Matrix expected", ev.tnorm, S, "T")
  end)

  it("documents every function with its signature first", function()
    for name, f in pairs(ev) do
      local doc = gk.helptext(f)
      assert.truthy(doc:match("^gk%.eval%." .. name .. "%("), name)
    end
    assert.truthy(gk.helptext(ev.eer):find("BOSARIS", 1, true))
    assert.truthy(gk.helptext(ev.znorm):find("population standard deviation", 1, true))
    assert.truthy(gk.helptext(ev.act_dcf):find("score >= threshold", 1, true))
  end)

  it("computes the EER of 10^6 scores quickly", function()
    local n = 500000
    local tar, non = gk.matrix.random(n, 1, {seed = 5}), gk.matrix.random(1, n, {seed = 6})
    local t0 = gk.seconds()
    local eer = ev.eer(tar, non)
    local dt = gk.seconds() - t0
    assert.are.equal(0.5, math.floor(eer * 10 + 0.5) / 10)  -- same distribution: about 0.5
    io.stderr:write(string.format("eer on 1e6 scores (matrices): %.1f ms\n", dt * 1e3))
    assert.is_true(dt < (os.getenv("GMMKIT_SANITIZED") and 30 or 3))
  end)
end)
