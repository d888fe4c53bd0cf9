-- gk.gmm.trainer: EM one iteration at a time in the caller's hands, and gk.gmm.train written
-- over it in Lua. A trainer stepped from Lua must give gk.gmm.train's model bit for bit
-- (the same core calls in the same order), across a checkpoint too; the distributed case
-- is in mpi_spec.lua.
local gk = require "gmmkit"
local helper = require "spec_helper"

local function same_bits(a, b)
  if a.components ~= b.components or a.dim ~= b.dim or a.covariance_type ~= b.covariance_type then return false end
  local wa, wb = a:weights(), b:weights()
  for i = 1, #wa do
    if wa[i] ~= wb[i] then return false end
  end
  if helper.max_abs_diff(a:means(), b:means()) ~= 0 then return false end
  local ca, cb = a:covariances(), b:covariances()
  if a.covariance_type == "diag" then return helper.max_abs_diff(ca, cb) == 0 end
  for i = 1, #ca do
    if helper.max_abs_diff(ca[i], cb[i]) ~= 0 then return false end
  end
  return true
end

-- Three separated clusters in 3-D, split in two "files".
local function data()
  local parts = {}
  for p = 1, 2 do
    local m = gk.matrix.random(300, 3, {seed = p, dtype = "float32"})
    for i = 1, 300 do
      local c = (i + p) % 3
      for j = 1, 3 do m:set(i, j, m:get(i, j) + 4 * c * (j == 1 and 1 or -0.5)) end
    end
    parts[p] = m
  end
  return parts
end

