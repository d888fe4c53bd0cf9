--- gk.plot: figures through gnuplot (Debian package gnuplot-nox), as PNG or SVG files, or
-- as text on the terminal when no file is given (handy in the REPL).
--
--   gk.plot.mixtures{mixtures = {f, g}, labels = {"f", "g"}, points = X, file = "fig1.png"}
--   gk.plot.curves{series = {{label = "lbfgs", x = t, y = nise}}, logy = true, file = "conv.png"}
--   gk.plot.convergence({{label = "gd", info = info_gd}, ...}, {file = "conv.png"})
--   gk.plot.em(info, {file = "em.png"})
--   gk.plot.image(mfcc, {file = "mfcc.png", title = "MFCC"})
local core = require "gmmkit.core"

local plot = {}

--- Tables are read raw (next, rawlen, rawget): a table whose __index or __len lies can
-- neither hang a loop nor slip a value of another type past the checks.
local function raw_list(t)
  local c = {}
  for i = 1, rawlen(t) do c[i] = rawget(t, i) end
  return c
end

--- Option checkers: each returns nil when the value is acceptable, else what it must be.
local check = {}
function check.text(v)
  if type(v) ~= "string" and type(v) ~= "number" then return "a string" end
end
function check.bool(v)
  if type(v) ~= "boolean" then return "a boolean" end
end
function check.int(lo, hi)
  return function(v)
    if type(v) ~= "number" or v ~= math.floor(v) or v < lo or v > hi then
      return string.format("an integer in [%d, %d]", lo, hi)
    end
  end
end
function check.file(v)
  if type(v) ~= "string" or not (v:match("%.png$") or v:match("%.svg$")) then
    return "a file name ending in .png or .svg"
  end
  if v:find("%z") then return "a file name without NUL bytes" end
end
function check.size(v)
  local i = check.int(16, 10000)
  if type(v) ~= "table" or rawlen(v) ~= 2 or i(rawget(v, 1)) or i(rawget(v, 2)) then
    return "{width, height} in pixels, each in [16, 10000]"
  end
end
function check.range(v)
  local ok = type(v) == "table" and rawlen(v) == 4
  local r = ok and raw_list(v) or {}
  for i = 1, 4 do ok = ok and type(r[i]) == "number" and r[i] > -math.huge and r[i] < math.huge end
  if not ok or not (r[1] < r[2] and r[3] < r[4]) then return "{x0, x1, y0, y1}, finite numbers with x0 < x1 and y0 < y1" end
end
function check.texts(v)
  if type(v) ~= "table" then return "a list of strings" end
  for i = 1, rawlen(v) do if check.text(rawget(v, i)) then return "a list of strings" end end
end
function check.dims(v)
  local i = check.int(1, 1 << 20)
  if type(v) ~= "table" or rawlen(v) ~= 2 or i(rawget(v, 1)) or i(rawget(v, 2)) or rawget(v, 1) == rawget(v, 2) then
    return "two different dimensions {a, b}"
  end
end
function check.any() end

local function describe_value(v)
  if type(v) == "string" then return (string.format("%q", v):gsub("\\\n", "\\n")) end
  if type(v) == "number" then return tostring(v) end
  return type(v)
end

