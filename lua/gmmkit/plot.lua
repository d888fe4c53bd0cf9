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

local function check_options(fname, opts, keys)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    error(string.format("bad argument #1 to '%s' (table expected, got %s)", fname, type(opts)), 3)
  end
  local known = {}
  for _, k in ipairs(keys) do known[k] = true end
  for k in pairs(opts) do
    if not known[k] then
      local s = type(k) == "string" and core.suggest(k, keys)
      error(string.format("bad argument #1 to '%s' (unknown option '%s'%s)", fname, tostring(k),
        s and (" (did you mean '" .. s .. "'?)") or ""), 3)
    end
  end
  return opts
end

local function have_gnuplot()
  local f = io.popen("command -v gnuplot 2>/dev/null")
  local path = f and f:read("l")
  if f then f:close() end
  return path ~= nil and path ~= ""
end

--- Runs a gnuplot script; data files are written by `write(dir)` beforehand.
local function run_gnuplot(script, file)
  if not have_gnuplot() then
    error("gk.plot: gnuplot not found: install the Debian package gnuplot-nox", 3)
  end
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(script)
  f:close()
  local p = io.popen("gnuplot " .. path .. " 2>&1")
  local out = p:read("a")
  local ok = p:close()
  os.remove(path)
  if not ok then error("gk.plot: gnuplot failed: " .. out, 3) end
  if not file then io.write(out) end
  return file
end

local function terminal(file, size)
  size = size or {900, 650}
  if not file then
    return "set terminal dumb size 110,32 ansirgb noenhanced\n"
  end
  local q = file:gsub("'", "")
  if file:match("%.svg$") then
    return string.format("set terminal svg size %d,%d dynamic noenhanced font 'DejaVu Sans,11'\nset output '%s'\n",
      size[1], size[2], q)
  end
  return string.format("set terminal pngcairo size %d,%d noenhanced font 'DejaVu Sans,10'\nset output '%s'\n", size[1], size[2], q)
end

local function quote(s)
  return "'" .. tostring(s):gsub("'", "") .. "'"
end

local function tmpdata()
  local path = os.tmpname()
  return path, assert(io.open(path, "w"))
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

