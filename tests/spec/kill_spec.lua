-- Kills: a process killed (SIGKILL) at any moment of g:save, stats:save or a checkpointed
-- gk.gmm.train leaves the old complete file or the new complete one, never a torn one,
-- and training resumed from whatever checkpoint was left ends with the model of an
-- uninterrupted run. gmm_spec.lua kills a training once at a fixed iteration and a
-- writer that rewrites one model; here the writers alternate two different versions and
-- are killed at many moments spread over their runs, so that a torn file or a mixture of
-- the two versions would be seen.
local gk = require "gmmkit"
local helper = require "spec_helper"

local LUA = "lua5.4"  -- a stock interpreter, as CTest runs the specs (same environment)
local KILLS = 24      -- kills per writer

local function write_file(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

-- Starts `cmd` in the background, waits for `marker` to appear (the first complete
-- write), lets it run `delay` more seconds and kills it with SIGKILL. Returns true when
-- the kill landed (the process was still running).
local function run_and_kill(cmd, marker, delay)
  os.remove(marker)
  -- landed: the run died of the SIGKILL (status 137). kill's own status cannot tell: a run
  -- that ended first is a zombie until `wait`, and killing a zombie succeeds.
  local out = helper.run(("(%s >/dev/null 2>&1 & p=$!; n=0; while [ ! -e %q ] && [ -d /proc/$p ] && [ $n -lt 3000 ]; " ..
    "do sleep 0.01; n=$((n+1)); done; sleep %.3f; kill -9 $p 2>/dev/null; wait $p; echo status=$?)")
    :format(cmd, marker, delay))
  return out:find("status=137", 1, true) ~= nil
end

local dir = helper.tmpdir()

describe("SIGKILL during writes", function()
  local K, D = 1500, 40

  -- A writer that saves version A once (then touches the marker) and alternates B and A
  -- on the same path until killed.
  local writer = dir .. "/writer.lua"
  write_file(writer, ([[
local gk = require "gmmkit"
local kind, path, marker = arg[1], arg[2], arg[3]
local K, D = %d, %d
local function model(shift)
  local w, means, covs = {}, {}, {}
  for c = 1, K do
    w[c] = 1 / K
    means[c], covs[c] = {}, {}
    for j = 1, D do means[c][j] = c + j + shift; covs[c][j] = 1 + shift end
  end
  return gk.gmm.new{weights = w, means = means, covariances = covs}
end
local A, B = model(0), model(0.5)
if kind == "stats" then
  local g = A
  A = g:accumulate(gk.matrix.random(200, D, {seed = 1}))
  B = g:accumulate(gk.matrix.random(300, D, {seed = 2}))
end
A:save(path)
io.open(marker, "w"):close()
while true do B:save(path); A:save(path) end
]]):format(K, D))

  local function delays()
    local t = {}
    for i = 1, KILLS do t[i] = 0.004 + 0.021 * (i - 1) + 0.003 * (i % 3) end  -- 4 ms to 0.5 s
    return t
  end

  it("g:save leaves the old or the new model, whole", function()
    local path, marker = dir .. "/m.gmm", dir .. "/m.marker"
    local seen, landed = {}, 0
    for _, d in ipairs(delays()) do
      if run_and_kill(LUA .. " " .. writer .. " model " .. path .. " " .. marker, marker, d) then
        landed = landed + 1
      end
      local g = gk.gmm.load(path)  -- raises on a torn file (size, checksum)
      assert.equal(K, g.components)
      local shift = g:means():get(1, 1) - 2
      assert.is_true(shift == 0 or shift == 0.5, "mean " .. g:means():get(1, 1))
      assert.equal(K + D + shift, g:means():get(K, D))
      assert.equal(1 + shift, g:covariances():get(K, D))
      seen[shift] = true
    end
    assert.equal(KILLS, landed)
    assert.is_true(seen[0] and seen[0.5], "the kills should catch both versions on disk")
    io.stderr:write(("kill_spec: %d kills during g:save, each left a whole model\n"):format(landed))
  end)

  it("stats:save leaves the old or the new statistics, whole", function()
    local path, marker = dir .. "/s.stats", dir .. "/s.marker"
    local seen, landed = {}, 0
    for _, d in ipairs(delays()) do
      if run_and_kill(LUA .. " " .. writer .. " stats " .. path .. " " .. marker, marker, d) then
        landed = landed + 1
      end
      local s = gk.gmm.load_stats(path)
      assert.is_true(s.frames == 200 or s.frames == 300, "frames " .. tostring(s.frames))
      local z = s:zero()
      local sum = 0
      for k = 1, z:rows() do sum = sum + z:get(k, 1) end
      assert.near(s.frames, sum, 1e-6 * s.frames)  -- counts and header from the same version
      seen[s.frames] = true
    end
    assert.equal(KILLS, landed)
    assert.is_true(seen[200] and seen[300], "the kills should catch both versions on disk")
    io.stderr:write(("kill_spec: %d kills during stats:save, each left whole statistics\n"):format(landed))
  end)
end)

describe("SIGKILL during a checkpointed training", function()
  local ck, out, marker = dir .. "/train.ckpt", dir .. "/final.gmm", dir .. "/train.marker"
  local script = dir .. "/train.lua"
  -- Full covariances with the split initialisation: checkpoints are written during the
  -- splitting stages and the final iterations. The marker appears after the first
  -- iteration; the script prints the seconds it trained for after it (the span the kills
  -- are spread over).
  write_file(script, ([[
local gk = require "gmmkit"
local resume = arg[1] == "resume"
local X = gk.matrix.random(30000, 8, {seed = 4, dtype = "float32"})
for i = 1, 30000, 3 do X:set(i, 1, X:get(i, 1) + 5) end
for i = 2, 30000, 3 do X:set(i, 2, X:get(i, 2) - 5) end
local t0
local g = gk.gmm.train(X, {components = 16, covariance_type = "full", init = "split", max_iter = 10,
  tol = 0, seed = 3, checkpoint = %q, resume = resume, threads = 1,
  progress = function() if not t0 then t0 = gk.seconds(); io.open(%q, "w"):close() end end})
g:save(%q)
local t1 = gk.seconds()
print(("seconds=%%.3f"):format(t1 - (t0 or t1)))  -- a resume may have nothing left to iterate
]]):format(ck, marker, out))

  it("resumes to the model of an uninterrupted run after kills at any moment", function()
    -- The uninterrupted run, and how long it runs after the marker on this machine and
    -- build (the shorter of two runs, so that a busy moment does not stretch the kills
    -- past the end of later runs).
    local T = math.huge
    for _ = 1, 2 do
      os.remove(ck)
      local text, ok = helper.run(LUA .. " " .. script .. " fresh")
      assert.is_true(ok, text)
      T = math.min(T, tonumber(text:match("seconds=([%d.]+)")))
    end
    local straight = gk.gmm.load(out)
    local landed, resumed, attempts, scale = 0, 0, 0, 0.8
    -- Kills spread over the run (up to 0.8 of it: the kill lands some milliseconds after
    -- its delay, the marker being polled), each followed by a resume that runs to the end.
    -- A run that ends before its kill (a busy machine reacts late) shrinks the delays and
    -- another is made, until 10 kills have landed or 30 runs were made.
    while landed < 10 and attempts < 30 do
      attempts = attempts + 1
      os.remove(ck)
      os.remove(out)
      if run_and_kill(LUA .. " " .. script .. " fresh", marker, scale * T * ((attempts - 1) % 10 + 0.5) / 10) then
        landed = landed + 1
        assert.is_nil(io.open(out))
        local t2, ok2 = helper.run(LUA .. " " .. script .. " resume")
        assert.is_true(ok2, t2)
        resumed = resumed + 1
      else
        scale = scale * 0.7
      end
      local g = gk.gmm.load(out)
      assert.same(straight:weights(), g:weights())
      local a, b = straight:means(), g:means()
      for r = 1, a:rows() do
        for c = 1, a:cols() do assert.equal(a:get(r, c), b:get(r, c)) end
      end
    end
    assert.is_true(landed >= 7, ("only %d of %d kills landed during the run"):format(landed, attempts))
    -- A chain: each resume is killed in turn, then the last one finishes.
    os.remove(ck)
    os.remove(out)
    local chain = 0
    for i = 1, 5 do
      if run_and_kill(LUA .. " " .. script .. (i == 1 and " fresh" or " resume"), marker, T * 0.15) then
        chain = chain + 1
      end
    end
    local t3, ok3 = helper.run(LUA .. " " .. script .. " resume")
    assert.is_true(ok3, t3)
    local g = gk.gmm.load(out)
    local a, b = straight:means(), g:means()
    for r = 1, a:rows() do
      for c = 1, a:cols() do assert.equal(a:get(r, c), b:get(r, c)) end
    end
    assert.same(straight:weights(), g:weights())
    io.stderr:write(("kill_spec: %d kills in %d runs during training (%.2f s after the marker), %d resumed to " ..
      "the identical model; a chain of %d killed resumes finished identical\n"):format(landed, attempts, T, resumed, chain))
  end)
end)

teardown(function()
  os.execute("rm -rf '" .. dir .. "'")
end)
