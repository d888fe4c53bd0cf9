-- The `gmmkit` host (src/host): options, `arg`, exit status and tracebacks of scripts,
-- Ctrl-C (SIGINT), and the read-eval-print loop driven through a pipe. The interactive
-- session on a terminal is checked by scripts/repl-check (tmux), run here when tmux is
-- installed. GMMKIT_HOST is the path of the built host (set by CTest).

local H = require "spec_helper"
local host = os.getenv("GMMKIT_HOST")
local source_dir = os.getenv("GMMKIT_SOURCE_DIR") or "."

local function q(s) -- shell quoting
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local tmp = os.tmpname()
os.remove(tmp)
assert(os.execute("mkdir -p " .. q(tmp)))
local function path(name) return tmp .. "/" .. name end

--- Runs a shell command line with stdin from `input` (or /dev/null); returns stdout,
--- stderr and the exit code.
local function sh(cmdline, input)
  local inf, errf = path("stdin.txt"), path("stderr.txt")
  H.write_file(inf, input or "")
  local p = assert(io.popen("(" .. cmdline .. ") <" .. q(inf) .. " 2>" .. q(errf), "r"))
  local out = p:read("a")
  local _, _, code = p:close()
  return out, H.read_file(errf, true) or "", code
end

--- Runs the host with the given arguments (each quoted).
local function run(args, input, env)
  local parts = {}
  for k, v in pairs(env or {}) do parts[#parts + 1] = k .. "=" .. q(v) end
  parts[#parts + 1] = q(host)
  for _, a in ipairs(args) do parts[#parts + 1] = q(a) end
  return sh("env " .. table.concat(parts, " "), input)
end

local function lines(s)
  local t = {}
  for l in s:gmatch("([^\n]*)\n") do t[#t + 1] = l end
  return t
end

describe("gmmkit host", function()
  setup(function()
    assert(host and host ~= "", "GMMKIT_HOST must name the built gmmkit executable")
    assert(io.open(host, "rb"), "no gmmkit executable at " .. tostring(host)):close()
  end)

  describe("scripts", function()
    it("see `arg` like lua.c: script at 0, arguments from 1, options below 0, and ...", function()
      local script = path("args.lua")
      H.write_file(script, [[
print(#arg, arg[0], arg[1], arg[2], arg[-1], arg[-2], arg[-3])
print(select("#", ...), ...)
]])
      local out, err, code = run({ "-e", "x=1", script, "a", "b c" })
      assert.are.equal(0, code, err)
      assert.are.same({
        table.concat({ "2", script, "a", "b c", "x=1", "-e", host }, "\t"),
        "2\ta\tb c",
      }, lines(out))
    end)

    it("have the globals gk (the gmmkit module) and help (= gk.help)", function()
      local script = path("globals.lua")
      H.write_file(script, 'print(gk == require("gmmkit"), help == gk.help, type(help), type(gk.matrix))\n')
      local out, err, code = run({ script })
      assert.are.equal(0, code, err)
      assert.are.equal("true\ttrue\tfunction\ttable\n", out)
    end)

    it("exit non-zero on an error, with 'gmmkit: ' and a traceback naming file:line", function()
      local script = path("fails.lua")
      H.write_file(script, [[
local function inner(t)
  return t.field -- line 2: t is nil
end
local x = inner(nil)
]])
      local out, err, code = run({ script })
      assert.are.equal("", out)
      assert.are_not.equal(0, code)
      assert.truthy(err:find("^gmmkit: " .. script:gsub("%p", "%%%0") .. ":2: attempt to index a nil value"), err)
      assert.truthy(err:find("stack traceback:", 1, true), err)
      assert.truthy(err:find(script .. ":2: in ", 1, true), err)
      assert.truthy(err:find(script .. ":4: in main chunk", 1, true), err)
    end)

    it("exit non-zero on a syntax error and on a missing file, naming the file", function()
      local script = path("syntax.lua")
      H.write_file(script, "local x = = 1\n")
      local _, err, code = run({ script })
      assert.are_not.equal(0, code)
      assert.truthy(err:find("^gmmkit: " .. script:gsub("%p", "%%%0") .. ":1: unexpected symbol"), err)
      _, err, code = run({ path("no_such_script.lua") })
      assert.are_not.equal(0, code)
      assert.truthy(err:find("cannot open " .. path("no_such_script.lua"), 1, true), err)
    end)

    it("report an error object that is not a string through __tostring, __name or its type", function()
      local _, err, code = run({ "-e", 'error(setmetatable({}, {__tostring = function() return "my error" end}))' })
      assert.are_not.equal(0, code)
      assert.truthy(err:find("^gmmkit: my error\nstack traceback:"), err)
      _, err = run({ "-e", 'error(setmetatable({}, {__name = "My.Type"}))' })
      assert.truthy(err:find("^gmmkit: %(error object is a My.Type value%)"), err)
      _, err = run({ "-e", "error({})" })
      assert.truthy(err:find("^gmmkit: %(error object is a table value%)"), err)
      _, err = run({ "-e", 'error(setmetatable({}, {__tostring = function() error("worse") end}))' })
      assert.truthy(err:find("^gmmkit: %(error object is a table value%)"), err)
    end)

    it("run from stdin with '-', and take a script named like an option after '--'", function()
      local out, err, code = run({ "-", "p", "q" }, 'print("stdin", arg[0], ...)\n')
      assert.are.equal(0, code, err)
      assert.are.equal("stdin\t-\tp\tq\n", out)
      local script = path("-e")
      H.write_file(script, 'print("dashed", arg[1])\n')
      local cwd_cmd = "cd " .. q(tmp) .. " && " .. q(host) .. " -- -e z"
      out, err, code = sh(cwd_cmd)
      assert.are.equal(0, code, err)
      assert.are.equal("dashed\tz\n", out)
    end)
  end)

  describe("options", function()
    it("-e runs statements in order, and stops at the first failing one", function()
      local out, err, code = run({ "-e", "x = 20", "-e", "print(x + 22)" })
      assert.are.equal(0, code, err)
      assert.are.equal("42\n", out)
      out, err, code = run({ "-e", "error('first')", "-e", "print('not reached')" })
      assert.are_not.equal(0, code)
      assert.are.equal("", out)
      assert.truthy(err:find("^gmmkit: %(command line%):1: first\nstack traceback:"), err)
    end)

    it("-v prints 'gmmkit <gk.version> (Lua 5.4.x)', the version of CMakeLists.txt", function()
      local out, err, code = run({ "-v" })
      assert.are.equal(0, code, err)
      local version, lua = out:match("^gmmkit (%S+) %((Lua 5%.4%.%d+)%)\n$")
      assert.truthy(version, out)
      local cm = H.read_file(source_dir .. "/CMakeLists.txt")
      assert.are.equal(cm:match("project%(gmmkit VERSION ([%d.]+)"), version)
      local gkv = run({ "-e", "io.write(gk.version)" })
      assert.are.equal(gkv, version)
      assert.are.equal(_VERSION, lua:match("^Lua 5%.4"))
    end)

    it("-v with -e prints the version first and runs the statement, without a session", function()
      local out, err, code = run({ "-v", "-e", "print('ran')" }, "print('not read')\n")
      assert.are.equal(0, code, err)
      assert.truthy(out:find("^gmmkit %S+ %(Lua 5%.4%.%d+%)\nran\n$"), out)
    end)

    it("--help prints the usage and exits 0", function()
      local out, err, code = run({ "--help" })
      assert.are.equal(0, code, err)
      assert.truthy(out:find("^usage: gmmkit %[options%] %[script %[args%]%]"), out)
      for _, opt in ipairs({ "-e stat", "-i ", "-l mod", "-v ", "--help", "--  ", "-  " }) do
        assert.truthy(out:find("\n  " .. opt, 1, true), opt)
      end
    end)

    it("rejects a bad option or a missing argument with the usage and a non-zero exit", function()
      for _, case in ipairs({
        { { "-x" }, "unrecognized option '-x'" },
        { { "-vx" }, "unrecognized option '-vx'" },
        { { "--bad" }, "unrecognized option '--bad'" },
        { { "-e" }, "'-e' needs argument" },
        { { "-l" }, "'-l' needs argument" },
      }) do
        local out, err, code = run(case[1])
        assert.are_not.equal(0, code)
        assert.are.equal("", out)
        assert.truthy(err:find("^gmmkit: " .. case[2]:gsub("%p", "%%%0") .. "\nusage: gmmkit"), err)
      end
    end)

    it("-l requires a module into a global, -W turns warnings on", function()
      local out, err, code = run({ "-l", "S=string", "-e", "print(S == string)" })
      assert.are.equal(0, code, err)
      assert.are.equal("true\n", out)
      out, err, code = run({ "-W", "-e", "warn('careful')" })
      assert.are.equal(0, code, err)
      assert.truthy(err:find("Lua warning: careful", 1, true), err)
    end)

    it("-E ignores LUA_PATH_5_4", function()
      H.write_file(path("hostspec_mod.lua"), "return 'found'\n")
      local env = { LUA_PATH_5_4 = tmp .. "/?.lua" }
      local out, err, code = run({ "-e", "print((require 'hostspec_mod'))" }, nil, env)
      assert.are.equal(0, code, err)
      assert.are.equal("found\n", out)
      out, err, code = run({ "-E", "-e", "print(pcall(require, 'hostspec_mod'))" }, nil, env)
      assert.are.equal(0, code, err)
      assert.truthy(out:find("^false\t"), out)
    end)

    it("-i runs the session after the script, which sees the script's globals", function()
      local script = path("setvar.lua")
      H.write_file(script, "answer = 42\n")
      local out, err, code = run({ "-i", script }, "answer\n")
      assert.are.equal(0, code, err)
      assert.are.equal("42\n", out)
    end)
  end)

  describe("Ctrl-C (SIGINT)", function()
    -- Starts the host in the background, waits until the chunk says it has started,
    -- sends SIGINT, and returns stdout, stderr and the exit code.
    local function interrupt(args, input)
      local mark, inf = path("started"), path("bg_stdin.txt")
      os.remove(mark)
      H.write_file(inf, input or "") -- a background job's stdin would be /dev/null
      local cmd = {}
      for _, a in ipairs(args) do cmd[#cmd + 1] = q(a) end
      local line = "env MARK=" .. q(mark) .. " " .. q(host) .. " " .. table.concat(cmd, " ") ..
          " <" .. q(inf) .. " & pid=$!; n=0; while [ ! -e " .. q(mark) .. " ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n+1)); done; " ..
          "sleep 0.2; kill -INT $pid; wait $pid"
      return sh(line)
    end
    local started = "io.open(os.getenv('MARK'), 'w'):close() "

    it("stops a running script with 'interrupted!' and a non-zero exit", function()
      local script = path("loop.lua")
      H.write_file(script, started .. "\nwhile true do end\n")
      local _, err, code = interrupt({ script })
      assert.are_not.equal(0, code)
      assert.truthy(err:find("^gmmkit: interrupted!\nstack traceback:"), err)
      assert.truthy(err:find(script .. ":2: in main chunk", 1, true), err)
    end)

    it("ends a script with status 130 (128 + SIGINT), as a shell reports a command killed by Ctrl-C", function()
      local script = path("loop130.lua")
      H.write_file(script, started .. "\nwhile true do end\n")
      local _, err, code = interrupt({ script })
      assert.are.equal(130, code, err)
      -- a script that fails on its own still ends with 1
      H.write_file(script, "error('no')\n")
      _, err, code = run({ script })
      assert.are.equal(1, code, err)
    end)

    it("says 'interrupted' for an extraction stopped by Ctrl-C, blaming no file", function()
      local wav = source_dir .. "/tests/data/mfcc/chirp8k.wav"
      local script = path("extract_int.lua")
      H.write_file(script, "local files = {} for i = 1, 400000 do files[i] = " .. string.format("%q", wav) .. " end\n" ..
        started .. "\ngk.features.extract(files, {preset = 'paper', progress = false})\n")
      local _, err, code = interrupt({ script })
      assert.are.equal(130, code, err)
      assert.truthy(err:find("^gmmkit: [^\n]*interrupted"), err)
      assert.falsy(err:find("chirp8k", 1, true), err)
      assert.falsy(err:find("MFCC computation", 1, true), err)
    end)

    it("raises gmmkit's interrupt flag for C loops, cleared before the next chunk", function()
      local out, err, code = interrupt({
        "-e", started .. "print(pcall(function() while true do end end)) print(gk.core.interrupted())",
        "-e", "print(gk.core.interrupted())" })
      assert.are.equal(0, code, err)
      assert.are.equal("false\tinterrupted!\ntrue\nfalse\n", out)
    end)

    it("stops a long C loop (EM training) that polls the flag, and the session goes on", function()
      local probe = run({ "-e", "io.write(tostring(type(gk.gmm) == 'table' and type(gk.gmm.train) == 'function'))" })
      if probe ~= "true" then
        io.stderr:write("skipped (gk.gmm.train is not built): Ctrl-C during a C loop\n")
        return
      end
      -- 100000 EM iterations would take most of an hour: stopping within the time limit
      -- shows the C loop saw the flag, and the progress lines that it was running.
      local input = "X = gk.matrix.random(20000, 10, {seed = 1, dtype = 'float32'}) T0 = gk.seconds() " ..
          started .. "gk.gmm.train(X, {components = 16, max_iter = 100000, tol = 0, init = 'random', " ..
          "seed = 1, progress = true})\n" ..
          "print('next', gk.seconds() - T0 < 30, gk.core.interrupted())\n"
      local out, err = interrupt({}, input)
      assert.truthy(err:find("gmm.train: iteration 1:", 1, true), err)
      -- The EM loop is Lua over C steps: Ctrl-C lands in a step (the C loop's "interrupted",
      -- at the caller's line) or between two (the host's hook, "interrupted!").
      assert.truthy(err:find("\nstdin:1: interrupted\n", 1, true) or err:find("\ninterrupted!\n", 1, true), err)
      assert.are.equal("next\ttrue\tfalse\n", out)
    end)

    it("is not swallowed by a pcall around the interrupted C function", function()
      local probe = run({ "-e", "io.write(tostring(type(gk.gmm) == 'table' and type(gk.gmm.train) == 'function'))" })
      if probe ~= "true" then
        io.stderr:write("skipped (gk.gmm.train is not built): pcall around an interrupted C loop\n")
        return
      end
      local script = path("em_pcall.lua")
      H.write_file(script, "local X = gk.matrix.random(20000, 10, {seed = 1, dtype = 'float32'})\n" .. started ..
          "\nlocal ok = pcall(gk.gmm.train, X, {components = 16, max_iter = 100000, tol = 0, init = 'random', seed = 1})" ..
          "\nprint('after pcall', ok)\n")
      local out, err, code = interrupt({ script })
      assert.are_not.equal(0, code)
      assert.are.equal("", out)
      assert.truthy(err:find("^gmmkit: interrupted!\nstack traceback:"), err)
      assert.truthy(err:find(script .. ":4: in main chunk", 1, true), err)
    end)

    it("returns a piped session to the next input", function()
      local out, err = interrupt({}, started .. "while true do end\nprint('next input')\n")
      assert.truthy(err:find("^interrupted!\nstack traceback:"), err)
      assert.are.equal("next input\n", out)
    end)
  end)

  describe("read-eval-print loop through a pipe", function()
    it("prints the values of an expression without `return`, and no prompt", function()
      local out, err, code = run({}, "1 + 2\n'a', nil, 3\n=2^10\nlocal x = 5\n")
      assert.are.equal(0, code, err)
      assert.are.equal("3\na\tnil\t3\n1024.0\n", out)
    end)

    it("prints gmmkit objects through tostring", function()
      local out, err, code = run({}, "m = gk.matrix.new(2, 3, 1.5)\nm\ndo io.write('<', tostring(m), '>\\n') end\n")
      assert.are.equal(0, code, err)
      local printed, written = out:match("^(.-)\n<(.*)>\n$")
      assert.truthy(printed, out)
      assert.are.equal(written, printed)
      assert.truthy(printed:find("2", 1, true) and printed:find("3", 1, true), printed)
    end)

    it("reads a multi-line function definition, then calls it", function()
      local out, err, code = run({}, "function sq(x)\n  local y = x * x\n  return y\nend\nsq(12)\nt = {\n  1,\n  2,\n}\n#t\n")
      assert.are.equal(0, code, err)
      assert.are.equal("144\n2\n", out)
    end)

    it("goes on after an error, printing it with a traceback, and exits non-zero", function()
      local input = "local function bad() error('boom') end bad()\nprint('after')\nx = = 1\nprint('again')\n"
      local out, err, code = run({}, input)
      assert.are.equal("after\nagain\n", out)
      assert.are_not.equal(0, code)
      assert.truthy(err:find("^stdin:1: boom\nstack traceback:\n"), err)
      assert.truthy(err:find("stdin:1: in local 'bad'", 1, true) or err:find("stdin:1: in upvalue 'bad'", 1, true), err)
      assert.truthy(err:find("\nstdin:1: unexpected symbol near '='", 1, true), err)
    end)

    it("reports an error object that is not a string, and a failing print", function()
      local input = "error(setmetatable({}, {__tostring = function() return 'custom' end}))\n" ..
          "error({})\n" ..
          "setmetatable({}, {__tostring = function() error('no text') end})\n" ..
          "print('still here')\n"
      local out, err, code = run({}, input)
      assert.are.equal("still here\n", out)
      assert.are_not.equal(0, code)
      assert.truthy(err:find("^custom\nstack traceback:"), err)
      assert.truthy(err:find("\n%(error object is a table value%)\nstack traceback:"), err)
      assert.truthy(err:find("\nerror calling 'print' %(stdin:1: no text"), err)
    end)

    it("reports a statement left unfinished at the end of input", function()
      local out, err, code = run({}, "print('one')\nfunction f()\n  return 1\n")
      assert.are.equal("one\n", out)
      assert.are_not.equal(0, code)
      assert.truthy(err:find("'end' expected", 1, true) and err:find("<eof>", 1, true), err)
    end)

    it("has help() print the doc of a gmmkit function", function()
      local out, err, code = run({}, "help(gk.matrix.new)\ndo io.write(gk.helptext(gk.matrix.new), '\\n') end\n")
      assert.are.equal(0, code, err)
      local half = #out // 2
      assert.are.equal(out:sub(1, half), out:sub(half + 1))
      assert.truthy(out:find("new", 1, true), out)
    end)

    it("help() lists every module, the C ones and the pure-Lua ones in lua/gmmkit/", function()
      local out, err, code = run({}, "help()\n")
      assert.are.equal(0, code, err)
      local listed = {}
      for name in out:gmatch("\n  gk%.([%w_]+)") do listed[name] = true end
      for _, name in ipairs({"matrix", "audio", "mfcc", "features", "gmm", "simplify", "plot", "experiment"}) do
        assert.truthy(listed[name], name .. " missing from help():\n" .. out)
      end
      -- every module in lua/gmmkit/ but init (gk itself), training, selection and datadir
      -- (installed as gk.gmm.train, gk.gmm.selector and gk.kaldi.data_dir, not modules of gk)
      local internal = {init = true, training = true, selection = true, datadir = true}
      local files = io.popen("ls " .. q(source_dir .. "/lua/gmmkit"))
      for f in files:lines() do
        local name = f:match("^(.-)%.lua$")
        if name and not internal[name] then assert.truthy(listed[name], name .. " missing from help():\n" .. out) end
      end
      files:close()
    end)

    it("help(object) lists the object's methods with their signatures", function()
      local out, err, code = run({}, "g = gk.gmm.new{weights = {1}, means = {{0}}, covariances = {{1}}}\nhelp(g)\n" ..
        "help(gk.audio.signal({0, 0}, 8000))\nhelp(gk.matrix.new(1, 1))\n")
      assert.are.equal(0, code, err)
      assert.truthy(out:find("Methods:\n", 1, true), out)
      for _, sig in ipairs({"  g:log_likelihood(X[, {selector=, search=1, top=5}]) -> number", "  g:map_adapt(X[", "  g:save(path)",
        "  s:duration() -> seconds", "  s:slice(", "  m:rows("}) do
        assert.truthy(out:find(sig, 1, true), sig .. " missing:\n" .. out)
      end
    end)

    it("help(module) shows whole signatures, also those wrapped over lines", function()
      local out, err, code = run({}, "help(gk.plot)\n")
      assert.are.equal(0, code, err)
      for line in out:gmatch("[^\n]+") do
        local opened, closed = select(2, line:gsub("[%(%[{]", "")), select(2, line:gsub("[%)%]}]", ""))
        assert.are.equal(opened, closed, "a signature cut short: " .. line)
      end
      assert.truthy(out:find("file =, title =, points = true}", 1, true), out)
    end)

    it("exits 0 at end of input, and writes no history file", function()
      local hist = path("history")
      local out, err, code = run({}, "x = 1\nx\n", { GMMKIT_HISTORY = hist })
      assert.are.equal(0, code, err)
      assert.are.equal("1\n", out)
      assert.is_nil(io.open(hist, "r"))
    end)
  end)

  local has_tmux = os.execute("command -v tmux >/dev/null 2>&1")
  if has_tmux then
    it("drives an interactive session in tmux (scripts/repl-check)", function()
      local out, err, code = sh(q(source_dir .. "/scripts/repl-check") .. " " .. q(host))
      assert.are.equal(0, code, out .. err)
      assert.truthy(out:find("repl-check: all checks passed", 1, true), out .. err)
    end)
  else
    io.stderr:write("skipped (tmux is not installed): the interactive session check scripts/repl-check\n")
    pending("drives an interactive session in tmux (scripts/repl-check): tmux is not installed")
  end

  teardown(function()
    os.execute("rm -rf " .. q(tmp))
  end)
end)
