-- Training streamed from disk: gk.gmm.train and gk.gmm.trainer on a Kaldi rspecifier or a
-- list of feature files read chunk by chunk every iteration must give the model that
-- training on the same matrices in memory gives (the same frames in the same order; only
-- the grouping of the statistics' sums differs), with subsample, Gaussian selection and a
-- resumed checkpoint too; the distributed case is in mpi_spec.lua.
local gk = require "gmmkit"
local helper = require "spec_helper"

local function rel_diff(a, b)
  local d = helper.max_abs_diff(a:means(), b:means())
  local s = 0
  for i = 1, a.components do
    for j = 1, a.dim do s = math.max(s, math.abs(a:means():get(i, j))) end
  end
  d = d / s
  local wa, wb = a:weights(), b:weights()
  for i = 1, #wa do d = math.max(d, math.abs(wa[i] - wb[i]) / wa[i]) end
  return d
end

-- 23 "utterances" of 40 to 300 frames of three clusters in 4-D.
local function data()
  local parts = {}
  for p = 1, 23 do
    local n = 40 + (p * 37) % 260
    local m = gk.matrix.random(n, 4, {seed = p, dtype = "float32"})
    for i = 1, n do
      local c = (i * 7 + p) % 3
      for j = 1, 4 do m:set(i, j, m:get(i, j) + 3 * c * (j % 2 == 1 and 1 or -0.5)) end
    end
    parts[p] = m
  end
  return parts
end

describe("training streamed from disk", function()
  local X, g0, dir, paths, scp, ark
  setup(function()
    X = data()
    g0 = gk.gmm.train(X, {components = 6, max_iter = 1, seed = 5})
    dir = helper.tmpdir()
    paths = {}
    for i, m in ipairs(X) do
      paths[i] = string.format("%s/u%02d.npy", dir, i)
      m:save(paths[i])
    end
    scp = "scp:" .. dir .. "/feats.scp"
    ark = "ark:" .. dir .. "/feats.ark"
    local w = gk.kaldi.writer("ark,scp:" .. dir .. "/feats.ark," .. dir .. "/feats.scp")
    for i, m in ipairs(X) do w:write(string.format("utt%02d", i), m) end
    w:close()
  end)
  teardown(function() os.execute("rm -rf '" .. dir .. "'") end)

  local function train(data, opts)
    local o = {init = g0, max_iter = 5, tol = 0}
    for k, v in pairs(opts or {}) do o[k] = v end
    return gk.gmm.train(data, o)
  end

  it("from .npy files, an scp and an archive, in chunks of any size, gives the in-memory model", function()
    local ref, ri = train(X)
    for _, case in ipairs({{paths, 1}, {paths, 500}, {scp, 3000}, {ark, 100000}, {"ark:cat " .. dir .. "/feats.ark |", 700}}) do
      local g, info = train(case[1], {chunk_frames = case[2]})
      local name = (type(case[1]) == "string" and case[1] or "files") .. " in chunks of " .. case[2]
      assert.is_true(rel_diff(ref, g) < 1e-10, name .. ": " .. rel_diff(ref, g))
      assert.are.equal(ri.frames, info.frames)
      for i = 1, 5 do assert.is_true(math.abs(ri.history[i] - info.history[i]) < 1e-10, name) end
    end
  end)

  it("from a list of archives and feature files, an archive's matrices in order", function()
    local a = gk.kaldi.writer("ark:" .. dir .. "/a.ark")
    for i = 1, 10 do a:write(string.format("a%02d", i), X[i]) end
    a:close()
    local list = {dir .. "/a.ark", paths[11], paths[12]}
    local b = gk.kaldi.writer("ark:" .. dir .. "/b.ark")
    for i = 13, #X do b:write(string.format("b%02d", i), X[i]) end
    b:close()
    list[4] = dir .. "/b.ark"
    local ref, ri = train(X)
    local g, info = train(list, {chunk_frames = 600})
    assert.are.equal(ri.frames, info.frames)
    assert.is_true(rel_diff(ref, g) < 1e-10)
    assert.error_matches(function() train({paths[1], dir .. "/x.ark |"}) end, "x.ark |")
  end)

  it("with subsample, Gaussian selection kept between refreshes, and binary splitting", function()
    local ref = train(X, {subsample = 3})
    assert.is_true(rel_diff(ref, train(scp, {subsample = 3, chunk_frames = 1000})) < 1e-10)
    ref = train(X, {gselect = {top = 2, refresh = 2}})
    assert.is_true(rel_diff(ref, train(paths, {gselect = {top = 2, refresh = 2}, chunk_frames = 800})) < 1e-10)
    -- the initial model from the sample: every frame when init_frames holds them all
    local opts = {components = 4, init = "split", max_iter = 3, tol = 0, seed = 2, init_frames = 100000}
    ref = gk.gmm.train(X, opts)
    assert.is_true(rel_diff(ref, gk.gmm.train(scp, opts)) < 1e-10)
    opts.init = "kmeans++"
    ref = gk.gmm.train(X, opts)
    opts.chunk_frames = 900
    assert.is_true(rel_diff(ref, gk.gmm.train(paths, opts)) < 1e-10)
  end)

  it("with Gaussian selection whose members come from the data: from the initial model's sample", function()
    -- the sample holds every frame here (init_frames 500,000), so the members come from the
    -- frames the in-memory run takes, and the models agree
    local opts = {gselect = {clusters = 2, search = 1, top = 2, members = "data", min_count = 3, refresh = 2}}
    local ref = train(X, opts)
    assert.is_true(rel_diff(ref, train(paths, {gselect = opts.gselect, chunk_frames = 700})) < 1e-10)
    -- over 100,000 frames, every second one chooses the members: the same frames in memory
    -- (each matrix strided) and from disk (the sample strided) when every matrix is of even length
    local big, files = {}, {}
    for p = 1, 11 do
      big[p] = gk.matrix.random(10000, 4, {seed = 100 + p, dtype = "float32"})
      for i = 1, 10000, 3 do big[p]:set(i, 1, big[p]:get(i, 1) + 4) end
      files[p] = string.format("%s/big%02d.npy", dir, p)
      big[p]:save(files[p])
    end
    local o = {components = 6, max_iter = 3, tol = 0, seed = 3,
               gselect = {clusters = 3, search = 1, top = 2, members = "data", min_count = 20}}
    ref = gk.gmm.train(big, o)
    o.chunk_frames = 25000
    assert.is_true(rel_diff(ref, gk.gmm.train(files, o)) < 1e-10)
  end)

  it("resumes from a checkpoint, and refuses one of other data", function()
    local ck = dir .. "/ck.gmmt"
    local ref = train(scp, {max_iter = 5})
    train(scp, {max_iter = 2, checkpoint = ck})
    local g, info = train(scp, {max_iter = 5, checkpoint = ck, resume = true})
    assert.is_true(info.resumed)
    assert.are.equal(select(2, train(X, {max_iter = 1})).frames, info.frames)
    assert.is_true(rel_diff(ref, g) < 1e-12)
    local fewer = {}
    for i = 1, 20 do fewer[i] = paths[i] end
    assert.error_matches(function() train(fewer, {max_iter = 5, checkpoint = ck, resume = true}) end, "ck.gmmt")
  end)

  it("statistics and scores over data on disk are those of the matrices", function()
    local a, b = g0:accumulate(X), g0:accumulate(scp)
    assert.are.equal(a.frames, b.frames)
    assert.is_true(math.abs(a.loglik - b.loglik) < 1e-9 * math.abs(a.loglik))
    assert.is_true(helper.max_abs_diff(a:first(), b:first()) < 1e-9)
    local c = g0:accumulate(paths, g0:accumulate(X))
    assert.are.equal(2 * a.frames, c.frames)
    assert.is_true(math.abs(g0:log_likelihood(X) - g0:log_likelihood(paths)) < 1e-12)
    local sel = gk.gmm.selector(g0, {clusters = 3})
    assert.is_true(math.abs(g0:log_likelihood(X, {selector = sel, top = 2}) -
                            g0:log_likelihood(ark, {selector = sel, top = 2})) < 1e-12)
    assert.is_true(helper.max_abs_diff(g0:map_adapt(X):means(), g0:map_adapt(paths):means()) < 1e-9)
    local sa, sb = g0:accumulate(X, nil, {selector = sel, top = 2}), g0:accumulate(ark, nil, {selector = sel, top = 2})
    assert.is_true(helper.max_abs_diff(sa:zero(), sb:zero()) < 1e-9)
  end)

  it("names what is wrong", function()
    assert.error_matches(function() train({paths[1], dir .. "/missing.npy"}) end, "missing.npy")
    assert.error_matches(function() train({paths[1], 3}) end, "item 2 of the list of files is a number")
    assert.error_matches(function() train("scp:" .. dir .. "/nothing.scp") end, "nothing.scp")
    assert.error_matches(function() train("feats.ark") end, "feats.ark")
    assert.error_matches(function() train(X, {chunk_frames = 10}) end, "option 'chunk_frames' is for data read from files")
    assert.error_matches(function() train(paths, {chunk_frames = 0}) end, "chunk_frames")
    assert.error_matches(function() g0:accumulate({dir .. "/none.npy"}) end, "none.npy")
    assert.error_matches(function() g0:log_likelihood("ark:" .. dir .. "/none.ark") end, "none.ark")
    -- the data changes between passes
    local f = dir .. "/grow.scp"
    os.execute(string.format("head -n 3 '%s/feats.scp' > '%s'", dir, f))
    local t = gk.gmm.trainer("scp:" .. f, {init = g0, tol = 0})
    assert(t:step())
    os.execute(string.format("head -n 4 '%s/feats.scp' > '%s'", dir, f))
    assert.error_matches(function() t:step() end, "the data changed during training")
  end)
end)
