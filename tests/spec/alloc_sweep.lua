-- alloc_sweep.lua: the allocation-failure sweep, run by a host built with
-- -DGMMKIT_FAULT_INJECTION (see src/host/faults.h):   gmmkit alloc_sweep.lua CASE DIR
-- Prepares the inputs of CASE in DIR, then calls its representative function with the
-- n-th allocation (the Lua state's or the core's) and every later one failing, for
-- n = 1, 2, ... until a call no longer meets a failure. Each failed call must raise
-- "not enough memory" (or, when a failure was absorbed, still return the right result),
-- and the host must go on working. Prints "CASE: N allocation points" and exits 0, or
-- lists the wrong outcomes and exits 1. Leaks show in AddressSanitizer's report at exit.
local gk = require "gmmkit"
local faults = require "gmmkit.faults"
local case, dir = arg[1], arg[2]
gk.set_threads(1)  -- one thread: the n-th allocation is the same one in every run

local function X(n, d, seed)  -- two well-separated clusters
  local m = gk.matrix.random(n, d, {seed = seed or 1, dtype = "float32"})
  for i = 1, n // 2 do m:set(i, 1, m:get(i, 1) + 6) end
  return m
end

local function near(a, b, tol) return math.abs(a - b) <= (tol or 1e-9) * math.max(1, math.abs(b)) end

local function same_gmm(g, h)
  local wa, wb = g:weights(), h:weights()
  if #wa ~= #wb then return false end
  for i = 1, #wa do if not near(wa[i], wb[i], 1e-12) then return false end end
  local ma, mb = g:means(), h:means()
  for i = 1, ma:rows() do
    for j = 1, ma:cols() do if not near(ma:get(i, j), mb:get(i, j), 1e-12) then return false end end
  end
  return true
end

-- Each case returns the function to sweep and a check of its result.
local cases = {}

function cases.matrix()
  local p, q = dir .. "/m.npy", dir .. "/m2.npy"
  local m = X(20, 3)
  m:save(p)
  local function f()
    local a = gk.matrix.load(p)
    a:save(q)
    return gk.matrix.load(q)
  end
  return f, function(r) return r:rows() == 20 and r:get(20, 3) == m:get(20, 3) end
end

function cases.htk()
  local p = dir .. "/h.htk"
  local m = X(30, 4)
  local function f()
    gk.features.write_htk(p, m, {kind = "MFCC_E"})
    return (gk.features.read_htk(p))
  end
  return f, function(r) return r:rows() == 30 and r:get(30, 4) == m:get(30, 4) end
end

function cases.kaldi()
  local m = X(30, 4)
  local function f()
    local w <close> = gk.kaldi.writer("ark,scp:" .. dir .. "/k.ark," .. dir .. "/k.scp", {compress = true})
    w:write("a", m)
    w:write_vector("v", m:select_rows({1}))
    w:close()
    local t = gk.kaldi.writer("ark,t:" .. dir .. "/t.ark")
    t:write("a", m)
    t:close()
    local r = gk.kaldi.read_all("scp:" .. dir .. "/k.scp")
    local n = 0
    for _, x in gk.kaldi.read("ark:" .. dir .. "/t.ark") do n = n + x:rows() end
    return {r, n}
  end
  return f, function(r) return #r[1].keys == 2 and r[1].matrices[1]:rows() == 30 and r[2] == 30 end
end

function cases.datadir()
  local d = dir .. "/dd"
  os.execute("mkdir -p '" .. d .. "'")
  local function put(name, text)
    local f = assert(io.open(d .. "/" .. name, "w"))
    f:write(text)
    f:close()
  end
  for k = 1, 2 do
    local t = {}
    for i = 1, 4000 do t[i] = 0.3 * math.sin(i * 0.04 * k) + 0.05 * math.sin(i * 1.3) end
    gk.audio.save(d .. "/r" .. k .. ".wav", gk.audio.signal(t, 8000))
  end
  put("utt2spk", "s-1 s\ns-2 s\ns-3 s\n")
  put("spk2utt", "s s-1 s-2 s-3\n")
  put("wav.scp", "r1 " .. d .. "/r1.wav\nr2 cat '" .. d .. "/r2.wav' |\n")
  put("segments", "s-1 r1 0 0.2\ns-2 r1 0.2 -1\ns-3 r2 0 -1\n")
  local spec = "ark,scp:" .. d .. "/f.ark," .. d .. "/f.scp"
  local function f()
    for _, x in ipairs{"f.ark", "f.scp", "f.2.ark"} do os.remove(d .. "/" .. x) end
    local dd = gk.kaldi.data_dir(d)
    local first = {}
    for k, v in pairs(dd) do first[k] = v end
    first.utterances = {"s-1"}
    local o = {rate = 8000, strict = true, progress = false, output = spec}
    gk.features.extract(first, o)
    local r = gk.features.extract(dd, o)  -- resumed: s-2 and s-3 into f.2.ark, f.scp merged
    return {r, gk.kaldi.read_all("scp:" .. d .. "/f.scp")}
  end
  return f, function(r) return r[1].skipped == 1 and #r[2].keys == 3 and r[2].matrices[3]:rows() > 0 end