describe("gk.gmm.trainer", function()
  local X, g0, dir
  setup(function()
    X = data()
    g0 = gk.gmm.train(X, {components = 3, max_iter = 1, seed = 5})
    dir = helper.tmpdir()
  end)
  teardown(function() os.execute("rm -rf '" .. dir .. "'") end)

  it("five steps from an initial model give gk.gmm.train's model, bit for bit", function()
    local t = gk.gmm.trainer(X, {init = g0, tol = 0})
    local records = {}
    for i = 1, 5 do records[i] = assert(t:step()) end
    local ref, info = gk.gmm.train(X, {init = g0, max_iter = 5, tol = 0})
    assert.is_true(same_bits(t:model(), ref))
    assert.are.equal(5, t.iteration)
    assert.are.same(info.history, t.history)
    for i = 1, 5 do
      assert.are.equal(i, records[i].iteration)
      assert.are.equal(info.history[i], records[i].log_likelihood)
      assert.are.equal(3, records[i].components)
      assert.is_false(records[i].splitting)
    end
  end)

  it("step() returns nil after max_iter, or when the change falls below tol (converged)", function()
    local t = gk.gmm.trainer(X, {init = g0, max_iter = 2, tol = 0})
    assert.is_table(t:step())
    assert.is_table(t:step())
    assert.is_nil(t:step())
    assert.is_false(t.converged)
    local u = gk.gmm.trainer(X, {init = g0, tol = 1e-2})
    local n = 0
    while u:step() do n = n + 1 end
    local _, info = gk.gmm.train(X, {init = g0, tol = 1e-2})
    assert.is_true(u.converged)
    assert.are.equal(info.iterations, n)
    assert.is_true(info.converged)
  end)

  it("a loop over a split initialisation matches gk.gmm.train, with the split stages in its records", function()
    local opts = {components = 4, init = "split", max_iter = 3, tol = 0, seed = 2}
    local t = gk.gmm.trainer(X, opts)
    local split_steps, grew = 0, {}
    while true do
      local r = t:step()
      if not r then break end
      if r.splitting then
        split_steps = split_steps + 1
        grew[r.components] = true
      end
    end
    local ref = gk.gmm.train(X, opts)
    assert.is_true(same_bits(t:model(), ref))
    assert.is_true(split_steps > 0)
    assert.is_true(grew[1] and grew[2], "the split stages report 1 and 2 components")
  end)

  it("saved and resumed, it ends with the uninterrupted model", function()
    local ck = dir .. "/t.ckpt"
    local opts = {components = 3, init = "kmeans++", max_iter = 6, tol = 0, seed = 1}
    local t = gk.gmm.trainer(X, opts)
    for _ = 1, 2 do t:step() end
    t:save(ck)
    t:close()
    local r = gk.gmm.trainer(X, {components = 3, init = "kmeans++", max_iter = 6, tol = 0, seed = 1,
                                 checkpoint = ck, resume = true})
    assert.is_true(r.resumed)
    assert.are.equal(2, r.iteration)
    while r:step() do end
    local ref, info = gk.gmm.train(X, opts)
    assert.is_true(same_bits(r:model(), ref))
    assert.are.same(info.history, r.history)
    local _, rinfo = gk.gmm.train(X, {components = 3, init = "kmeans++", max_iter = 6, tol = 0, seed = 1,
                                      checkpoint = ck, resume = true})
    assert.is_true(rinfo.resumed)
    assert.are.same(info.history, rinfo.history)
    assert.error_matches(function()
      gk.gmm.trainer(X, {components = 2, max_iter = 6, checkpoint = ck, resume = true})
    end, "checkpoint")
  end)

  it("leaves the process's thread setting alone (the setting is its own calls')", function()
    local before = gk.threads()
    local seen
    gk.gmm.train(X, {components = 2, max_iter = 2, threads = 1, progress = function() seen = gk.threads() end})
    assert.are.equal(before, seen)
    assert.are.equal(before, gk.threads())
    local t = gk.gmm.trainer(X, {components = 2, threads = 1})
    t:step()
    assert.are.equal(before, gk.threads())
  end)

  it("gk.gmm.train's errors name gk.gmm.train and the caller's line", function()
    local ok, err = pcall(function()
      local g = gk.gmm.train(X, {components = 0})  -- not a tail call: the line stays on the stack
      return g
    end)
    assert.is_false(ok)
    assert.is_truthy(err:find("bad argument #2 to 'train' (option 'components' must be in [1, 65536], got 0)", 1, true), err)
    assert.is_truthy(err:find("trainer_spec.lua:%d+: "), err)
    assert.is_falsy(err:find("training.lua", 1, true), err)
    assert.error_matches(function() gk.gmm.train(X, {max_iters = 5}) end,
                         "unknown option 'max_iters' %(did you mean 'max_iter'%?%)")
    assert.error_matches(function() gk.gmm.trainer(X, {tol = -1}) end, "option 'tol' must be >= 0, got %-1")
  end)

  it("with gselect over every component it is exact EM; with fewer it still trains", function()
    local exact, ie = gk.gmm.train(X, {init = g0, max_iter = 4, tol = 0})
    -- clusters K - 1 and search over all of them: every component is a candidate, top = K
    local sel_all, is = gk.gmm.train(X, {init = g0, max_iter = 4, tol = 0,
                                         gselect = {clusters = 2, search = 2, top = 3}})
    for i = 1, 4 do assert.is_true(math.abs(ie.history[i] - is.history[i]) < 1e-6, "iteration " .. i) end
    assert.is_true(helper.max_abs_diff(exact:means(), sel_all:means()) < 1e-4)
    local _, small = gk.gmm.train(X, {init = g0, max_iter = 4, tol = 0, gselect = {clusters = 2, search = 1, top = 1}})
    assert.are.equal(4, small.iterations)
    for i = 1, 4 do assert.is_true(small.history[i] == small.history[i] and small.history[i] > -math.huge) end
    assert.error_matches(function() gk.gmm.train(X, {init = g0, gselect = {clusters = 3}}) end,
                         "bad argument #2 to 'train' %(option 'gselect.clusters' must be in %[0, 2%]")
    assert.error_matches(function() gk.gmm.train(X, {init = g0, gselect = {tops = 3}}) end,
                         "unknown option 'gselect.tops' %(did you mean 'gselect.top'%?%)")
    assert.error_matches(function() gk.gmm.train(X, {init = g0, gselect = 3}) end, "option 'gselect' must be a table")
  end)

  it("with gselect members by data, a frame's best two components are among its chosen ones", function()
    -- every frame is in the sample (fewer than 100,000) and min_count = 1: each frame's best
    -- 2 of all K are members of its best cluster, so top 2 by the selector is top 2 of all K
    local _, all_k = gk.gmm.train(X, {init = g0, max_iter = 1, tol = 0, gselect = {clusters = 0, top = 2}})
    local _, by_data = gk.gmm.train(X, {init = g0, max_iter = 1, tol = 0,
                                        gselect = {clusters = 2, search = 1, top = 2, members = "data", min_count = 1}})
    local _, by_overlap = gk.gmm.train(X, {init = g0, max_iter = 1, tol = 0, gselect = {clusters = 2, search = 1, top = 2}})
    assert.is_true(math.abs(all_k.history[1] - by_data.history[1]) < 1e-9 * math.abs(all_k.history[1]))
    assert.is_true(by_overlap.history[1] < all_k.history[1] - 1e-6, "the overlap selector found every best component")
    assert.error_matches(function() gk.gmm.train(X, {init = g0, gselect = {members = "data"}}) end,
                         "option 'gselect.members' 'data' needs clusters > 0")
    assert.error_matches(function() gk.gmm.train(X, {init = g0, gselect = {clusters = 2, members = "both"}}) end,
                         "option 'gselect.members' must be 'overlap' or 'data', got 'both'")
    assert.error_matches(function() gk.gmm.train(X, {init = g0, gselect = {clusters = 2, min_count = 3}}) end,
                         "option 'gselect.min_count' needs members = \"data\"")
  end)

  it("with gselect over all K (clusters = 0) chosen once and reused, top = K is exact EM; the lists are kept between refreshes", function()
    local _, ie = gk.gmm.train(X, {init = g0, max_iter = 5, tol = 0})
    local _, is = gk.gmm.train(X, {init = g0, max_iter = 5, tol = 0, gselect = {clusters = 0, top = 3, refresh = 100}})
    for i = 1, 5 do assert.is_true(math.abs(ie.history[i] - is.history[i]) < 1e-6, "iteration " .. i) end
    -- top = 1: chosen every iteration, or once from g0; the first iteration is the same
    local _, every = gk.gmm.train(X, {init = g0, max_iter = 4, tol = 0, gselect = {clusters = 0, top = 1}})
    local _, once = gk.gmm.train(X, {init = g0, max_iter = 4, tol = 0, gselect = {clusters = 0, top = 1, refresh = 100}})
    assert.are.equal(every.history[1], once.history[1])
    local moved = false
    for i = 2, 4 do moved = moved or every.history[i] ~= once.history[i] end
    assert.is_true(moved, "the lists chosen from g0 were not kept")
    assert.error_matches(function() gk.gmm.train(X, {init = g0, gselect = {clusters = 0, top = 4}}) end,
                         "bad argument #2 to 'train' %(option 'gselect.top' must be in %[1, 3%]")
  end)

  it("a progress function that returns false stops the loop", function()
    local calls = 0
    local _, info = gk.gmm.train(X, {components = 2, max_iter = 50, tol = 0,
                                     progress = function(r)
                                       calls = calls + 1
                                       assert.is_number(r.log_likelihood)
                                       return r.iteration < 3
                                     end})
    assert.are.equal(3, calls)
    assert.are.equal(3, info.iterations)
  end)

  it("a closed trainer says so; its fields and help are there", function()
    local t = gk.gmm.trainer(X, {components = 2})
    assert.are.equal(2, t.components)
    assert.is_truthy(tostring(t):find("gmmkit.Trainer", 1, true))
    assert.is_truthy(gk.helptext(gk.gmm.trainer):find("t:step()", 1, true))
    t:close()
    assert.is_true(t.closed)
    assert.error_matches(function() t:step() end, "closed gmmkit.Trainer")
    assert.error_matches(function() return t.iteration end, "closed gmmkit.Trainer")
  end)
end)
