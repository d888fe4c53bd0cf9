-- The hostile-input table shared by hostile_spec.lua (the judge) and hostile_child.lua
-- (the process that makes the calls). Nothing here is hand-listed per call: the targets
-- are every function of every gmmkit module and every method of every object type, found
-- by walking the modules and metatables; their parameters and option names are read from
-- the first line of their doc texts (the signature help() shows). Only the valid value
-- that stands in for each parameter name while another position is hostile is listed,
-- once per name (BASE), with a few per-function overrides (OVERRIDE).
--
-- A call is {target, position, value}: position 0 is `self` of a method, 1.. an argument,
-- and "opt:key" one option of the options table. The list is built in a fixed order, so
-- that the judge and the child agree on the call with a given number.
local M = {}

--- The parameter names and option keys of a doc text that starts with a signature such
--- as "gk.gmm.train(X, {components=1, ...}) -> Gmm, info" or "m:set(i, j, v) -> m" (it
--- may run over several lines). Where the signature says only `opts`, the option keys
--- are the `name=` words of the whole text.
function M.signature(doc)
  local line = doc
  local inside = line:match("^[%w_.:]+%s*(%b())") or line:match("^[%w_.:]+%s*(%b{})") or ""
  local body = inside:sub(2, -2)
  local params, depth, cur = {}, 0, ""
  local function push()
    local p = cur:gsub("[%[%]]", ""):gsub("^%s+", ""):gsub("%s+$", "")
    if p ~= "" then params[#params + 1] = p end
    cur = ""
  end
  for ch in body:gmatch(".") do
    if ch == "{" then depth = depth + 1 end
    if ch == "}" then depth = depth - 1 end
    if ch == "," and depth == 0 then push() else cur = cur .. ch end
  end
  push()
  local keys, seen = {}, {}
  local has_opts = false
  for _, p in ipairs(params) do
    if p == "opts" then has_opts = true end
  end
  if line:match("^[%w_.:]+%s*%b{}") then has_opts = true end
  for _, p in ipairs(params) do
    if p:match("^{") and p ~= "{m1, m2, ...}" then has_opts = true end
  end
  if not has_opts then return params, {} end
  local function key(k)
    if not seen[k] then
      seen[k] = true
      keys[#keys + 1] = k
    end
  end
  if inside:find("=") then
    for k in inside:gmatch("([%a_][%w_]*)%s*=") do key(k) end
  else  -- the text after the signature line: name=, opts.name and an "Options: a, b (...)" list
    local text = doc:gsub("^[^\n]*", "")
    for k in text:gmatch("([%a_][%w_]*)%s*=") do key(k) end
    for k in text:gmatch("opts%.([%a_][%w_]*)") do key(k) end
    local list = text:match("Options: ([^.]*)")
    for item in (list or ""):gmatch("[^,]+") do
      local k = item:match("^%s*([%a_][%w_]*)")
      if k then key(k) end
    end
  end
  if line:match("^[%w_.:]+%s*%b{}") then params = {"{opts}"} end
  return params, keys
end

-- ---- the context: valid objects and files the base calls use -----------------------

--- Makes the files of the context in `dir` (the judge calls it once).
function M.make_files(gk, dir)
  local X = gk.matrix.random(60, 3, {seed = 1, dtype = "float32"})
  local g = gk.gmm.train(X, {components = 2, max_iter = 3, seed = 1})
  X:save(dir .. "/x.npy")
  g:save(dir .. "/g.gmm")
  g:save_kaldi(dir .. "/g.txt")
  g:accumulate(X):save(dir .. "/g.stats")
  gk.gmm.selector_from(g, g):save(dir .. "/g.gks")
  gk.features.write_htk(dir .. "/x.htk", X, {kind = "USER"})
  local kw = gk.kaldi.writer("ark,scp:" .. dir .. "/x.ark," .. dir .. "/x.scp", {compress = true})
  kw:write("utt1", X)
  kw:close()
  local t = {}
  for i = 1, 2400 do t[i] = 0.3 * math.sin(i / 7) + 0.05 * math.sin(i * 1.3) end
  os.execute("mkdir -p '" .. dir .. "/wavs' '" .. dir .. "/out' '" .. dir .. "/cwd'")
  gk.audio.save(dir .. "/wavs/a.wav", gk.audio.signal(t, 8000))
  gk.audio.save(dir .. "/wavs/b.wav", gk.audio.signal(t, 8000))
  -- A Kaldi data directory (gk.kaldi.data_dir), one entry a pipe.
  os.execute("mkdir -p '" .. dir .. "/dd'")
  local function put(name, text)
    local f = assert(io.open(dir .. "/dd/" .. name, "w"))
    f:write(text)
    f:close()
  end
  put("utt2spk", "s-a s\ns-b s\n")
  put("spk2utt", "s s-a s-b\n")
  put("wav.scp", "s-a " .. dir .. "/wavs/a.wav\ns-b cat '" .. dir .. "/wavs/b.wav' |\n")
  os.execute("mkfifo '" .. dir .. "/fifo' && ln -s loop '" .. dir .. "/loop' && ln -s /dev/null '" ..
             dir .. "/devnull' && mkdir -p '" .. dir .. "/self' && ln -s .. '" .. dir .. "/self/up'")
end

--- The context for the calls: fresh-object factories and paths under `dir`.
function M.context(gk, dir)
  local X = gk.matrix.load(dir .. "/x.npy")
  local g = gk.gmm.load(dir .. "/g.gmm")
  local _, info = gk.gmm.train(X, {components = 2, max_iter = 2, seed = 1})
  local gf = gk.gmm.train(X, {components = 2, max_iter = 2, seed = 1, covariance_type = "full"})
  local f = io.open(dir .. "/wavs/a.wav", "rb")
  local wav = f:read("a")
  f:close()
  local sig = gk.audio.load(dir .. "/wavs/a.wav")
  local samples = sig:samples()
  local c = {dir = dir, X = X, g = g, gf = gf, info = info, wav = wav}
  c.new = {
    X = function() return X:copy() end,
    g = function() return g:copy() end,
    stats = function() return g:accumulate(X) end,
    signal = function() return gk.audio.signal(samples, 8000) end,
    mfcc = function() return gk.mfcc.new{preset = "paper", sample_frequency = 8000} end,
    S = function() return gk.matrix.from_table({{1, 2, 3}, {0, 1, 2}, {2, 0, 1}}) end,
    trainer = function() return gk.gmm.trainer(X, {components = 2, max_iter = 2, seed = 1}) end,
    selector = function() return gk.gmm.selector_from(g, g) end,
    kaldi_writer = function() return gk.kaldi.writer("ark:" .. dir .. "/out/k.ark") end,
    kaldi_reader = function() return select(4, gk.kaldi.read("scp:" .. dir .. "/x.scp")) end,
  }
  return c
end

-- The valid stand-in for a parameter, by name (a function of the context).
local BASE = {
  X = function(c) return c.new.X() end,
  m = function(c) return c.new.X() end,
  x = function(c) return c.new.X() end,
  matrices = function(c) return {c.new.X()} end,
  ["{m1, m2, ...}"] = function(c) return {c.new.X(), c.new.X()} end,
  S = function(c) return c.new.S() end,
  E = function(c) return c.new.S() end,
  T = function(c) return c.new.S() end,
  tar = function() return {2, 3, 1.5, 2.5} end,
  non = function() return {0, 1, -1, 0.5, 2} end,
  targets = function() return {2, 3, 1.5} end,
  nontargets = function() return {0, 1, 2} end,
  threshold = function() return 1 end,
  f = function(c) return c.new.g() end,
  g = function(c) return c.new.g() end,
  model = function(c) return c.new.g() end,
  ubm = function(c) return c.new.g() end,
  stats = function(c) return c.new.stats() end,
  other = function(c) return c.new.stats() end,
  signal = function(c) return c.new.signal() end,
  s = function(c) return c.new.signal() end,
  samples = function() return {0.1, -0.2, 0.3, 0.05} end,
  bytes = function(c) return c.wav end,
  rate = function() return 8000 end,
  K = function() return 1 end,
  k = function() return 1 end,
  n = function() return 3 end,
  rows = function() return 2 end,
  cols = function() return 2 end,
  i = function() return 1 end,
  j = function() return 1 end,
  v = function() return 0.5 end,
  ["fill=0"] = function() return 1 end,
  ["dtype='float64'"] = function() return "float64" end,
  dtype = function() return "float32" end,
  ["ddof=0"] = function() return 1 end,
  ["t0=0"] = function() return 0.01 end,
  ["t1=duration"] = function() return 0.1 end,
  t = function() return {{1, 2}, {3, 4}} end,
  sel = function() return {1, 2} end,
  path = function(c) return c.dir .. "/out/new.bin" end,
  folder = function(c) return c.dir .. "/wavs" end,
  files_or_folder = function(c) return c.dir .. "/wavs" end,
  list = function() return {"a", "b", "c"} end,
  info = function(c) return c.info end,
  fmt = function() return "%d\n" end,
  ["..."] = function() return 1 end,
  key = function() return "utt1" end,
  rspecifier = function(c) return "scp:" .. c.dir .. "/x.scp" end,
  wspecifier = function(c) return "ark,scp:" .. c.dir .. "/out/w.ark," .. c.dir .. "/out/w.scp" end,
  ["{opts}"] = function() return {} end,
  opts = function() return {} end,
}

-- Per-target stand-ins where the name alone does not say which file or value fits.
local OVERRIDE = {
  ["gk.matrix.load"] = {function(c) return c.dir .. "/x.npy" end},
  ["gk.gmm.load"] = {function(c) return c.dir .. "/g.gmm" end},
  ["gk.gmm.load_kaldi"] = {function(c) return c.dir .. "/g.txt" end},
  ["gk.gmm.load_stats"] = {function(c) return c.dir .. "/g.stats" end},
  ["gk.gmm.load_selector"] = {function(c) return c.dir .. "/g.gks" end},
  ["gk.features.read_htk"] = {function(c) return c.dir .. "/x.htk" end},
  ["gk.audio.load"] = {function(c) return c.dir .. "/wavs/a.wav" end},
  ["gk.audio.info"] = {function(c) return c.dir .. "/wavs/a.wav" end},
  ["gk.audio.save"] = {function(c) return c.dir .. "/out/new.wav" end},
  ["gk.features.write_htk"] = {function(c) return c.dir .. "/out/new.htk" end},
  ["gk.features.extract"] = {nil, function() return {preset = "paper", threads = 1} end},
  ["gk.mfcc.compute"] = {nil, function() return {preset = "paper", sample_frequency = 8000} end},
  ["gk.mfcc.fbank"] = {nil, function() return {preset = "paper", sample_frequency = 8000} end},
  ["gk.mfcc.new"] = {function() return {preset = "paper"} end},
  ["gk.gmm.train"] = {nil, function() return {components = 2, max_iter = 2} end},
  ["gk.gmm.trainer"] = {nil, function() return {components = 2, max_iter = 2} end},
  ["gk.gmm.selector"] = {nil, function() return {clusters = 1} end},
  ["gk.gmm.llr_matrix"] = {function(c) return {c.new.g()} end, nil, function(c) return {c.new.X()} end},
  ["gk.gmm.new"] = {function() return {weights = {0.5, 0.5}, means = {{0, 0}, {1, 1}}, covariances = {{1, 1}, {1, 1}}} end},
  ["gk.simplify.reduce"] = {nil, nil, function() return {max_iter = 3} end},
  ["gk.mpi.allreduce"] = {function(c) return c.new.X() end},
  ["gk.plot.curves"] = {function(c) return {series = {{label = "a", x = {1, 2}, y = {1, 2}}}, file = c.dir .. "/out/p.png"} end},
  ["gk.plot.mixtures"] = {function(c) return {mixtures = {c.new.g()}, file = c.dir .. "/out/m.png", grid = 20} end},
  ["gk.plot.em"] = {nil, function(c) return {file = c.dir .. "/out/e.png"} end},
  ["gk.plot.image"] = {nil, function(c) return {file = c.dir .. "/out/i.png"} end},
  ["gk.plot.det"] = {function() return {{name = "a", tar = {1, 2}, non = {0, 1.5}}} end,
                     function(c) return {file = c.dir .. "/out/d.png"} end},
  ["gk.plot.convergence"] = {function(c) return {{label = "a", info = {history = {{seconds = 0.1, ise = 1, nise = 0.5}}}}} end,
                             function(c) return {file = c.dir .. "/out/c.png"} end},
  ["gk.kaldi.data_dir"] = {function(c) return c.dir .. "/dd" end},
  ["gk.core.read_text"] = {function(c) return c.dir .. "/dd/utt2spk" end},
  ["gk.experiment.write"] = {function(c) return c.dir .. "/out/w.txt" end, function() return "text" end},
  ["gk.experiment.mkdir"] = {function(c) return c.dir .. "/out/sub" end},
  ["gk.experiment.speech_folder"] = {function(c) return c.dir .. "/wavs" end, function(c) return c.dir .. "/out" end},
  ["gk.experiment.markdown_table"] = {function() return {{a = 1, b = "x"}} end, function() return {"a", "b"} end},
  ["gk.experiment.reduce_all"] = {nil, nil, function() return {"topk", "runnalls"} end},
  ["gk.experiment.options"] = {function() return {} end, function() return {n = 1} end},
  ["gk.experiment.by_method"] = {function() return {{method = "topk", nise = 0.1}} end},
  ["gk.experiment.check_best"] = {function() return {topk = {nise = 0.1}, runnalls = {nise = 0.2}} end,
                                  function() return "topk" end, function() return {"runnalls"} end},
  ["gk.experiment.spread"] = {nil, function() return 2 end},
  ["gk.experiment.timed"] = {function() return function() return 1 end end},
  ["gk.experiment.fsdd_name"] = {function() return "/x/0_jackson_1.wav" end},
  ["gk.core.suggest"] = {function() return "seeed" end, function() return {"seed", "speed"} end},
  ["gk.core.setdoc"] = {function() return function() end end, function() return "doc" end},
  ["gk.set_threads"] = {function() return 1 end},
  [":save"] = {function(c) return c.dir .. "/out/obj.bin" end},
  [":save_kaldi"] = {function(c) return c.dir .. "/out/obj.txt" end},
  [":accumulate"] = {nil, function(c) return c.new.stats() end},
  [":write_vector"] = {nil, function(c) return c.new.X():select_rows({1}) end},
}

-- Targets never called, and calls that take minutes by design (not a hang), with why.
local SKIP = {
  ["gk.help"] = "prints only", ["gk.helptext"] = "text only",
}
local SLOW = {
  ["gk.experiment.speech_folder 1 nil"] = "no folder given: synthesises a corpus with espeak-ng (minutes)",
  ["gk.experiment.speech_folder 1 ''"] = "no folder given: synthesises a corpus with espeak-ng (minutes)",
  ["gk.simplify.kl opt:samples 2^31"] = "2^31 Monte Carlo samples, within the documented range: minutes",
  ["gk.simplify.kl opt:samples 2^32+3"] = "2^32 Monte Carlo samples, within the documented range: minutes",
}

--- The hostile values: {name, value-or-factory}. A factory (a function taking the
--- context) makes a fresh value per call.
function M.values(c)
  local function lying(n)
    return function(cx)
      local X = cx.new.X()
      return setmetatable({}, {__len = function() return n end, __index = function() return X end})
    end
  end
  local function closed(make)
    return function(cx)
      local o = make(cx)
      o:close()
      return o
    end
  end
  local huge = string.rep("x", 5000)
  return {
    {"nil", nil}, {"false", false}, {"true", true}, {"0", 0}, {"-0.0", -0.0}, {"-1", -1}, {"0.5", 0.5},
    {"1e-300", 1e-300}, {"NaN", 0 / 0}, {"+inf", math.huge}, {"-inf", -math.huge}, {"2^31", 2 ^ 31},
    {"2^32+3", 2 ^ 32 + 3}, {"2^53", 2 ^ 53}, {"2^62", 2 ^ 62}, {"maxinteger", math.maxinteger},
    {"mininteger", math.mininteger}, {"''", ""}, {"'abc'", "abc"}, {"NUL string", "a\0b"},
    {"newline string", "t\nsystem \"touch hostile-ran\""}, {"quotes string", "it's \"q\" \\ `x`"},
    {"format string", "%s%n%d"}, {"5000 chars", huge}, {"{}", {}}, {"{1,2,3}", {1, 2, 3}},
    {"ragged rows", {{1, 2}, {3}}}, {"strings", {"a", "b"}},
    {"__len 2^61", lying(2 ^ 61)}, {"__len -1", lying(-1)}, {"__len 2^31", lying(2 ^ 31)},
    {"function", function() return function() end end}, {"coroutine", function() return coroutine.create(print) end},
    {"closed Gmm", closed(function(cx) return cx.new.g() end)},
    {"closed Signal", closed(function(cx) return cx.new.signal() end)},
    {"closed Stats", closed(function(cx) return cx.new.stats() end)},
    {"closed Mfcc", closed(function(cx) return cx.new.mfcc() end)},
    {"closed KaldiWriter", closed(function(cx) return cx.new.kaldi_writer() end)},
    {"Matrix 0x0", function(cx) return cx.new.X():select_rows({}) end},
    {"Matrix NaN", function(cx) return cx.new.X():fill(0 / 0) end},
    {"Matrix 1x1", function() return require("gmmkit").matrix.new(1, 1, 2) end},
    {"Gmm", function(cx) return cx.new.g() end}, {"Signal", function(cx) return cx.new.signal() end},
    {"FIFO path", function(cx) return cx.dir .. "/fifo" end},
    {"folder path", function(cx) return cx.dir .. "/wavs" end},
    {"symlink loop path", function(cx) return cx.dir .. "/loop" end},
    {"symlink to /dev/null", function(cx) return cx.dir .. "/devnull" end},
    {"self-linked folder", function(cx) return cx.dir .. "/self" end},
    {"path in a missing folder", function(cx) return cx.dir .. "/no/such/x" end},
  }
end

--- Every target: {id=, fn=, method=, params=, keys=, make_self=}.
function M.targets(gk, c)
  local out = {}
  local function add(id, fn, method, make_self)
    if SKIP[id] then return end
    local params, keys = M.signature(gk.doc(fn) or "")
    if params[#params] == "opts" and (id:match("^gk%.mfcc%.") or id:match("^gk%.features%.extract")) then
      local have = {}
      for _, k in ipairs(keys) do have[k] = true end
      local more = {}
      local names = {preset = true}
      if id:match("extract") then
        for _, k in ipairs{"vad", "cmvn", "warp", "deltas", "progress", "threads"} do names[k] = true end
      end
      for k in pairs(gk.mfcc.defaults()) do names[k] = true end
      for k in pairs(names) do
        if not have[k] then more[#more + 1] = k end
      end
      table.sort(more)
      for _, k in ipairs(more) do keys[#keys + 1] = k end
    end
    out[#out + 1] = {id = id, fn = fn, method = method, params = params, keys = keys, make_self = make_self}
  end
  local mods = {}
  for name, v in pairs(gk) do
    if type(v) == "table" and name ~= "core" then mods[#mods + 1] = name end
  end
  for _, name in ipairs{"plot", "experiment"} do
    if not mods[name] and gk[name] then mods[#mods + 1] = name end
  end
  table.sort(mods)
  local seen = {}
  for _, name in ipairs(mods) do
    if not seen[name] then
      seen[name] = true
      local fns = {}
      for k, v in pairs(gk[name]) do
        if type(v) == "function" then fns[#fns + 1] = k end
      end
      table.sort(fns)
      for _, k in ipairs(fns) do add("gk." .. name .. "." .. k, gk[name][k]) end
    end
  end
  for _, k in ipairs{"set_threads", "threads", "cores", "seconds", "interrupted", "doc"} do add("gk." .. k, gk[k]) end
  for _, k in ipairs{"suggest", "setdoc", "read_text"} do add("gk.core." .. k, gk.core[k]) end
  local objects = {
    {"Matrix", c.new.X}, {"Gmm", c.new.g}, {"Stats", c.new.stats}, {"Signal", c.new.signal}, {"Mfcc", c.new.mfcc},
    {"Trainer", c.new.trainer}, {"Selector", c.new.selector},
    {"KaldiWriter", c.new.kaldi_writer}, {"KaldiReader", c.new.kaldi_reader},
  }
  for _, o in ipairs(objects) do
    local mt = getmetatable(o[2]())
    local methods = mt.__methods or mt.__index
    if type(methods) == "function" then
      for i = 1, 8 do
        local n, v = debug.getupvalue(methods, i)
        if not n then break end
        if type(v) == "table" then methods = v break end
      end
    end
    local names = {}
    for k, v in pairs(methods) do
      if type(v) == "function" then names[#names + 1] = k end
    end
    table.sort(names)
    for _, k in ipairs(names) do add(o[1] .. ":" .. k, methods[k], true, o[2]) end
  end
  return out
end

local function base_value(c, t, pos)
  local o = OVERRIDE[t.id] or (t.method and OVERRIDE[t.id:match("(:.*)$")])
  if o and o[pos] then return o[pos](c) end
  local p = t.params[pos]
  if p and p:match("^{") and p ~= "{m1, m2, ...}" then p = "{opts}" end
  local b = p and (BASE[p] or BASE[(p:gsub("=.*$", ""))])
  return b and b(c) or nil
end

--- Every call, in a fixed order: {target index, position, value index}.
function M.calls(targets, values)
  local list = {}
  for ti, t in ipairs(targets) do
    local first = t.method and 0 or 1
    for pos = first, math.max(#t.params, 1) do
      for vi = 1, #values do
        if not SLOW[t.id .. " " .. pos .. " " .. values[vi][1]] then list[#list + 1] = {ti, pos, vi} end
      end
    end
    for _, key in ipairs(t.keys) do
      for vi = 1, #values do
        if not SLOW[t.id .. " opt:" .. key .. " " .. values[vi][1]] then list[#list + 1] = {ti, "opt:" .. key, vi} end
      end
    end
  end
  return list
end

--- The call's name, for messages.
function M.describe(targets, values, call)
  local t, v = targets[call[1]], values[call[3]]
  local where = call[2] == 0 and "self" or type(call[2]) == "number" and ("argument " .. call[2]) or
                ("option " .. call[2]:sub(5))
  return string.format("%s, %s = %s", t.id, where, v[1])
end

--- Makes the call: returns what pcall returns.
function M.run(c, targets, values, call)
  local t, v = targets[call[1]], values[call[3]]
  local val = v[2]
  if type(val) == "function" and v[1] ~= "function" and v[1] ~= "coroutine" then val = val(c)
  elseif v[1] == "function" or v[1] == "coroutine" then val = val() end
  local args, n = {}, math.max(#t.params, 1)
  for pos = 1, n do args[pos] = base_value(c, t, pos) end
  if type(call[2]) == "number" then
    if call[2] > 0 then args[call[2]] = val end
  else
    local key, optpos = call[2]:sub(5), n
    for pos = 1, n do
      if type(args[pos]) == "table" and (t.params[pos] or ""):match("^{") then optpos = pos end
    end
    if type(args[optpos]) ~= "table" or getmetatable(args[optpos]) then args[optpos] = {} end
    args[optpos][key] = val
  end
  if t.method then
    local self = call[2] == 0 and val or t.make_self()
    return pcall(t.fn, self, table.unpack(args, 1, n))
  end
  return pcall(t.fn, table.unpack(args, 1, n))
end

return M