end

function cases.audio_mfcc()
  local n = 4000
  local t = {}
  for i = 1, n do t[i] = 0.3 * math.sin(i * 0.2) + 0.1 * math.sin(i * 0.031) end
  local p = dir .. "/a.wav"
  gk.audio.save(p, gk.audio.signal(t, 8000))
  local bytes = assert(io.open(p, "rb")):read("a")
  local function f()
    local s = gk.audio.load(p, {rate = 16000})
    local s2 = gk.audio.load_string(bytes)
    assert(s2:duration() == 0.5)
    return gk.mfcc.compute(s, {sample_frequency = 16000})
  end
  local ref = f()
  return f, function(r) return r:rows() == ref:rows() and r:get(1, 1) == ref:get(1, 1) end
end

function cases.features()
  local paths = {}
  for k = 1, 2 do
    local t = {}
    for i = 1, 3000 do t[i] = 0.3 * math.sin(i * 0.05 * k) + 0.05 * math.sin(i * 1.3) end
    paths[k] = dir .. "/f" .. k .. ".wav"
    gk.audio.save(paths[k], gk.audio.signal(t, 8000))
  end
  local function f()
    return gk.features.extract(paths, {deltas = 2, cmvn = true, vad = true, strict = true, progress = false})
  end
  local ref = f()
  return f, function(r) return #r.matrices == 2 and r.matrices[1]:rows() == ref.matrices[1]:rows() end
end

function cases.gmm_train()
  local x = X(120, 2)
  local function f() return gk.gmm.train(x, {components = 2, max_iter = 3, seed = 3}) end
  local ref = f()
  return f, function(r) return same_gmm(r, ref) end
end

function cases.gmm_train_full_checkpoint()
  local x = X(120, 2)
  local p = dir .. "/train.ckpt"
  local function f()
    os.remove(p)
    return gk.gmm.train(x, {components = 2, covariance_type = "full", init = "split", max_iter = 2,
                            seed = 3, checkpoint = p})
  end
  local ref = f()
  return f, function(r) return same_gmm(r, ref) end
end

function cases.gmm_files()
  local x = X(60, 3)
  local g = gk.gmm.train(x, {components = 2, covariance_type = "full", max_iter = 2})
  local st = g:accumulate(x)
  local function f()
    g:save(dir .. "/g.gmm")
    g:save_kaldi(dir .. "/g.txt")
    st:save(dir .. "/g.stats")
    local h = gk.gmm.load(dir .. "/g.gmm")
    local k = gk.gmm.load_kaldi(dir .. "/g.txt")
    local s = gk.gmm.load_stats(dir .. "/g.stats")
    return {h, k, s}
  end
  return f, function(r) return same_gmm(r[1], g) and #r[2]:weights() == 2 and r[3] ~= nil end
end

function cases.simplify()
  local g = gk.gmm.train(X(200, 2), {components = 6, max_iter = 5, seed = 2})
  local function f() return gk.simplify.reduce(g, 2, {max_iter = 5, seed = 1}) end
  local ref = f()
  return f, function(r) return #r:weights() == 2 and near(gk.simplify.ise(g, r), gk.simplify.ise(g, ref), 1e-9) end
end

function cases.selector_files()
  local g = gk.gmm.train(X(200, 2), {components = 6, max_iter = 3, seed = 2})
  local function f()
    local sel = gk.gmm.selector(g, {clusters = 3, overlap = 2})
    sel:save(dir .. "/g.gks")
    return {sel, gk.gmm.load_selector(dir .. "/g.gks", g)}
  end
  return f, function(r)
    for j = 1, r[1].clusters do
      if table.concat(r[1]:members(j), ",") ~= table.concat(r[2]:members(j), ",") then return false end
    end
    return r[1].clusters == r[2].clusters
  end
end

local make = assert(cases[case], "unknown case " .. tostring(case))
local f, check = make()
assert(check(f()), case .. ": the reference call does not check")
local points, wrong = nil, {}
for n = 1, 1000000 do
  local ok, res, _, failed = faults.try(n, f)
  if not failed then
    if not ok then wrong[#wrong + 1] = ("clean run: %s"):format(tostring(res)) end
    points = n - 1
    break
  end
  if ok then
    if not check(res) then wrong[#wrong + 1] = ("allocation %d: failure absorbed, wrong result"):format(n) end
  elseif not tostring(res):find("not enough memory", 1, true) then
    wrong[#wrong + 1] = ("allocation %d: %s"):format(n, tostring(res))
  end
  res = nil
  collectgarbage()
  if #wrong >= 20 then break end
end
-- The host goes on working after all of it.
local sane = gk.matrix.new(2, 2, 1.5):mean():get(1, 2) == 1.5
print(("%s: %s allocation points, %d wrong outcomes%s"):format(case, tostring(points), #wrong,
  sane and "" or ", and the host no longer works"))
for _, w in ipairs(wrong) do print("  " .. w) end
os.exit(#wrong == 0 and points and sane and 0 or 1)
