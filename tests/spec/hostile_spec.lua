-- Hostile input across the whole Lua API, generated (hostile.lua): every function of every
-- module and every method of every object type, at every argument position and option,
-- with each of about fifty hostile values (wrong types, NaN, +-inf, -0, 0.5, 2^31, 2^53,
-- 2^62, lying __len, closed objects, wrong self, strings with NUL, newlines and quotes,
-- FIFOs, symlink loops, folders, a symlink to /dev/null). The calls run in child processes
-- (hostile_child.lua) under a time and memory limit; the only outcomes allowed are a
-- normal return or a Lua error whose message is a string that names a problem. A crash,
-- a hang, a runtime error from inside gmmkit's own code ("attempt to index a nil value"),
-- a NaN result from input without NaN, or a command run from a string fails the spec.
--
-- The release pass makes a fixed sample (every 7th call, all of them for the argument
-- in first position); GMMKIT_HOSTILE=full makes every call (scripts/test runs it once).
local gk = require "gmmkit"
local H = require "hostile"
local helper = require "spec_helper"

local full = os.getenv("GMMKIT_HOSTILE") == "full"
local sanitized = os.getenv("GMMKIT_SANITIZED") == "1"
local BATCH_SECONDS = sanitized and 60 or 20
local CHUNK = 100  -- calls per child: a child that takes too long is blamed on one call

-- Messages that are not an answer to the caller but a slip inside gmmkit.
local INTERNAL = {
  "attempt to index", "attempt to call", "attempt to perform arithmetic", "attempt to compare",
  "attempt to concatenate", "attempt to get length", "table index is nil", "stack overflow",
  "bad argument #%d+ to 'format'", "bad argument #%d+ to 'insert'", "number has no integer representation$",
  "invalid key to 'next'",
}

local function shq(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function verdict(line)
  local n, rest = line:match("^D (%d+) (.*)$")
  if not n then return nil end
  n = tonumber(n)
  if rest == "ok" then return n, nil end
  if rest == "ok nan" then return n, "returned NaN from input without NaN" end
  local kind, msg = rest:match("^err (%S+) ?(.*)$")
  if kind ~= "string" then return n, "raised a " .. tostring(kind) .. ", not a message" end
  if msg == "" then return n, "raised an empty message" end
  for _, pat in ipairs(INTERNAL) do
    if msg:find(pat) then return n, "an internal error, not a message for the caller: " .. msg end
  end
  local a, b = msg:match("([%w.]+) expected, got ([%w.]+)")
  if a and a == b then return n, "a confusing message: " .. msg end
  return n, nil
end

-- Runs the calls numbered in `todo` in as few children as possible; a child that dies or
-- times out is blamed on the call it had started, and the rest go on in a new one.
local function run_all(dir, todo, describe)
  local failures, pos = {}, 1
  local list = dir .. "/todo.txt"
  local f = assert(io.open(list, "w"))
  f:write(table.concat(todo, "\n"), "\n")
  f:close()
  local env = "cd " .. shq(dir .. "/cwd") .. " && "
  -- Huge requests must fail as allocations (Lua's "not enough memory"): a memory limit in
  -- the release build; under ASan, whose shadow memory a limit would break, its allocator
  -- returning NULL instead of aborting.
  local limit = sanitized and "ASAN_OPTIONS=${ASAN_OPTIONS:-}:allocator_may_return_null=1 " or "ulimit -v 6000000; "
  while pos <= #todo do
    local cmd = env .. limit .. "timeout -s KILL " .. BATCH_SECONDS .. " lua5.4 " ..
                shq(os.getenv("GMMKIT_SOURCE_DIR") .. "/tests/spec/hostile_child.lua") .. " " ..
                shq(dir) .. " " .. shq(list) .. " " .. pos .. " " .. CHUNK .. " 2>/dev/null"
    local p = assert(io.popen(cmd, "r"))
    local started, finished, names = nil, {}, {}
    for line in p:lines() do
      local s = line:match("^S (%d+)$")
      if s then started = tonumber(s) end
      local m, name = line:match("^N (%d+) (.*)$")
      if m then names[tonumber(m)] = name end
      local n, why = verdict(line)
      if n then
        finished[n] = true
        if why then failures[#failures + 1] = describe(n, names[n]) .. ": " .. why end
      end
    end
    local _, how, code = p:close()
    local blamed = started and not finished[started] and started or nil
    if not blamed then
      if not started then error("the child made no call: " .. cmd) end
      while pos <= #todo and todo[pos] <= started do pos = pos + 1 end
      goto continue
    end
    local what = (how == "signal" or code == 137) and "killed (crash, or hang past " .. BATCH_SECONDS .. " s)"
                 or ("ended the process (status " .. tostring(code) .. ")")
    failures[#failures + 1] = describe(blamed, names[blamed]) .. ": " .. what
    while pos <= #todo and todo[pos] <= blamed do pos = pos + 1 end
    ::continue::
  end
  return failures
end

describe("hostile input", function()
  local dir, c, targets, values, calls

  setup(function()
    dir = helper.tmpdir()
    H.make_files(gk, dir)
    c = H.context(gk, dir)
    targets = H.targets(gk, c)
    values = H.values(c)
    calls = H.calls(targets, values)
  end)

  teardown(function()
    os.execute("rm -rf " .. shq(dir))
  end)

  it("covers every module function and object method, with option names read from the docs", function()
    local ids = {}
    for _, t in ipairs(targets) do ids[t.id] = t end
    for _, id in ipairs{"gk.gmm.train", "gk.matrix.vstack", "gk.plot.curves", "gk.experiment.speech_folder",
                        "gk.mpi.deal", "gk.core.suggest", "Matrix:select_rows", "Gmm:posteriors",
                        "Signal:slice", "Stats:merge", "Mfcc:compute", "gk.eval.eer"} do
      assert.is_truthy(ids[id], id .. " is not among the targets")
    end
    local train_keys = table.concat(ids["gk.gmm.train"].keys, " ")
    assert.is_truthy(train_keys:find("checkpoint"), train_keys)
    assert.is_truthy(#targets >= 120, #targets .. " targets")
    assert.is_truthy(#calls >= 15000, #calls .. " calls")
  end)

  it("answers every hostile call with a result or a clear error, never a crash, hang or internal error", function()
    local todo = {}
    if full then
      for i = 1, #calls do todo[#todo + 1] = i end
    else  -- every 7th call, plus each target's first position for every value
      for i = 1, #calls do
        local call = calls[i]
        local firstpos = call[2] == 0 or (call[2] == 1 and not targets[call[1]].method)
        if i % 7 == 0 or firstpos then todo[#todo + 1] = i end
      end
    end
    local function describe(n, name) return "call " .. n .. " (" .. (name or H.describe(targets, values, calls[n])) .. ")" end
    local t0 = gk.seconds()
    local failures = run_all(dir, todo, describe)
    io.stderr:write(string.format("hostile_spec: %d of %d calls (%s) in %.1f s, %d failures\n", #todo, #calls,
                                  full and "all" or "sample", gk.seconds() - t0, #failures))
    local f = io.open(dir .. "/cwd/hostile-ran", "r")
    if f then
      f:close()
      failures[#failures + 1] = "a string ran a command (the file 'hostile-ran' was made)"
    end
    assert.are.equal(0, #failures, table.concat(failures, "\n"))
  end)
end)
