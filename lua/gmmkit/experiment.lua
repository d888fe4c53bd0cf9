--- gk.experiment: the small pieces every experiment script repeats: command-line options,
-- output folders, timing, running several reduction methods, Markdown tables and reports.
--
--   local ex = gk.experiment
--   local opt = ex.options(arg, {audio = "", components = 64, out = "out"}, "speech_ubm.lua: ...")
--   local rows = ex.reduce_all(ubm, 16, {"lbfgs", "gd", "runnalls"})
--   print(ex.markdown_table(rows, {"method", "nise", "seconds"}))
local core = require "gmmkit.core"

local experiment = {}

--- A string as one word for /bin/sh: single-quoted, each ' written as '\''. Nothing in it
-- (quotes, ;, $, backquotes, newlines) can end the word.
local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

--- Whether the example runs in its reduced-size mode (GMMKIT_SMOKE=1, used by the tests).
-- Argument checks: each raises "bad argument #n to 'fname' (what expected, got ...)" at
-- the caller of the public function. Lists are read by raw length, so that a table whose
-- __len lies cannot make a loop run for ever.
local function got(v)
  if type(v) == "number" then return v ~= v and "NaN" or tostring(v) end
  return type(v)
end
local function bad(fname, n, what, v)
  error(string.format("bad argument #%d to '%s' (%s expected, got %s)", n, fname, what, got(v)), 3)
end
local function check_string(fname, n, v, optional)
  if type(v) == "string" or (optional and v == nil) then return v end
  bad(fname, n, optional and "string or nil" or "string", v)
end
local function check_list(fname, n, v, kind, optional)
  if optional and v == nil then return v end
  if type(v) ~= "table" then bad(fname, n, "list of " .. kind .. "s", v) end
  for i = 1, rawlen(v) do
    local e = rawget(v, i)
    if kind == "number" and not (type(e) == "number" and e == e) or kind ~= "number" and type(e) ~= kind then
      error(string.format("bad argument #%d to '%s' (entry %d is a %s, not a %s)", n, fname, i, got(e), kind), 3)
    end
  end
  return v
end

function experiment.smoke()
  local v = os.getenv("GMMKIT_SMOKE")
  return v ~= nil and v ~= "" and v ~= "0"
end