function plot.mixtures(opts)
  opts = check_options("mixtures", opts, {"mixtures", "labels", "dims", "points", "file", "title",
    "grid", "range", "ellipses", "contours", "max_points", "size"})
  local mixtures = opts.mixtures
  if type(mixtures) == "userdata" then mixtures = {mixtures} end
  if type(mixtures) ~= "table" or #mixtures == 0 then
    error("bad argument #1 to 'mixtures' (option 'mixtures' must be a model or a list of models)", 2)
  end
  local dims = opts.dims or {1, 2}
  local a, b = dims[1], dims[2]
  for i, g in ipairs(mixtures) do
    if a < 1 or b < 1 or a > g.dim or b > g.dim or a == b then
      error(string.format("bad argument #1 to 'mixtures' (option 'dims' {%d, %d} does not fit mixture %d of dimension %d)",
        a, b, i, g.dim), 2)
    end
  end
  local comps = {}
  for i, g in ipairs(mixtures) do comps[i] = components(g, a, b) end
  -- The plotting range: 3 sigma around every component, or the points, or as given.
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
  local script = {terminal(opts.file, opts.size)}
  script[#script + 1] = string.format("set xrange [%.17g:%.17g]\nset yrange [%.17g:%.17g]\n", xmin, xmax, ymin, ymax)
  script[#script + 1] = string.format("set title %s\nset xlabel %s\nset ylabel %s\nset key outside right top\n",
    quote(opts.title or ""), quote("dimension " .. a), quote("dimension " .. b))
  local files, plots = {}, {}
  if opts.points then
    local X = opts.points
    local path, f = tmpdata()
    files[#files + 1] = path
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
      local path, f = tmpdata()
      files[#files + 1] = path
      for ix = 0, grid do
        local x = xmin + (xmax - xmin) * ix / grid
        for iy = 0, grid do
          local y = ymin + (ymax - ymin) * iy / grid
          f:write(x, " ", y, " ", density(list, x, y), "\n")
        end
        f:write("\n")
      end
      f:close()
      local cont = os.tmpname()
      files[#files + 1] = cont
      script[#script + 1] = string.format(
        "set contour base\nset cntrparam levels 8\nunset surface\nset view map\nset table %s\nsplot %s using 1:2:3 with lines\nunset table\nunset contour\nset surface\n",
        quote(cont), quote(path))
      plots[#plots + 1] = string.format("%s with lines lc rgb '%s' lw 1 title %s", quote(cont), color,
        quote(label .. " density"))
    end
    if opts.ellipses ~= false then
      local path, f = tmpdata()
      files[#files + 1] = path
      for _, c in ipairs(list) do
        local r1, r2, angle = ellipse(c)
        for _, s in ipairs({1, 2}) do
          for t = 0, 64 do
            local th = 2 * math.pi * t / 64
            local u, v = s * r1 * math.cos(th), s * r2 * math.sin(th)
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
  script[#script + 1] = "plot " .. table.concat(plots, ", \\\n  ") .. "\n"
  local ok, err = pcall(run_gnuplot, table.concat(script), opts.file)
  for _, p in ipairs(files) do os.remove(p) end
  if not ok then error(err, 2) end
  return opts.file
end

function plot.curves(opts)
  opts = check_options("curves", opts, {"series", "xlabel", "ylabel", "logx", "logy", "file", "title", "size",
    "points"})
  if type(opts.series) ~= "table" or #opts.series == 0 then
    error("bad argument #1 to 'curves' (option 'series' must be a list of {label=, x=, y=})", 2)
  end
  local script = {terminal(opts.file, opts.size)}
  script[#script + 1] = string.format("set title %s\nset xlabel %s\nset ylabel %s\nset key top right\nset grid\n",
    quote(opts.title or ""), quote(opts.xlabel or ""), quote(opts.ylabel or ""))
  if opts.logx then script[#script + 1] = "set logscale x\nset format x '%g'\n" end
  if opts.logy then script[#script + 1] = "set logscale y\nset format y '%.0e'\n" end
  local files, plots = {}, {}
  for i, s in ipairs(opts.series) do
    if type(s.x) ~= "table" or type(s.y) ~= "table" or #s.x ~= #s.y then
      error(string.format("bad argument #1 to 'curves' (series %d needs x and y lists of equal length)", i), 2)
    end
    local path, f = tmpdata()
    files[#files + 1] = path
    local n = 0
    for j = 1, #s.x do
      local y = s.y[j]
      if not (opts.logy and y <= 0) and y == y then
        f:write(s.x[j], " ", y, "\n")
        n = n + 1
      end
    end
    f:close()
    if n > 0 then
      local style = opts.points == false and "lines" or "linespoints pt 7 ps 0.5"
      plots[#plots + 1] = string.format("%s with %s lc rgb '%s' lw 2 title %s", quote(path), style,
        colors[(i - 1) % #colors + 1], quote(s.label or ("series " .. i)))
    end
  end
  if #plots == 0 then error("bad argument #1 to 'curves' (no point to plot)", 2) end
  script[#script + 1] = "plot " .. table.concat(plots, ", \\\n  ") .. "\n"
  local ok, err = pcall(run_gnuplot, table.concat(script), opts.file)
  for _, p in ipairs(files) do os.remove(p) end
  if not ok then error(err, 2) end
  return opts.file
end

--- Convergence of several reductions: `runs` is a list of {label=, info=} where info is
-- what gk.simplify.reduce returned with history=true. Plots the objective F (the ISE,
-- which every method lowers; y = "nise" for its normalised form, which need not fall
-- monotonically because its denominator depends on g) against seconds (or iterations
-- with x = "iteration"), log scale.
function plot.convergence(runs, opts)
  opts = check_options("convergence", opts, {"file", "title", "x", "y", "size"})
  local xkey, ykey = opts.x or "seconds", opts.y or "ise"
  local series = {}
  for i, run in ipairs(runs) do
    local h = run.info and run.info.history
    if h and #h > 0 then
      local x, y = {}, {}
      for j, e in ipairs(h) do
        x[j], y[j] = e[xkey] or j, e[ykey]
      end
      series[#series + 1] = {label = run.label or run.info.method or ("run " .. i), x = x, y = y}
    end
  end
  return plot.curves({series = series, logy = true, logx = xkey == "seconds", file = opts.file, size = opts.size,
    title = opts.title or "convergence", xlabel = xkey, ylabel = ykey == "ise" and "ISE (F)" or ykey:upper()})
end

--- EM log-likelihood per iteration (info from gk.gmm.train).
function plot.em(info, opts)
  opts = check_options("em", opts, {"file", "title", "label", "size"})
  local y = info.history or info.log_likelihood_history or {}
  local x = {}
  for i = 1, #y do x[i] = i end
  return plot.curves({series = {{label = opts.label or "EM", x = x, y = y}}, file = opts.file, size = opts.size,
    title = opts.title or "EM: mean log-likelihood per frame", xlabel = "iteration", ylabel = "log-likelihood"})
end

--- An image of a frames x dims matrix (MFCC or filterbank), time on the x axis.
function plot.image(m, opts)
  opts = check_options("image", opts, {"file", "title", "size", "frame_shift"})
  local path, f = tmpdata()
  local shift = opts.frame_shift or 1
  for i = 1, m:rows() do
    for j = 1, m:cols() do f:write((i - 1) * shift, " ", j, " ", m:get(i, j), "\n") end
    f:write("\n")
  end
  f:close()
  local script = terminal(opts.file, opts.size) ..
    string.format("set title %s\nset xlabel %s\nset ylabel 'coefficient'\nset view map\nset palette rgb 33,13,10\n" ..
      "set xrange [0:%g]\nset yrange [0.5:%g]\nplot %s using 1:2:3 with image notitle\n",
      quote(opts.title or ""), quote(shift == 1 and "frame" or "seconds"), (m:rows() - 1) * shift, m:cols() + 0.5,
      quote(path))
  local ok, err = pcall(run_gnuplot, script, opts.file)
  os.remove(path)
  if not ok then error(err, 2) end
  return opts.file
end

core.setdoc(plot.mixtures, [[
gk.plot.mixtures{mixtures = {f, g, ...}, labels =, dims = {1, 2}, points = X, file =, title =, grid = 120, range = {x0, x1, y0, y1}, ellipses = true, contours = true}
A 2-D slice of one or more mixtures on dimensions `dims`: density contours of each
mixture's marginal and its components' 1- and 2-sigma ellipses, with the data points X
(a matrix) behind them, as in the figures of the GMM simplification paper. `file` ends in
.png or .svg; without it the plot is drawn as text on the terminal.]])
core.setdoc(plot.curves, [[
gk.plot.curves{series = {{label =, x = {...}, y = {...}}, ...}, xlabel =, ylabel =, logx =, logy =, file =, title =,
               points = true}
Several curves on one plot (log scales on request); points = false draws lines only (dense
curves such as densities on a grid).]])
core.setdoc(plot.convergence, [[
gk.plot.convergence({{label =, info =}, ...}[, {file =, x = 'seconds'|'iteration', y = 'ise'|'nise'}])
The ISE F (or NISE) against seconds or iterations, log scale, one curve per reduction; `info`
is the second result of gk.simplify.reduce(f, K, {history = true, ...}).]])
core.setdoc(plot.em, [[
gk.plot.em(info[, {file =, title =, label =}])
The mean log-likelihood per frame at each EM iteration (info from gk.gmm.train).]])
core.setdoc(plot.image, [[
gk.plot.image(m[, {file =, title =, frame_shift =}])
An image of a frames x dims matrix (MFCC, filterbank), time on the x axis.]])

return plot
