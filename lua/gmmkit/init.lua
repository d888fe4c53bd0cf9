--- gmmkit: MFCC features, GMM/UBM training by EM and chi-squared GMM simplification.
-- `local gk = require "gmmkit"` gives the modules of the C core (gk.matrix, gk.audio,
-- gk.mfcc, gk.features, gk.gmm, gk.simplify, ...) and the pure-Lua helpers layered on
-- them. Nothing here writes a global.
local core = require "gmmkit.core"
-- gk.gmm.train is the EM loop in Lua over the core's gk.gmm.trainer (lua/gmmkit/training.lua).
-- keep_caller: a C entry, so that errors below these Lua functions name the caller's line.
core.gmm.train = core.keep_caller(require("gmmkit.training").train)
core.gmm.selector = core.keep_caller(require("gmmkit.selection").selector)
core.setdoc(core.gmm.train, core.doc(require("gmmkit.training").train))
core.setdoc(core.gmm.selector, core.doc(require("gmmkit.selection").selector))
-- gk.kaldi.data_dir (lua/gmmkit/datadir.lua), beside the C module's archive functions.
core.modules.kaldi = core.modules.kaldi or {}
core.modules.kaldi.data_dir = core.keep_caller(require("gmmkit.datadir").data_dir)
core.setdoc(core.modules.kaldi.data_dir, core.doc(require("gmmkit.datadir").data_dir))

local gk = {
  version = core.version,
  core = core,
  set_threads = core.set_threads,
  threads = core.threads,
  cores = core.cores,
  doc = core.doc,
  seconds = core.seconds,
  interrupted = core.interrupted,
}

local module_names = {}
for name, mod in pairs(core.modules) do
  gk[name] = mod
  module_names[#module_names + 1] = name
end
-- Each C module is also package.loaded["gmmkit.<name>"]: require "gmmkit.matrix" gives
-- gk.matrix, and Lua names a function called straight from a C function, as by
-- pcall(gk.matrix.random, -1), in its argument errors ('gmmkit.matrix.random', not '?').
for name, mod in pairs(core.modules) do
  if package.loaded["gmmkit." .. name] == nil then package.loaded["gmmkit." .. name] = mod end
end
-- The pure-Lua modules (lua/gmmkit/<name>.lua), loaded on first use: listed by help() too.
local lua_modules = {"experiment", "plot"}
for _, name in ipairs(lua_modules) do module_names[#module_names + 1] = name end
table.sort(module_names)

-- Pure-Lua modules, loaded on first use (gk.plot, ...), from lua/gmmkit/<name>.lua.
setmetatable(gk, {
  __index = function(t, k)
    if type(k) ~= "string" or not k:match("^[%a_][%w_]*$") or k == "init" then return nil end
    local ok, mod = pcall(require, "gmmkit." .. k)
    if ok then
      rawset(t, k, mod)
      return mod
    end
    if not tostring(mod):find("module 'gmmkit%." .. k .. "' not found", 1) then error(mod, 2) end
    return nil
  end,
})

--- The signature of a doc text: its first line, and the next ones while a bracket opened
-- in it is still open (a long signature may be wrapped over lines).
local function summary(text)
  local out, depth = {}, 0
  for line in (text or ""):gmatch("[^\n]*") do
    out[#out + 1] = #out > 0 and line:gsub("^%s+", "") or line
    for c in line:gmatch("[%(%[{%)%]}]") do
      depth = depth + (c:match("[%(%[{]") and 1 or -1)
    end
    if depth <= 0 or #out >= 8 then break end
  end
  return table.concat(out, " ")
end

--- The methods of an object (a userdata or table whose metatable lists them in
-- __methods or in an __index table): a sorted list of {name, function}.
local function methods_of(x)
  local mt = getmetatable(x)
  if type(mt) ~= "table" then return {} end
  local t = rawget(mt, "__methods")
  if type(t) ~= "table" then t = rawget(mt, "__index") end
  if type(t) ~= "table" then return {} end
  local list = {}
  for k, v in pairs(t) do
    if type(k) == "string" and type(v) == "function" then list[#list + 1] = {k, v} end
  end
  table.sort(list, function(a, b) return a[1] < b[1] end)
  return list
end

--- Finds the value named by a dotted path such as "gk.matrix.new" or "matrix.new".
local function resolve(path)
  local v = gk
  for part in path:gsub("^gk%.", ""):gmatch("[^.:]+") do
    if type(v) ~= "table" and type(v) ~= "userdata" then return nil end
    v = v[part]
    if v == nil then return nil end
  end
  return v
end

--- The help text of x (a function, object, module table or dotted name), as a string.
function gk.helptext(x)
  if x == nil or x == gk then
    local lines = {
      "gmmkit " .. gk.version .. ": speech features, GMM/UBM training and GMM simplification.",
      "Modules (help(gk.<module>) lists their functions):",
    }
    for _, name in ipairs(module_names) do
      lines[#lines + 1] = "  gk." .. name
    end
    lines[#lines + 1] = "help(f) shows the doc of a function or object; gk.set_threads(n) sets the threads."
    return table.concat(lines, "\n")
  end
  if type(x) == "string" then
    local v = resolve(x)
    if v == nil then return "no gmmkit function or module named '" .. x .. "'" end
    x = v
  end
  local text = core.doc(x)
  if text and type(x) == "userdata" then
    -- An object: its type's doc, then its methods with their signatures.
    local list = methods_of(x)
    if #list > 0 then
      local lines = {text, "Methods:"}
      for _, m in ipairs(list) do
        local sig = summary(core.doc(m[2]))
        lines[#lines + 1] = "  " .. (sig ~= "" and sig or (m[1] .. "(...)"))
      end
      return table.concat(lines, "\n")
    end
  end
  if text then return text end
  if type(x) == "table" then
    local names = {}
    for k, v in pairs(x) do
      if type(v) == "function" then names[#names + 1] = k end
    end
    table.sort(names)
    if #names == 0 then return "no documentation" end
    local lines = {}
    for _, k in ipairs(names) do
      local s = summary(core.doc(x[k]))
      lines[#lines + 1] = s ~= "" and s or (k .. "(...)")
    end
    return table.concat(lines, "\n")
  end
  return "no documentation for this " .. type(x)
end

--- help([x]): prints the doc of a gmmkit function, object or module (or an overview).
function gk.help(x)
  print(gk.helptext(x))
end

core.setdoc(gk.help, "help([x])\nPrints the doc of a gmmkit function, object or module, or an overview without argument.")
core.setdoc(gk.helptext, "gk.helptext([x]) -> string\nThe text that help(x) prints.")

return gk