--- Checks the options table (argument `argn` of `fname`) by the rules and in the words of
-- the C bindings (gkL_checkoptions): option names are strings, and an unknown one is
-- refused with a suggestion or else the list of valid names; each known one is checked by
-- its checker in `keys` ({name, checker} pairs). Returns a raw copy (lists among the
-- values copied raw too), the only table read afterwards.
local function check_options(fname, opts, keys, argn)
  argn = argn or 1
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    error(string.format("bad argument #%d to '%s' (table expected, got %s)", argn, fname, type(opts)), 3)
  end
  local copy = {}
  for k, v in next, opts do copy[k] = v end
  opts = copy
  local known, names = {}, {}
  for _, k in ipairs(keys) do
    known[k[1]] = k[2]
    names[#names + 1] = k[1]
  end
  for k, v in next, opts do
    if type(k) ~= "string" then
      error(string.format("bad argument #%d to '%s' (option names must be strings, got a %s key)", argn, fname,
        type(k)), 3)
    end
    local checker = known[k]
    if not checker then
      local s = core.suggest(k, names)
      error(string.format("bad argument #%d to '%s' (unknown option '%s' (%s))", argn, fname, k,
        s and ("did you mean '" .. s .. "'?") or ("valid options: " .. table.concat(names, ", "))), 3)
    end
    local want = checker(v)
    if want then
      error(string.format("bad argument #%d to '%s' (option '%s' must be %s, got %s)", argn, fname, k, want,
        describe_value(v)), 3)
    end
  end
  for _, k in ipairs({"labels", "dims", "range", "size"}) do  -- checked lists, read raw from here on
    if type(opts[k]) == "table" then opts[k] = raw_list(opts[k]) end
  end
  return opts
end

local function is_type(v, name)
  local mt = getmetatable(v)
  return type(v) == "userdata" and type(mt) == "table" and mt.__name == name
end

local function have_gnuplot()
  local f = io.popen("command -v gnuplot 2>/dev/null")
  local path = f and f:read("l")
  if f then f:close() end
  return path ~= nil and path ~= ""
end

--- A string as a gnuplot double-quoted literal that nothing in it can end: backslashes and
-- double quotes escaped, a newline kept as gnuplot's \n (a line break in a label), every
-- other control character, the backquote (gnuplot runs `...` as a shell command even
-- inside double quotes) and @ (macros) as octal escapes; NUL bytes dropped. Apostrophes
-- stay as they are.
local function quote(s)
  s = tostring(s):gsub("%z", "")
  return '"' .. s:gsub('[%c\\"`@]', function(c)
    if c == "\\" then return "\\\\" end
    if c == '"' then return '\\"' end
    if c == "\n" then return "\\n" end
    return string.format("\\%03o", c:byte())
  end) .. '"'
end

--- Runs a gnuplot script. With a file, gnuplot writes a temporary file beside it that is
-- renamed over it on success, so that a failed plot leaves no half-written figure; the
-- folder is checked for writing before gnuplot starts, so that a read-only or missing
-- folder is reported as such, not by gnuplot. `tmp` makes and records temporary files.
local function run_gnuplot(script, file, tmp)
  if not have_gnuplot() then
    error("gk.plot: gnuplot not found: install the Debian package gnuplot-nox", 0)
  end
  local path, f = tmp.data()
  local part
  if file then
    part = string.format("%s.%s.part", file, path:match("[^/]*$"))  -- unique: named after a live temporary file
    local pf, why = io.open(part, "wb")
    if not pf then
      error(string.format("gk.plot: cannot write the figure %s: %s (the folder must exist and be writable)",
        file, tostring(why):gsub("^[^:]*: ", "")), 0)
    end
    pf:close()
    tmp.record(part)
    script = script:gsub("@OUTPUT@", function() return quote(part) end)
  end
  f:write(script)
  f:close()
  local p = io.popen("gnuplot '" .. path:gsub("'", "'\\''") .. "' 2>&1")
  local out = p:read("a")
  local ok = p:close()
  if not ok then error("gk.plot: gnuplot failed: " .. out, 0) end
  if file then
    local moved, why = os.rename(part, file)
    if not moved then error(string.format("gk.plot: cannot write the figure %s: %s", file, tostring(why)), 0) end
  else
    io.write(out, out:find("\n$") and "" or "\n")  -- the dumb terminal ends on a colour reset, not a line end
  end
  return file
end

--- Calls build(tmp) -> gnuplot script and runs it; tmp.data() gives a new temporary file
-- (path, open handle) and tmp.record(path) adopts one. Every temporary file is removed
-- when the call ends, whether it succeeded or failed.
local function render(file, build)
  local files = {}
  local tmp = {}
  function tmp.record(path) files[#files + 1] = path end
  function tmp.data()
    local path = os.tmpname()  -- created by mkstemp: recorded before anything can fail
    files[#files + 1] = path
    local f, why = io.open(path, "w")
    if not f then error("gk.plot: cannot write a temporary file: " .. tostring(why), 0) end
    return path, f
  end
  local ok, err = pcall(function() return run_gnuplot(build(tmp), file, tmp) end)
  for _, p in ipairs(files) do os.remove(p) end
  if not ok then
    -- Raised once, at the caller of gk.plot (each public function tail-calls render): a
    -- position the error already has (a gmmkit error names the caller's line itself) is
    -- taken off first, so that it is never doubled.
    error((tostring(err):gsub("^[^%s:][^:\n]*:%d+: ", "", 1)), 2)
  end
  return file
end

local function terminal(file, size)
  size = size or {900, 650}
  if not file then
    return "set terminal dumb size 110,32 ansirgb noenhanced\n"
  end
  if file:match("%.svg$") then
    return string.format("set terminal svg size %d,%d dynamic noenhanced font 'DejaVu Sans,11'\nset output @OUTPUT@\n",
      size[1], size[2])
  end
  return string.format("set terminal pngcairo size %d,%d noenhanced font 'DejaVu Sans,10'\nset output @OUTPUT@\n",
    size[1], size[2])
end

local colors = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"}

--- The 2-D marginal of component k of g on dims (a, b): mean, and covariance entries.
local function marginal(g, k, a, b, means, covs)
  local mx, my = means:get(k, a), means:get(k, b)
  local sxx, syy, sxy
  if g.covariance_type == "full" then
    local c = covs[k]
    sxx, syy, sxy = c:get(a, a), c:get(b, b), c:get(a, b)
  else
    sxx, syy, sxy = covs:get(k, a), covs:get(k, b), 0
  end
  return mx, my, sxx, syy, sxy
end

local function components(g, a, b)
  local w, means, covs = g:weights(), g:means(), g:covariances()
  local list = {}
  for k = 1, g.components do
    local mx, my, sxx, syy, sxy = marginal(g, k, a, b, means, covs)
    list[k] = {w = w[k], mx = mx, my = my, sxx = sxx, syy = syy, sxy = sxy}
  end
  return list
end

local function density(comps, x, y)
  local s = 0
  for _, c in ipairs(comps) do
    local det = c.sxx * c.syy - c.sxy * c.sxy
    local dx, dy = x - c.mx, y - c.my
    local q = (c.syy * dx * dx - 2 * c.sxy * dx * dy + c.sxx * dy * dy) / det
    s = s + c.w * math.exp(-0.5 * q) / (2 * math.pi * math.sqrt(det))
  end
  return s
end

--- Axes and angle (degrees) of the 1-sigma ellipse of a 2x2 covariance.
local function ellipse(c)
  local tr, det = c.sxx + c.syy, c.sxx * c.syy - c.sxy * c.sxy
  local disc = math.sqrt(math.max(tr * tr / 4 - det, 0))
  local l1, l2 = tr / 2 + disc, math.max(tr / 2 - disc, 0)
  local angle = math.deg(0.5 * math.atan(2 * c.sxy, c.sxx - c.syy))
  return math.sqrt(l1), math.sqrt(l2), angle
end

local mixture_keys = {{"mixtures", check.any}, {"labels", check.texts}, {"dims", check.dims},
  {"points", check.any}, {"file", check.file}, {"title", check.text}, {"xlabel", check.text}, {"ylabel", check.text}, {"grid", check.int(2, 2000)},
  {"range", check.range}, {"ellipses", check.bool}, {"contours", check.bool},
  {"max_points", check.int(1, 10000000)}, {"size", check.size}}

function plot.mixtures(opts)
  opts = check_options("mixtures", opts, mixture_keys)
  local mixtures = opts.mixtures
  if is_type(mixtures, "gmmkit.Gmm") then mixtures = {mixtures} end
  if type(mixtures) == "table" then mixtures = raw_list(mixtures) end
  if type(mixtures) ~= "table" or #mixtures == 0 then
    error("bad argument #1 to 'mixtures' (option 'mixtures' must be a model or a list of models)", 2)
  end
  local dims = opts.dims or {1, 2}
  local a, b = dims[1], dims[2]
  for i, g in ipairs(mixtures) do
    if not is_type(g, "gmmkit.Gmm") or g.closed then
      error(string.format("bad argument #1 to 'mixtures' (entry %d of option 'mixtures' is not an open gmmkit.Gmm)", i), 2)
    end
    if a > g.dim or b > g.dim then
      error(string.format("bad argument #1 to 'mixtures' (option 'dims' {%d, %d} does not fit mixture %d of dimension %d)",
        a, b, i, g.dim), 2)
    end
  end
  local X = opts.points
  if X ~= nil and (not is_type(X, "gmmkit.Matrix") or X:cols() < math.max(a, b)) then
    error(string.format("bad argument #1 to 'mixtures' (option 'points' must be a gmmkit.Matrix with at least %d columns)",
      math.max(a, b)), 2)
  end
  local comps = {}
  for i, g in ipairs(mixtures) do comps[i] = components(g, a, b) end
  -- The plotting range: 3 sigma around every component, or as given.
  local xmin, xmax, ymin, ymax = math.huge, -math.huge, math.huge, -math.huge
  if opts.range then
    xmin, xmax, ymin, ymax = table.unpack(opts.range)
  else
    for _, list in ipairs(comps) do
      for _, c in ipairs(list) do
        local sx, sy = 3 * math.sqrt(c.sxx), 3 * math.sqrt(c.syy)
        xmin, xmax = math.min(xmin, c.mx - sx), math.max(xmax, c.mx + sx)
        ymin, ymax = math.min(ymin, c.my - sy), math.max(ymax, c.my + sy)
      end
    end
  end
  return render(opts.file, function(tmp)
    local script = {terminal(opts.file, opts.size)}
    script[#script + 1] = string.format("set xrange [%.17g:%.17g]\nset yrange [%.17g:%.17g]\n", xmin, xmax, ymin, ymax)
    script[#script + 1] = string.format("set title %s\nset xlabel %s\nset ylabel %s\nset key outside right top\n",
      quote(opts.title or ""), quote(opts.xlabel or ("dimension " .. a)), quote(opts.ylabel or ("dimension " .. b)))
    local plots = {}
    if X then
      local path, f = tmp.data()
      local n = X:rows()
      local step = math.max(1, n // (opts.max_points or 4000))
      for i = 1, n, step do f:write(X:get(i, a), " ", X:get(i, b), "\n") end
      f:close()
      plots[#plots + 1] = string.format("%s with points pt 7 ps 0.3 lc rgb '#b8b8b8' title 'data'", quote(path))
    end
    local grid = opts.grid or 120
    for i, list in ipairs(comps) do
      local color = colors[(i - 1) % #colors + 1]
      local label = opts.labels and opts.labels[i] or ("mixture " .. i)
      if opts.contours ~= false then
        local path, f = tmp.data()
        for ix = 0, grid do
          local x = xmin + (xmax - xmin) * ix / grid
          for iy = 0, grid do
            local y = ymin + (ymax - ymin) * iy / grid
            f:write(x, " ", y, " ", density(list, x, y), "\n")
          end
          f:write("\n")
        end
        f:close()
        local cont = tmp.data()
        script[#script + 1] = string.format(
          "set contour base\nset cntrparam levels 8\nunset surface\nset view map\nset table %s\nsplot %s using 1:2:3 with lines\nunset table\nunset contour\nset surface\n",
          quote(cont), quote(path))
        plots[#plots + 1] = string.format("%s with lines lc rgb '%s' lw 1 title %s", quote(cont), color,
          quote(label .. " density"))
      end
      if opts.ellipses ~= false then
        local path, f = tmp.data()
        for _, c in ipairs(list) do
          local r1, r2, angle = ellipse(c)
          for _, sc in ipairs({1, 2}) do
            for t = 0, 64 do
              local th = 2 * math.pi * t / 64
              local u, v = sc * r1 * math.cos(th), sc * r2 * math.sin(th)
              local ca, sa = math.cos(math.rad(angle)), math.sin(math.rad(angle))
              f:write(c.mx + ca * u - sa * v, " ", c.my + sa * u + ca * v, "\n")
            end
            f:write("\n")
          end
        end
        f:close()
        plots[#plots + 1] = string.format("%s with lines lc rgb '%s' lw 2 dt 2 title %s", quote(path), color,
          quote(label .. " 1,2-sigma"))
      end
    end
    if #plots == 0 then error("bad argument #1 to 'mixtures' (nothing to draw: contours, ellipses and points are all off)", 0) end
    script[#script + 1] = "plot " .. table.concat(plots, ", \\\n  ") .. "\n"
    return table.concat(script)
  end)
end

local curve_keys = {{"series", check.any}, {"xlabel", check.text}, {"ylabel", check.text}, {"logx", check.bool},
  {"logy", check.bool}, {"file", check.file}, {"title", check.text}, {"size", check.size}, {"points", check.bool}}

function plot.curves(opts)
  opts = check_options("curves", opts, curve_keys)
  if type(opts.series) ~= "table" or rawlen(opts.series) == 0 then
    error("bad argument #1 to 'curves' (option 'series' must be a list of {label=, x=, y=})", 2)
  end
  local series = raw_list(opts.series)
  for i, s in ipairs(series) do
    local x, y = type(s) == "table" and rawget(s, "x"), type(s) == "table" and rawget(s, "y")
    if type(x) ~= "table" or type(y) ~= "table" or rawlen(x) ~= rawlen(y) then
      error(string.format("bad argument #1 to 'curves' (series %d needs x and y lists of equal length)", i), 2)
    end
    s = {x = raw_list(x), y = raw_list(y), label = rawget(s, "label")}
    series[i] = s
    for j = 1, #s.x do
      if type(s.x[j]) ~= "number" or type(s.y[j]) ~= "number" then
        error(string.format("bad argument #1 to 'curves' (series %d: point %d is not a pair of numbers)", i, j), 2)
      end
    end
    if s.label ~= nil and check.text(s.label) then
      error(string.format("bad argument #1 to 'curves' (series %d: label must be a string)", i), 2)
    end
  end
  return render(opts.file, function(tmp)
    local script = {terminal(opts.file, opts.size)}
    script[#script + 1] = string.format("set title %s\nset xlabel %s\nset ylabel %s\nset key top right\nset grid\n",
      quote(opts.title or ""), quote(opts.xlabel or ""), quote(opts.ylabel or ""))
    if opts.logx then script[#script + 1] = "set logscale x\nset format x '%g'\n" end
    if opts.logy then script[#script + 1] = "set logscale y\nset format y '%.0e'\n" end
    local plots = {}
    for i, s in ipairs(series) do
      local n, rows = 0, {}
      for j = 1, #s.x do
        local x, y = s.x[j], s.y[j]
        if not (opts.logy and y <= 0) and not (opts.logx and x <= 0) and y == y and x == x
           and math.abs(x) < math.huge and math.abs(y) < math.huge then
          rows[#rows + 1] = string.format("%.17g %.17g\n", x, y)
          n = n + 1
        end
      end
      if n > 0 then
        local path, f = tmp.data()
        f:write(table.concat(rows))
        f:close()
        local style = opts.points == false and "lines" or "linespoints pt 7 ps 0.5"
        plots[#plots + 1] = string.format("%s with %s lc rgb '%s' lw 2 title %s", quote(path), style,
          colors[(i - 1) % #colors + 1], quote(s.label or ("series " .. i)))
      end
    end
    if #plots == 0 then error("bad argument #1 to 'curves' (no point to plot)", 0) end
    script[#script + 1] = "plot " .. table.concat(plots, ", \\\n  ") .. "\n"
    return table.concat(script)
  end)
end

--- Convergence of several reductions: `runs` is a list of {label=, info=} where info is
-- what gk.simplify.reduce returned with history=true. Plots the NISE (by default; it is
-- comparable across problems, where the ISE F of 38-D speech models is of the order of
-- 1e-40) or F itself (y = "ise", which every method lowers monotonically; the NISE need
-- not, its denominator depending on g) against seconds (or iterations with x =
-- "iteration"), log scale. A method with one history entry (a closed form or greedy
-- merge: topk, runnalls, minise) is a single point.
function plot.convergence(runs, opts)
  opts = check_options("convergence", opts, {{"file", check.file}, {"title", check.text},
    {"x", function(v) if v ~= "seconds" and v ~= "iteration" then return "'seconds' or 'iteration'" end end},
    {"y", function(v) if v ~= "ise" and v ~= "nise" then return "'ise' or 'nise'" end end},
    {"size", check.size}}, 2)
  if type(runs) ~= "table" or rawlen(runs) == 0 then
    error("bad argument #1 to 'convergence' (a list of {label=, info=} expected, info from gk.simplify.reduce with history=true)", 2)
  end
  runs = raw_list(runs)
  local xkey, ykey = opts.x or "seconds", opts.y or "nise"
  local series = {}
  for i, run in ipairs(runs) do
    local info = type(run) == "table" and rawget(run, "info")
    if type(info) ~= "table" then
      error(string.format("bad argument #1 to 'convergence' (run %d must be {label=, info=}, info from gk.simplify.reduce)", i), 2)
    end
    local label = rawget(run, "label")
    if label ~= nil and check.text(label) then
      error(string.format("bad argument #1 to 'convergence' (run %d: label must be a string)", i), 2)
    end
    local h = rawget(info, "history")
    if h ~= nil and type(h) ~= "table" then
      error(string.format("bad argument #1 to 'convergence' (run %d: info.history must be a list)", i), 2)
    end
    if h and rawlen(h) > 0 then
      local x, y = {}, {}
      for j, e in ipairs(raw_list(h)) do
        local ev, xv = type(e) == "table" and rawget(e, ykey), type(e) == "table" and rawget(e, xkey)
        if type(ev) ~= "number" then
          error(string.format("bad argument #1 to 'convergence' (run %d: history entry %d has no number '%s')", i, j, ykey), 2)
        end
        x[j], y[j] = type(xv) == "number" and xv or j, ev
      end
      local method = rawget(info, "method")
      series[#series + 1] = {label = label or (type(method) == "string" and method) or ("run " .. i), x = x, y = y}
    end
  end
  if #series == 0 then
    error("bad argument #1 to 'convergence' (no run has a history: reduce with history=true)", 2)
  end
  return plot.curves({series = series, logy = true, logx = xkey == "seconds", file = opts.file, size = opts.size,
    title = opts.title or "convergence", xlabel = xkey, ylabel = ykey == "ise" and "ISE (F)" or "NISE"})
end

--- EM log-likelihood per iteration (info from gk.gmm.train).
function plot.em(info, opts)
  opts = check_options("em", opts, {{"file", check.file}, {"title", check.text}, {"label", check.text},
    {"size", check.size}}, 2)
  local y = type(info) == "table" and rawget(info, "history")
  if type(y) == "table" then y = raw_list(y) end
  if type(y) ~= "table" or #y == 0 then
    error("bad argument #1 to 'em' (the info table of gk.gmm.train expected, with a non-empty `history` list; got " ..
      (type(info) == "table" and "a table without it" or type(info)) .. ")", 2)
  end
  local x = {}
  for i = 1, #y do
    if type(y[i]) ~= "number" then
      error(string.format("bad argument #1 to 'em' (history entry %d is a %s, not a log-likelihood)", i, type(y[i])), 2)
    end
    x[i] = i
  end
  return plot.curves({series = {{label = opts.label or "EM", x = x, y = y}}, file = opts.file, size = opts.size,
    title = opts.title or "EM: mean log-likelihood per frame", xlabel = "iteration", ylabel = "log-likelihood"})
end

--- An image of a frames x dims matrix (MFCC or filterbank), time on the x axis.
function plot.image(m, opts)
  opts = check_options("image", opts, {{"file", check.file}, {"title", check.text}, {"size", check.size},
    {"frame_shift", function(v) if type(v) ~= "number" or not (v > 0 and v < math.huge) then return "a positive number of seconds" end end}}, 2)
  if not is_type(m, "gmmkit.Matrix") or m:rows() < 1 or m:cols() < 1 then
    error("bad argument #1 to 'image' (a non-empty gmmkit.Matrix expected)", 2)
  end
  local shift = opts.frame_shift or 1
  return render(opts.file, function(tmp)
    local path, f = tmp.data()
    for i = 1, m:rows() do
      for j = 1, m:cols() do f:write((i - 1) * shift, " ", j, " ", m:get(i, j), "\n") end
      f:write("\n")
    end
    f:close()
    return terminal(opts.file, opts.size) ..
      string.format("set title %s\nset xlabel %s\nset ylabel 'coefficient'\nset view map\nset palette rgb 33,13,10\n" ..
        "set xrange [0:%g]\nset yrange [0.5:%g]\nplot %s using 1:2:3 with image notitle\n",
        quote(opts.title or ""), quote(shift == 1 and "frame" or "seconds"), math.max((m:rows() - 1) * shift, shift),
        m:cols() + 0.5, quote(path))
  end)
end

--- Coefficients of Wichura's algorithm AS 241 (PPND16, Applied Statistics 37(3), 1988),
-- lowest power first: rational approximations of the normal quantile in the centre
-- (|p - 0.5| <= 0.425), the near tail (r <= 5) and the far tail, r = sqrt(-log(min(p, 1-p))).
local AS241 = {
  a = {3.3871328727963666080, 1.3314166789178437745e2, 1.9715909503065514427e3, 1.3731693765509461125e4,
       4.5921953931549871457e4, 6.7265770927008700853e4, 3.3430575583588128105e4, 2.5090809287301226727e3},
  b = {1, 4.2313330701600911252e1, 6.8718700749205790830e2, 5.3941960214247511077e3,
       2.1213794301586595867e4, 3.9307895800092710610e4, 2.8729085735721942674e4, 5.2264952788528545610e3},
  c = {1.42343711074968357734, 4.63033784615654529590, 5.76949722146069140550, 3.64784832476320460504,
       1.27045825245236838258, 2.41780725177450611770e-1, 2.27238449892691845833e-2, 7.74545014278341407640e-4},
  d = {1, 2.05319162663775882187, 1.67638483018380384940, 6.89767334985100004550e-1,
       1.48103976427480074590e-1, 1.51986665636164571966e-2, 5.47593808499534494600e-4, 1.05075007164441684324e-9},
  e = {6.65790464350110377720, 5.46378491116411436990, 1.78482653991729133580, 2.96560571828504891230e-1,
       2.65321895265761230930e-2, 1.24266094738807843860e-3, 2.71155556874348757815e-5, 2.01033439929228813265e-7},
  f = {1, 5.99832206555887937690e-1, 1.36929880922735805310e-1, 1.48753612908506148525e-2,
       7.86869131145613259100e-4, 1.84631831751005468180e-5, 1.42151175831644588870e-7, 2.04426310338993978564e-15},
}

local function horner(c, x)
  local s = 0
  for i = #c, 1, -1 do s = s * x + c[i] end
  return s
end

--- The probit (normal deviate) Phi^-1(p), the scale of both DET axes, by AS 241 (relative
-- error about 1e-16). p is first clamped to [eps, 1 - eps], eps = 2^-52, as NIST's DETware
-- (ppndf) does, so that a DET point with a rate of 0 or 1 lies far off the plotted range
-- (|probit| = 8.13) instead of at infinity.
local function probit(p)
  local eps = 2.0 ^ -52
  p = math.min(math.max(p, eps), 1 - eps)
  local q = p - 0.5
  if math.abs(q) <= 0.425 then
    local r = 0.180625 - q * q
    return q * horner(AS241.a, r) / horner(AS241.b, r)
  end
  local r = math.sqrt(-math.log(q < 0 and p or 1 - p))
  local v
  if r <= 5 then
    r = r - 1.6
    v = horner(AS241.c, r) / horner(AS241.d, r)
  else
    r = r - 5
    v = horner(AS241.e, r) / horner(AS241.f, r)
  end
  return q < 0 and -v or v
end

-- The probabilities (in %) that NIST's DET plots label, of which those in the range are drawn.
local det_ticks = {0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 40, 60, 80, 90, 95, 98,
  99, 99.5, 99.8, 99.9, 99.95, 99.98, 99.99}

local function det_range(v)
  local want = "{pfa0, pfa1, pmiss0, pmiss1} in percent, with 0 < pfa0 < pfa1 < 100 and 0 < pmiss0 < pmiss1 < 100"
  if check.range(v) then return want end
  for i = 1, 4 do
    local x = rawget(v, i)
    if not (x > 0 and x < 100) then return want end
  end
end

--- The scores of one side (`what`: 'tar' or 'non') of system i: a raw copy of a list of
-- numbers, or a gmmkit.Matrix left for gk.eval to check; nil and a message if neither.
local function det_scores(v, what, i)
  if is_type(v, "gmmkit.Matrix") then return v end
  if type(v) ~= "table" then
    return nil, string.format("system %d: '%s' must be a list of scores or a vector gmmkit.Matrix, got %s", i, what,
      type(v))
  end
  local n, list = rawlen(v), {}
  if n == 0 then return nil, string.format("system %d: '%s' is empty: no scores", i, what) end
  for j = 1, n do
    local s = rawget(v, j)
    if type(s) ~= "number" or s ~= s then
      return nil, string.format("system %d: %s score %d is %s, not a number", i, what, j, s ~= s and "NaN" or type(s))
    end
    list[j] = s
  end
  return list
end

--- DET plot (NIST): one curve per system on normal-deviate axes, each with its EER marked.
function plot.det(systems, opts)
  opts = check_options("det", opts, {{"file", check.file}, {"title", check.text}, {"size", check.size},
    {"range", det_range}, {"rocch", check.bool}}, 2)
  if type(systems) ~= "table" or rawlen(systems) == 0 then
    error("bad argument #1 to 'det' (a non-empty list of systems {name=, tar=, non=} expected, got " ..
      (type(systems) == "table" and "an empty table" or type(systems)) .. ")", 2)
  end
  local curves = {}
  for i, s in ipairs(raw_list(systems)) do
    if type(s) ~= "table" then
      error(string.format("bad argument #1 to 'det' (system %d must be a table {name=, tar=, non=}, got %s)", i,
        type(s)), 2)
    end
    local name = rawget(s, "name")
    if name ~= nil and check.text(name) then
      error(string.format("bad argument #1 to 'det' (system %d: 'name' must be a string, got %s)", i, type(name)), 2)
    end
    local tar, why = det_scores(rawget(s, "tar"), "tar", i)
    local non, why_non = det_scores(rawget(s, "non"), "non", i)
    if not tar or not non then error("bad argument #1 to 'det' (" .. (why or why_non) .. ")", 2) end
    local ok, d = pcall(core.eval.det, tar, non, {rocch = opts.rocch == true})
    local ok_eer, eer = false, nil
    if ok then ok_eer, eer = pcall(core.eval.eer, tar, non) end
    if not ok_eer then  -- a matrix gk.eval refused: its reason, for this system
      local reason = tostring(ok and eer or d)
      error(string.format("bad argument #1 to 'det' (system %d: %s)", i, reason:match("%((.*)%)$") or reason), 2)
    end
    curves[i] = {name = name ~= nil and tostring(name) or ("system " .. i), det = d, eer = eer}
  end
  local range = opts.range or {0.1, 40, 0.1, 40}
  local function tics(lo, hi)
    local list = {}
    for _, t in ipairs(det_ticks) do
      if t >= lo * (1 - 1e-9) and t <= hi * (1 + 1e-9) then
        list[#list + 1] = string.format('"%g" %.17g', t, probit(t / 100))
      end
    end
    return "(" .. table.concat(list, ", ") .. ")"
  end
  return render(opts.file, function(tmp)
    local script = {terminal(opts.file, opts.size or {760, 720})}
    script[#script + 1] = string.format(
      "set title %s\nset xlabel 'False alarm probability (%%)'\nset ylabel 'Miss probability (%%)'\n" ..
      "set xrange [%.17g:%.17g]\nset yrange [%.17g:%.17g]\nset size ratio -1\nset xtics %s\nset ytics %s\n" ..
      -- the legend below the axes (inside it would hide some curve), in a margin made for it
      "set grid\nset key below Left reverse\nset bmargin %d\n",
      quote(opts.title or "DET"), probit(range[1] / 100), probit(range[2] / 100), probit(range[3] / 100),
      probit(range[4] / 100), tics(range[1], range[2]), tics(range[3], range[4]), math.min(#curves, 30) + 5)
    local plots = {"x with lines dt 2 lc rgb '#a0a0a0' notitle"}  -- Pmiss = Pfa, where the EER lies
    for i, c in ipairs(curves) do
      local color = colors[(i - 1) % #colors + 1]
      local path, f = tmp.data()
      local rows = {"# pfa pmiss probit(pfa) probit(pmiss)\n"}
      local pfa, pmiss = c.det.pfa, c.det.pmiss
      for j = 1, #pfa do
        rows[#rows + 1] = string.format("%.17g %.17g %.17g %.17g\n", pfa[j], pmiss[j], probit(pfa[j]), probit(pmiss[j]))
      end
      f:write(table.concat(rows))
      f:close()
      local epath, ef = tmp.data()
      ef:write(string.format("# eer probit(eer)\n%.17g %.17g\n", c.eer, probit(c.eer)))
      ef:close()
      plots[#plots + 1] = string.format("%s using 3:4 with lines lw 2 lc rgb '%s' title %s", quote(path), color,
        quote(string.format("%s (EER %.2f%%)", c.name, 100 * c.eer)))
      plots[#plots + 1] = string.format("%s using 2:2 with points pt 7 ps 1.3 lc rgb '%s' notitle", quote(epath), color)
    end
    script[#script + 1] = "plot " .. table.concat(plots, ", \\\n  ") .. "\n"
    return table.concat(script)
  end)
end

core.setdoc(plot.mixtures, [[
gk.plot.mixtures{mixtures = {f, g, ...}, labels =, dims = {1, 2}, points = X, file =, title =, xlabel =, ylabel =, grid = 120, range = {x0, x1, y0, y1}, ellipses = true, contours = true}
A 2-D slice of one or more mixtures on dimensions `dims`: density contours of each
mixture's marginal and its components' 1- and 2-sigma ellipses, with the data points X
(a matrix) behind them, as in the figures of the GMM simplification paper. The axes are
labelled "dimension a" unless xlabel / ylabel name the features. `file` ends in .png or
.svg; without it the plot is drawn as text on the terminal.]])
core.setdoc(plot.curves, [[
gk.plot.curves{series = {{label =, x = {...}, y = {...}}, ...}, xlabel =, ylabel =, logx =, logy =, file =, title =,
               points = true}
Several curves on one plot (log scales on request); points = false draws lines only (dense
curves such as densities on a grid).]])
core.setdoc(plot.convergence, [[
gk.plot.convergence({{label =, info =}, ...}[, {file =, x = 'seconds'|'iteration', y = 'nise'|'ise'}])
The NISE (or the ISE F) against seconds or iterations, log scale, one curve per reduction; `info`
is the second result of gk.simplify.reduce(f, K, {history = true, ...}). A one-step method
(topk, runnalls, minise) is a single point.]])
core.setdoc(plot.em, [[
gk.plot.em(info[, {file =, title =, label =}])
The mean log-likelihood per frame at each EM iteration (info from gk.gmm.train).]])
core.setdoc(plot.image, [[
gk.plot.image(m[, {file =, title =, frame_shift =}])
An image of a frames x dims matrix (MFCC, filterbank), time on the x axis.]])
core.setdoc(plot.det, [[
gk.plot.det(systems[, {file =, title =, range = {0.1, 40, 0.1, 40}, rocch = false, size =}])
A DET plot as in NIST's evaluations: miss probability against false-alarm probability,
both on normal-deviate (probit) axes labelled in percent, one curve per system of the
list {{name =, tar =, non =}, ...} (target and non-target scores: Lua arrays or vector
matrices, as gk.eval takes them), each from gk.eval.det (the step curve; rocch = true
draws its ROC convex hull) with its EER (gk.eval.eer) marked on the dashed line Pmiss =
Pfa and given in the legend. range = {pfa0, pfa1, pmiss0, pmiss1} in percent. The
probit is Wichura's AS 241, rates of 0 and 1 clamped to 2^-52 and 1 - 2^-52 as DETware
does. `file` ends in .png or .svg; without it the plot is drawn on the terminal.]])

return plot