local function parse_value(name, default, text)
  local t = type(default)
  if t == "number" then
    local v = tonumber(text)
    if not v then error(string.format("option --%s expects a number, got '%s'", name, text), 0) end
    return v
  elseif t == "boolean" then
    if text == "true" or text == "1" or text == "yes" then return true end
    if text == "false" or text == "0" or text == "no" then return false end
    error(string.format("option --%s expects true or false, got '%s'", name, text), 0)
  elseif t == "table" then
    local list = {}
    for item in text:gmatch("[^,]+") do list[#list + 1] = tonumber(item) or item end
    return list
  end
  return text
end

local function usage_text(usage, defaults, names)
  local lines = {(usage or "") .. "\noptions (defaults):"}
  for _, k in ipairs(names) do
    local v = defaults[k]
    if type(v) == "table" then v = table.concat(v, ",") end
    lines[#lines + 1] = string.format("  --%-20s %s", (k:gsub("_", "-")), tostring(v))
  end
  return table.concat(lines, "\n") .. "\n"
end

local function parse_options(argv, defaults, names, usage)
  local opt = {}
  for k, v in pairs(defaults) do opt[k] = v end
  local i = 1
  while argv and argv[i] do
    local a = argv[i]
    if type(a) ~= "string" then error(string.format("argument %d is a %s, not a string", i, got(a)), 0) end
    if a == "--help" or a == "-h" then
      io.write(usage_text(usage, defaults, names))
      os.exit(0)
    end
    local name, value = a:match("^%-%-([%w_%-]+)=(.*)$")
    if not name then name = a:match("^%-%-([%w_%-]+)$") end
    if not name then error(string.format("unexpected argument '%s' (options are --name value)", a), 0) end
    name = name:gsub("%-", "_")
    if defaults[name] == nil then
      local s = core.suggest(name, names)
      error(string.format("unknown option --%s%s", name, s and (" (did you mean --" .. s .. "?)") or ""), 0)
    end
    if value == nil then
      if type(defaults[name]) == "boolean" and (argv[i + 1] == nil or argv[i + 1]:match("^%-%-")) then
        value = "true"
      else
        i = i + 1
        value = argv[i]
        if value == nil then error("option --" .. name .. " needs a value", 0) end
      end
    end
    opt[name] = parse_value(name, defaults[name], value)
    i = i + 1
  end
  return opt
end

--- Parses `--name value` (or `--name=value`, `--flag` for booleans) from a script's
-- `arg` into a copy of `defaults`; list-valued options take comma-separated values.
-- `--help` prints `usage` and the defaults and exits with 0. A usage error (an unknown
-- option, with a suggestion, or a bad value) in a script's own `arg` (the table with
-- arg[0], the script) prints one line and the usage on stderr and exits with status 2,
-- as command-line tools do, without a traceback; for any other list it raises.
function experiment.options(argv, defaults, usage)
  if argv ~= nil and type(argv) ~= "table" then bad("options", 1, "table (a script's arg) or nil", argv) end
  if type(defaults) ~= "table" then bad("options", 2, "table of defaults", defaults) end
  check_string("options", 3, usage, true)
  local names = {}
  for k in pairs(defaults) do
    if type(k) ~= "string" or not k:match("^[%a_][%w_]*$") then
      error(string.format("bad argument #2 to 'options' (option names must be identifiers, got %s)", got(k)), 2)
    end
    names[#names + 1] = k
  end
  table.sort(names)
  local ok, opt = pcall(parse_options, argv, defaults, names, usage)
  if ok then return opt end
  if not (type(argv) == "table" and type(argv[0]) == "string") then error(opt, 0) end
  local prog = (argv and argv[0] or "script"):match("[^/]*$")
  io.stderr:write(prog, ": ", tostring(opt), "\n", usage_text(usage, defaults, names))
  os.exit(2)
end

--- mkdir's work; its errors are raised at `level` (counted from this function).
local function make_folder(path, level)
  local ok = os.execute("mkdir -p -- " .. shell_quote(path) .. " 2>/dev/null")
  if not ok then
    error(string.format("cannot create the output folder %s: choose another (for an example: --out DIR)", path), level)
  end
  local probe = string.format("%s/.gmmkit-write-test-%d", path, math.random(1 << 30))
  local f, why = io.open(probe, "w")
  if not f then
    error(string.format("cannot write in the output folder %s (%s): choose another (for an example: --out DIR)",
      path, tostring(why):gsub("^.*: ", "")), level)
  end
  f:close()
  os.remove(probe)
  return path
end

--- Creates a folder (and its parents), checks that a file can be written in it, and
-- returns its path: an output folder that cannot be written is reported before any
-- heavy step, not after it.
function experiment.mkdir(path)
  if type(path) ~= "string" or path == "" or path:find("%z") then
    error("bad argument #1 to 'mkdir' (a folder path expected)", 2)
  end
  local made = make_folder(path, 3)  -- not a tail call: the level counts this frame
  return made
end

--- Sets an example up: its options parsed from `arg` against `defaults` (as by
-- options), to which `out` ($GMMKIT_OUT, else out/<name>) and `plots` (off in smoke mode)
-- are added when they are absent, and the output folder created and checked for writing
-- (as by mkdir) before any heavy step. Returns the options.
function experiment.setup(argv, name, defaults, usage)
  if argv ~= nil and type(argv) ~= "table" then bad("setup", 1, "table (a script's arg) or nil", argv) end
  if type(name) ~= "string" or not name:match("^[%w_%-]+$") then bad("setup", 2, "example name (letters, digits, _ and -)", name) end
  if type(defaults) ~= "table" then bad("setup", 3, "table of defaults", defaults) end
  check_string("setup", 4, usage, true)
  local d = {}
  for k, v in next, defaults do d[k] = v end
  if d.out == nil then d.out = os.getenv("GMMKIT_OUT") or ("out/" .. name) end
  if d.plots == nil then d.plots = not experiment.smoke() end
  local opt = experiment.options(argv, d, usage)
  if type(opt.out) ~= "string" or opt.out == "" or opt.out:find("%z") then
    error(string.format("bad argument #3 to 'setup' (out must be a folder path, got %s)", got(opt.out)), 2)
  end
  make_folder(opt.out, 3)
  return opt
end

--- The checkout's root, from a script path such as arg[0] = "examples/x.lua".
local function source_root(script)
  local env = os.getenv("GMMKIT_SOURCE_DIR")
  if env and env ~= "" then return env end
  local dir = (script or ""):match("^(.*)/[^/]*$") or "."
  return dir .. "/.."
end

--- The folder of speech recordings an example works on: `given` when not empty, else
-- $GMMKIT_DATA/fsdd/recordings, else a small corpus made offline with espeak-ng in
-- `out`/espeak-corpus (scripts/make-espeak-corpus; `takes` recordings per digit and voice).
-- Returns the folder and a short description of where it came from.
function experiment.speech_folder(given, out, script, takes)
  check_string("speech_folder", 1, given, true)
  check_string("speech_folder", 3, script, true)
  if given and given ~= "" then return given, given end
  local data = os.getenv("GMMKIT_DATA")
  if data and data ~= "" then
    return data .. "/fsdd/recordings", "the Free Spoken Digit Dataset (" .. data .. "/fsdd/recordings)"
  end
  if type(out) ~= "string" or out == "" or out:find("%z") then bad("speech_folder", 2, "output folder path", out) end
  takes = takes or 6
  if math.type(takes) ~= "integer" or takes < 1 or takes > 1000 then
    error("bad argument #4 to 'speech_folder' (takes must be an integer in [1, 1000])", 2)
  end
  local dir = out .. "/espeak-corpus"
  -- Every path is one quoted word: a folder named x'; touch y; echo ' stays a name.
  local cmd = string.format("TAKES=%d %s %s >&2", takes, shell_quote(source_root(script) .. "/scripts/make-espeak-corpus"),
    shell_quote(dir))
  if not os.execute(cmd) then error("could not make the espeak-ng corpus in " .. dir .. " (scripts/make-espeak-corpus failed; see above)", 2) end
  return dir, "a corpus synthesised with espeak-ng (no speech data folder was given)"
end

--- Splits FSDD-style file names {digit}_{speaker}_{index}.wav: speaker, digit, index
-- (nil for other names).
function experiment.fsdd_name(path)
  check_string("fsdd_name", 1, path)
  local d, s, i = path:match("([0-9])_([%w]+)_([0-9]+)%.[%w]+$")
  if not d then return nil end
  return s, tonumber(d), tonumber(i)
end

--- Equal error rate of a detector from its target and non-target scores: gk.eval.eer's
-- (on the ROC convex hull, as BOSARIS's rocch2eer), the rate alone.
function experiment.eer(targets, nontargets)
  check_list("eer", 1, targets, "number")
  check_list("eer", 2, nontargets, "number")
  if rawlen(targets) == 0 or rawlen(nontargets) == 0 then error("eer needs target and non-target scores", 2) end
  local t, n = {}, {}
  for i = 1, rawlen(targets) do t[i] = rawget(targets, i) end
  for i = 1, rawlen(nontargets) do n[i] = rawget(nontargets, i) end
  return (core.eval.eer(t, n))
end

--- Runs f(...) and returns its results followed by the wall-clock seconds it took.
function experiment.timed(f, ...)
  local mt = getmetatable(f)
  if type(f) ~= "function" and not (type(mt) == "table" and rawget(mt, "__call")) then bad("timed", 1, "function", f) end
  local t0 = core.seconds()
  local r = table.pack(f(...))
  r[r.n + 1] = core.seconds() - t0
  return table.unpack(r, 1, r.n + 1)
end

--- Reduces `f` to `k` components with each method in `methods`; returns a list of rows
-- {method =, model =, info =, nise =, ise =, seconds =, iterations =}. Options are passed
-- to gk.simplify.reduce (history = true is added). A method that fails gives a row with
-- `error` set instead of stopping the experiment.
function experiment.reduce_all(f, k, methods, opts)
  check_list("reduce_all", 3, methods, "string")
  if opts ~= nil and type(opts) ~= "table" then bad("reduce_all", 4, "table of options or nil", opts) end
  local simplify = core.modules.simplify
  local rows = {}
  for mi = 1, rawlen(methods) do
    local m = rawget(methods, mi)
    local o = {}
    for key, v in pairs(opts or {}) do o[key] = v end
    o.method = m
    if o.history == nil then o.history = true end
    local t0 = core.seconds()
    local ok, g, info = pcall(simplify.reduce, f, k, o)
    local seconds = core.seconds() - t0
    if ok then
      rows[#rows + 1] = {method = m, model = g, info = info, nise = info.nise, ise = info.ise,
        seconds = seconds, iterations = info.iterations}
      experiment.progress("  reduced to %d components by %s: NISE %.4g, %d iterations, %.3f s", k, m, info.nise,
        info.iterations or 0, seconds)
    else
      rows[#rows + 1] = {method = m, error = tostring(g), seconds = seconds}
    end
  end
  return rows
end

--- At most n items of `list`, spread evenly over it (so that every speaker and digit of a
-- sorted corpus stays represented); the list itself when it is short enough.
function experiment.spread(list, n)
  if type(list) ~= "table" then bad("spread", 1, "list", list) end
  if math.type(n) ~= "integer" and not (type(n) == "number" and n == math.floor(n) and math.abs(n) < 2^53) then
    bad("spread", 2, "integer", n)
  end
  n = math.tointeger(n)
  local len = rawlen(list)
  if n <= 0 or len <= n then return list end
  local step, subset = len / n, {}
  for i = 1, n do subset[i] = rawget(list, math.floor((i - 1) * step) + 1) end
  return subset
end

--- The rows of reduce_all by method name; raises on a row that failed.
function experiment.by_method(rows)
  check_list("by_method", 1, rows, "table")
  local by = {}
  for i = 1, rawlen(rows) do
    local r = rawget(rows, i)
    if type(r.method) ~= "string" then
      error(string.format("bad argument #1 to 'by_method' (row %d has no method name: a row of reduce_all expected)", i), 2)
    end
    if r.error then error(r.method .. ": " .. r.error, 2) end
    by[r.method] = r
  end
  return by
end

--- Checks that method `best` ended with a NISE no larger than each of `others` (those
-- that ran), up to rounding; raises naming the pair otherwise.
function experiment.check_best(by, best, others)
  if type(by) ~= "table" then bad("check_best", 1, "table of rows by method", by) end
  check_string("check_best", 2, best)
  check_list("check_best", 3, others, "string")
  local b = by[best]
  if not b then return end
  if type(b) ~= "table" or type(b.nise) ~= "number" then
    error(string.format("bad argument #1 to 'check_best' (the row of %s has no nise)", best), 2)
  end
  for i = 1, rawlen(others) do
    local m = rawget(others, i)
    if by[m] then
      if type(by[m]) ~= "table" or type(by[m].nise) ~= "number" then
        error(string.format("bad argument #1 to 'check_best' (the row of %s has no nise)", m), 2)
      end
      assert(b.nise <= by[m].nise * (1 + 1e-6) + 1e-12,
        string.format("%s NISE %.6g > %s NISE %.6g", best, b.nise, m, by[m].nise))
    end
  end
end

local function cell(v)
  if v == nil then return "" end
  if type(v) == "number" then
    if math.type(v) == "integer" then return tostring(v) end
    if v == 0 then return "0" end
    local a = math.abs(v)
    if a >= 1e-3 and a < 1e5 then return string.format("%.4g", v) end
    return string.format("%.3e", v)
  end
  return tostring(v)
end

--- A Markdown table of `rows` (tables) with the given column keys and optional headers.
function experiment.markdown_table(rows, columns, headers)
  check_list("markdown_table", 1, rows, "table")
  check_list("markdown_table", 2, columns, "string")
  check_list("markdown_table", 3, headers, "string", true)
  local names = {}
  for i = 1, rawlen(headers or columns) do names[i] = rawget(headers or columns, i) end
  local out = {"| " .. table.concat(names, " | ") .. " |"}
  local sep = {}
  for i = 1, rawlen(columns) do sep[i] = "---" end
  out[2] = "|" .. table.concat(sep, "|") .. "|"
  for ri = 1, rawlen(rows) do
    local r = rawget(rows, ri)
    local cells = {}
    for i = 1, rawlen(columns) do cells[i] = cell(rawget(r, rawget(columns, i))) end
    out[#out + 1] = "| " .. table.concat(cells, " | ") .. " |"
  end
  return table.concat(out, "\n")
end

--- Writes a text file by the core's atomic writer (gk.core.write_file: a temporary file
-- beside it, fsync, rename; a target that is not a regular file is refused). Its errors
-- name the file and the caller's line.
function experiment.write(path, text)
  if type(path) ~= "string" or path == "" or path:find("%z") then bad("write", 1, "file path", path) end
  if type(text) ~= "string" and type(text) ~= "number" then bad("write", 2, "string", text) end
  core.write_file(path, tostring(text))
  return path
end

-- The methods every comparison checks lbfgs against: the paper's and the greedy baselines.
local BASELINES = {"gd", "kmeans", "topk", "runnalls", "minise"}
local COMPARE_KEYS = {data = true, data_name = true, out = true, name = true, seed = true, title = true, intro = true,
  ise = true, what = true, mixtures = true, convergence = true, plots = true, figures = true, notes = true, check = true}

local function check_compare(f, k, methods, opts)
  local mt = getmetatable(f)
  if type(f) ~= "userdata" or type(mt) ~= "table" or rawget(mt, "__name") ~= "gmmkit.Gmm" then
    bad("compare", 1, "gmmkit.Gmm", f)
  end
  local targets = k
  if type(k) == "number" then targets = {k}
  elseif type(k) ~= "table" or rawlen(k) == 0 then bad("compare", 2, "number of components or a list of them", k) end
  check_list("compare", 2, targets, "number")
  check_list("compare", 3, methods, "string")
  local raw = {}  -- read raw: a lying __index cannot lengthen the list
  for i = 1, rawlen(targets) do raw[i] = rawget(targets, i) end
  targets = raw
  if opts ~= nil and type(opts) ~= "table" then bad("compare", 4, "table of options or nil", opts) end
  opts = opts or {}
  local names = {}
  for key in pairs(COMPARE_KEYS) do names[#names + 1] = key end
  table.sort(names)
  for key in next, opts do  -- the rules and words of the C bindings' option tables
    if type(key) ~= "string" then
      error(string.format("bad argument #4 to 'compare' (option names must be strings, got a %s key)", type(key)), 3)
    end
    if not COMPARE_KEYS[key] then
      local s = core.suggest(key, names)
      error(string.format("bad argument #4 to 'compare' (unknown option '%s' (%s))", key,
        s and ("did you mean '" .. s .. "'?") or ("valid options: " .. table.concat(names, ", "))), 3)
    end
  end
  if opts.out ~= nil and (type(opts.out) ~= "string" or type(opts.name) ~= "string") then
    error("bad argument #4 to 'compare' (options out and name must be a folder and a file name)", 3)
  end
  return targets, opts
end

--- The table of a comparison: with one target, a row per method (NISE, [ISE,] [the
-- mean log-likelihood of opts.data,] iterations, seconds); with several, a row per
-- method and a NISE column per target.
local function compare_table(single, targets, methods, opts, reduced, rows)
  if single then
    local columns, headers = {"method", "nise"}, {"method", "NISE"}
    if opts.ise then columns[#columns + 1], headers[#headers + 1] = "ise", "ISE" end
    if opts.data then
      for _, r in ipairs(rows) do r.loglik = r.model:log_likelihood(opts.data) end
      columns[#columns + 1], headers[#headers + 1] = "loglik", "mean log-lik of the " .. (opts.data_name or "data")
    end
    columns[#columns + 1], headers[#headers + 1] = "iterations", "iterations"
    columns[#columns + 1], headers[#headers + 1] = "seconds", "seconds"
    return experiment.markdown_table(rows, columns, headers), rows
  end
  local table_rows, columns, headers = {}, {"method"}, {"method"}
  for i = 1, rawlen(methods) do table_rows[i] = {method = rawget(methods, i)} end
  for _, K in ipairs(targets) do
    local col = "K=" .. K
    columns[#columns + 1], headers[#headers + 1] = col, "NISE, K = " .. K
    for _, r in ipairs(table_rows) do r[col] = reduced[K][r.method] and reduced[K][r.method].nise end
  end
  return experiment.markdown_table(table_rows, columns, headers), table_rows
end

--- A comparison's figures: f against each method of opts.mixtures, the example's own
-- (opts.figures), and the convergence of the iterative methods.
local function compare_figures(f, k, opts, result)
  local plot = require "gmmkit.plot"
  local by, stem = result.by, opts.out .. "/" .. opts.name
  local mixtures = check_list("compare", 4, opts.mixtures, "string", true) or {}
  for i = 1, rawlen(mixtures) do
    local m = rawget(mixtures, i)
    local r = by[m]
    if r then
      plot.mixtures{mixtures = {f, r.model}, labels = {string.format("f (%d)", f.components), string.format("%s (%d)", m, k)},
        points = opts.data, file = stem .. "_" .. m .. ".png",
        title = string.format("%s%d -> %d by %s: NISE %.3g", opts.what and opts.what .. ", " or "", f.components, k, m, r.nise)}
    end
  end
  if opts.figures then opts.figures(result) end
  if opts.convergence then
    local runs = {}
    for _, m in ipairs({"gd", "kmeans", "lbfgs"}) do
      if by[m] then runs[#runs + 1] = {label = m, info = by[m].info} end
    end
    if #runs > 0 then plot.convergence(runs, {file = stem .. "_convergence.png", title = opts.convergence}) end
  end
end

--- Compares the reductions of `f` to `k` components (or to each of a list of targets) by
-- each method in `methods`; see the doc text below. Returns {rows=, by=, reduced=, table=}.
function experiment.compare(f, k, methods, opts)
  local targets
  targets, opts = check_compare(f, k, methods, opts)
  local result = {reduced = {}}
  for _, K in ipairs(targets) do
    local rows = experiment.reduce_all(f, K, methods, {seed = opts.seed})
    local by = experiment.by_method(rows)
    experiment.check_best(by, "lbfgs", BASELINES)
    if opts.check then opts.check(by, K) end
    result.reduced[K], result.by, result.rows = by, by, rows
  end
  result.table, result.rows = compare_table(type(k) == "number", targets, methods, opts, result.reduced, result.rows)
  print(result.table)
  local note = opts.notes and opts.notes(result)
  if type(note) == "string" and note ~= "" then print(note) end
  if opts.plots and opts.out then compare_figures(f, targets[1], opts, result) end
  if opts.out then
    local path = opts.out .. "/" .. opts.name .. ".md"
    experiment.write(path, "# " .. (opts.title or opts.name) .. "\n\n" .. (opts.intro and opts.intro .. "\n\n" or "") ..
      result.table .. "\n" .. (type(note) == "string" and "\n" .. note .. "\n" or ""))
    print("wrote " .. path)
  end
  return result
end

--- Prints a progress line on stderr.
function experiment.progress(fmt, ...)
  check_string("progress", 1, fmt)
  local ok, line = pcall(string.format, fmt, ...)
  if not ok then error("bad argument to 'progress' (" .. tostring(line):gsub("^bad argument #(%d+) to 'format' %((.*)%)$", function(n, why)
    return "argument #" .. n .. ": " .. why end) .. ")", 2) end
  io.stderr:write(line, "\n")
end

--- Names the files that gk.features.extract skipped: `results` is one extract result or a
-- list of them. Each skipped file and its reason goes to stderr (at most `max_lines`, 20
-- by default, then a count); when more than half of the files failed, a warning says so
-- (that is almost always a wrong option or folder, not bad data). Returns the Markdown
-- section for a report (the files and reasons, up to 200), or nil when none failed, and
-- the numbers failed and total.
function experiment.report_failures(results, max_lines)
  if type(results) ~= "table" then error("bad argument #1 to 'report_failures' (an extract result or a list of them expected)", 2) end
  if results.failed or results.paths then results = {results} end
  max_lines = max_lines or 20
  local failed, total = {}, 0
  for i, r in ipairs(results) do
    if type(r) ~= "table" or type(r.failed) ~= "table" or type(r.paths) ~= "table" then
      error(string.format("bad argument #1 to 'report_failures' (entry %d is not an extract result)", i), 2)
    end
    total = total + rawlen(r.paths) + rawlen(r.failed)
    for j = 1, rawlen(r.failed) do
      local f = rawget(r.failed, j)
      if type(f) ~= "table" or type(f.path) ~= "string" or type(f.error) ~= "string" then
        error(string.format("bad argument #1 to 'report_failures' (failed entry %d is not {path=, error=})", j), 2)
      end
      failed[#failed + 1] = f
    end
  end
  if #failed == 0 then return nil, 0, total end
  io.stderr:write(string.format("skipped %d of %d files that could not be read:\n", #failed, total))
  for i, f in ipairs(failed) do
    if i > max_lines then
      io.stderr:write(string.format("  ... and %d more (listed in the report)\n", #failed - max_lines))
      break
    end
    io.stderr:write("  ", f.error, "\n")
  end
  local loud = 2 * #failed > total
  if loud then
    io.stderr:write(string.format("WARNING: %d of %d files failed, more than half: this is almost always a wrong " ..
      "option or folder (rate, channel, preset, --audio), not bad data\n", #failed, total))
  end
  local md = {"## Skipped files", ""}
  if loud then
    md[#md + 1] = string.format("**More than half of the files (%d of %d) could not be read: check the options and the folder.**", #failed, total)
    md[#md + 1] = ""
  end
  md[#md + 1] = string.format("%d of %d files could not be read and were left out:", #failed, total)
  md[#md + 1] = ""
  for i, f in ipairs(failed) do
    if i > 200 then
      md[#md + 1] = string.format("- ... and %d more", #failed - 200)
      break
    end
    local why = f.error
    if why:sub(1, #f.path + 2) == f.path .. ": " then why = why:sub(#f.path + 3) end  -- the path is named once
    md[#md + 1] = string.format("- `%s`: %s", f.path, why)
  end
  return table.concat(md, "\n") .. "\n", #failed, total
end

for name, text in pairs({
  smoke = "gk.experiment.smoke() -> boolean\nTrue in the tests' reduced-size mode (GMMKIT_SMOKE=1).",
  options = "gk.experiment.options(arg, defaults[, usage]) -> table\nParses --name value options of a script against their defaults (types follow the defaults; lists are comma-separated); --help prints usage and exits 0; a usage error prints one line and the usage and exits 2.",
  mkdir = "gk.experiment.mkdir(path) -> path\nCreates a folder and its parents and checks that it can be written (an error names the folder).",
  setup = "gk.experiment.setup(arg, name, defaults[, usage]) -> options\nAn example's options as by options(), with out ($GMMKIT_OUT, else out/<name>) and plots (off in smoke mode) added when absent, and the output folder created and checked for writing before any heavy step.",
  compare = "gk.experiment.compare(f, k, methods[, {data=, data_name='data', out=, name=, seed=, title=, intro=, ise=false, what=, mixtures=, convergence=, plots=false, figures=, notes=, check=}]) -> {rows=, by=, reduced=, table=}\n" ..
    "Reduces f to k components (or to each of a list of targets) by every method, checks that lbfgs is no worse than gd, kmeans, topk, runnalls and minise (and calls check(by, k)), and prints the Markdown table: a row per method with NISE, ISE (ise=true), the mean log-likelihood of the matrix `data` and iterations and seconds; with a list of targets, a NISE column per target. " ..
    "notes(result) may return text, printed and written under the table. With out and name: the figures when plots is true (f against each method of `mixtures`, titled `what`, in <name>_<method>.png; figures(result); the convergence of gd, kmeans and lbfgs titled `convergence` in <name>_convergence.png) and <out>/<name>.md (heading `title`, then `intro`).",
  timed = "gk.experiment.timed(f, ...) -> results..., seconds\nCalls f and appends the wall-clock seconds it took.",
  reduce_all = "gk.experiment.reduce_all(f, k, methods[, opts]) -> rows\nReduces f to k components with every method; each row has method, model, info, nise, ise, seconds, iterations (or error).",
  markdown_table = "gk.experiment.markdown_table(rows, columns[, headers]) -> string\nA Markdown table of the given columns of rows.",
  write = "gk.experiment.write(path, text) -> path\nWrites a text file atomically by gk.core.write_file (temporary file, fsync, rename; only a regular file is replaced).",
  speech_folder = "gk.experiment.speech_folder(given, out[, script[, takes]]) -> folder, description\nThe speech folder of an example: `given`, or $GMMKIT_DATA/fsdd/recordings, or an espeak-ng corpus made in out/espeak-corpus.",
  fsdd_name = "gk.experiment.fsdd_name(path) -> speaker, digit, index\nThe parts of a Free Spoken Digit Dataset file name, or nil.",
  spread = "gk.experiment.spread(list, n) -> list\nAt most n items spread evenly over the list.",
  by_method = "gk.experiment.by_method(rows) -> table\nThe rows of reduce_all indexed by method; raises on a failed row.",
  check_best = "gk.experiment.check_best(by, best, others)\nRaises unless method `best` has a NISE no larger than each of `others`.",
  eer = "gk.experiment.eer(targets, nontargets) -> rate\nEqual error rate of a detector from its target and non-target score lists: gk.eval.eer's (ROC convex hull), the rate alone.",
  progress = "gk.experiment.progress(fmt, ...)\nA progress line on stderr.",
  report_failures = "gk.experiment.report_failures(results[, max_lines = 20]) -> markdown|nil, failed, total\nNames the files gk.features.extract skipped (one result or a list): each with its reason on stderr (at most max_lines, then a count), a warning when more than half failed, and a Markdown section for a report.",
}) do
  core.setdoc(experiment[name], text)
end

return experiment
