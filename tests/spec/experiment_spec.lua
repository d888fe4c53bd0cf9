-- gk.experiment: option parsing and tables, the pieces every example script uses.
local gk = require "gmmkit"

describe("gk.experiment.options", function()
  local defaults = {components = 64, out = "out", methods = {"lbfgs", "gd"}, full = false}
  it("keeps defaults and converts by the default's type", function()
    local o = gk.experiment.options({"--components", "8", "--methods=topk,runnalls", "--full"}, defaults)
    assert.are.equal(8, o.components)
    assert.are.same({"topk", "runnalls"}, o.methods)
    assert.is_true(o.full)
    assert.are.equal("out", o.out)
    assert.are.equal(64, defaults.components)
  end)
  it("accepts dashes for underscores", function()
    local o = gk.experiment.options({"--max-iter", "5"}, {max_iter = 100})
    assert.are.equal(5, o.max_iter)
  end)
  it("rejects unknown options with a suggestion and bad values with the option's name", function()
    assert.has_error(function() gk.experiment.options({"--component", "8"}, defaults) end,
      "unknown option --component (did you mean --components?)")
    assert.has_error(function() gk.experiment.options({"--components", "many"}, defaults) end,
      "option --components expects a number, got 'many'")
    assert.has_error(function() gk.experiment.options({"--out"}, defaults) end, "option --out needs a value")
    assert.has_error(function() gk.experiment.options({"stray"}, defaults) end,
      "unexpected argument 'stray' (options are --name value)")
  end)
end)

describe("gk.experiment.markdown_table", function()
  it("formats numbers compactly", function()
    local t = gk.experiment.markdown_table({{m = "gd", nise = 0.000012345, s = 1.5, n = 3}}, {"m", "nise", "s", "n"},
      {"method", "NISE", "seconds", "iterations"})
    assert.are.equal("| method | NISE | seconds | iterations |\n|---|---|---|---|\n| gd | 1.234e-05 | 1.5 | 3 |", t)
  end)
end)

describe("gk.experiment.timed", function()
  it("returns the results and the seconds", function()
    local a, b, s = gk.experiment.timed(function(x) return x, x + 1 end, 1)
    assert.are.same({1, 2}, {a, b})
    assert.is_true(s >= 0 and s < 1)
  end)
end)

describe("gk.experiment.eer", function()
  it("is 0 for separated scores and 0.5 for interleaved ones", function()
    assert.are.equal(0, gk.experiment.eer({5, 6, 7}, {1, 2, 3}))
    -- Targets {1, 3}, non-targets {2, 4}: at any threshold between 2 and 3 one target of two
    -- is missed and one non-target of two accepted: EER 1/2.
    assert.are.equal(0.5, gk.experiment.eer({1, 3}, {2, 4}))
    -- All scores inverted: every target below every non-target.
    -- On the ROC convex hull (gk.eval.eer, as BOSARIS) a detector worse than chance counts as
    -- chance: 0.5 (the crossing of the step curves would be 1).
    assert.are.equal(0.5, gk.experiment.eer({1, 2}, {3, 4}))
  end)
  it("matches the crossing of the miss and false-alarm rates", function()
    -- 4 targets, 4 non-targets, one of each on the wrong side: miss = fa = 1/4.
    assert.are.equal(0.25, gk.experiment.eer({0.5, 3, 4, 5}, {1, 2, 6, -1}))
  end)
end)

local H = require "spec_helper"
local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
local function exists(p)
  local f = io.open(p, "r")
  if f then f:close() end
  return f ~= nil
end

--- Runs the host with a shell-quoted argument list and an environment prefix; stdout and
--- stderr apart, and the exit code.
local function host(args, env)
  local err = os.tmpname()
  local cmd = {}
  for _, a in ipairs(args) do cmd[#cmd + 1] = q(a) end
  local f = assert(io.popen((env or "") .. " " .. q(H.host) .. " " .. table.concat(cmd, " ") .. " 2>" .. q(err)))
  local out = f:read("a")
  local _, _, code = f:close()
  local e = assert(io.open(err)):read("a")
  os.remove(err)
  return out, e, code
end

describe("gk.experiment.speech_folder", function()
  it("passes the output folder to the corpus script as one word, never as shell code", function()
    local dir = H.tmpdir()
    local mark = dir .. "/y"
    -- a stand-in for scripts/make-espeak-corpus that records the folder it was given
    os.execute("mkdir -p " .. q(dir .. "/src/scripts"))
    local f = assert(io.open(dir .. "/src/scripts/make-espeak-corpus", "w"))
    f:write('#!/bin/sh\nmkdir -p "$1" && printf %s "$1" > "$1/given" && printf %s "$TAKES" > "$1/takes"\n')
    f:close()
    os.execute("chmod +x " .. q(dir .. "/src/scripts/make-espeak-corpus"))
    local out = dir .. "/x'; touch " .. mark .. "; echo '"
    local _, err, code = host({"-e", "print(gk.experiment.speech_folder(nil, " .. string.format("%q", out) .. ", nil, 2))"},
      "env -u GMMKIT_DATA GMMKIT_SOURCE_DIR=" .. q(dir .. "/src"))
    assert.are.equal(0, code, err)
    assert.is_false(exists(mark), "the folder name ran a command")
    local given = io.open(out .. "/espeak-corpus/given")
    assert.is_not_nil(given, "the corpus script did not get the folder")
    assert.are.equal(out .. "/espeak-corpus", given:read("a"))
    given:close()
    assert.are.equal("2", assert(io.open(out .. "/espeak-corpus/takes")):read("a"))
    os.execute("rm -rf " .. q(dir))
  end)
end)

describe("gk.experiment.mkdir", function()
  it("reports a folder that cannot be made or written, naming it", function()
    assert.error_matches(function() gk.experiment.mkdir("/proc/gk-no-such/out") end,
      "cannot create the output folder /proc/gk-no-such/out", nil, true)
    assert.error_matches(function() gk.experiment.mkdir("/proc") end, "cannot write in the output folder /proc", nil, true)
    local dir = H.tmpdir()
    assert.are.equal(dir .. "/a b/c", gk.experiment.mkdir(dir .. "/a b/c"))
    local f = io.open(dir .. "/a b/c/t", "w")
    assert.is_not_nil(f)
    f:close()
    assert.are.equal("t\n", io.popen("ls -A " .. q(dir .. "/a b/c")):read("a"))  -- the probe file is gone
    os.execute("rm -rf " .. q(dir))
  end)
end)

describe("gk.experiment.write", function()
  it("replaces a regular file whole and refuses any other target", function()
    local dir = H.tmpdir()
    assert.are.equal(dir .. "/r.md", gk.experiment.write(dir .. "/r.md", "old"))
    gk.experiment.write(dir .. "/r.md", "# new\n")
    assert.are.equal("# new\n", assert(io.open(dir .. "/r.md")):read("a"))
    os.execute("ln -s /dev/null " .. q(dir .. "/null"))
    assert.error_matches(function() gk.experiment.write(dir .. "/null", "x") end, "not a regular file", nil, true)
    assert.error_matches(function() gk.experiment.write(dir .. "/no/such/r.md", "x") end, dir .. "/no/such/r.md", nil, true)
    assert.are.equal("null\nr.md\n", io.popen("ls -A " .. q(dir)):read("a"))  -- no temporary left behind
    os.execute("rm -rf " .. q(dir))
  end)
end)

describe("gk.experiment.setup and compare", function()
  it("set an example up and write its comparison", function()
    local dir = H.tmpdir()
    local opt = gk.experiment.setup({"--seed", "4"}, "demo", {seed = 1, out = dir .. "/out"}, "demo.lua")
    assert.are.equal(4, opt.seed)
    assert.are.equal(not gk.experiment.smoke(), opt.plots)
    assert.are.equal(dir .. "/out", opt.out)
    assert.has_error(function() gk.experiment.setup(nil, "a b", {}) end,
      "bad argument #2 to 'setup' (example name (letters, digits, _ and -) expected, got string)")
    local f = gk.gmm.new{weights = {0.3, 0.3, 0.4}, means = {{0}, {0.5}, {3}}, covariances = {{1}, {1}, {1}},
      covariance_type = "diag"}
    local X = f:sample(200, {seed = 1})
    local r = gk.experiment.compare(f, 2, {"runnalls", "lbfgs"}, {data = X, out = opt.out, name = "cmp", title = "T",
      notes = function(res) return "best: " .. (res.by.lbfgs.nise <= res.by.runnalls.nise and "lbfgs" or "?") end})
    assert.are.equal(2, #r.rows)
    assert.are.equal(X:rows() > 0 and r.rows[1].model:log_likelihood(X), r.rows[1].loglik)
    local md = assert(io.open(opt.out .. "/cmp.md")):read("a")
    assert.are.equal("# T\n\n" .. r.table .. "\n\nbest: lbfgs\n", md)
    assert.truthy(r.table:find("| method | NISE | mean log-lik of the data | iterations | seconds |", 1, true), r.table)
    local many = gk.experiment.compare(f, {2, 1}, {"runnalls"})
    assert.truthy(many.table:find("| method | NISE, K = 2 | NISE, K = 1 |", 1, true), many.table)
    assert.has_error(function() gk.experiment.compare(f, 2, {"topk"}, {outt = "x"}) end,
      "bad argument #4 to 'compare' (unknown option 'outt' (did you mean 'out'?))")
    os.execute("rm -rf " .. q(dir))
  end)
end)

describe("gk.experiment.report_failures", function()
  it("names each skipped file on stderr and in the report, loudly when most failed", function()
    local r = {paths = {"a.wav"}, failed = {{path = "b.wav", error = "b.wav: empty file (0 bytes)"},
      {path = "c.wav", error = "c.wav: not an audio file"}}}
    local md, n, total = gk.experiment.report_failures(r)
    assert.are.equal(2, n)
    assert.are.equal(3, total)
    assert.truthy(md:find("- `b.wav`: empty file (0 bytes)", 1, true), md)
    assert.truthy(md:find("- `c.wav`: not an audio file", 1, true), md)
    assert.truthy(md:find("More than half", 1, true), md)
    assert.is_nil((gk.experiment.report_failures({paths = {"a.wav"}, failed = {}})))
    -- stderr: one line per file up to the limit, then a count
    local failed = {}
    for i = 1, 30 do failed[i] = {path = i .. ".wav", error = i .. ".wav: bad"} end
    local code = "gk.experiment.report_failures({paths = {}, failed = " ..
      "(function() local t = {} for i = 1, 30 do t[i] = {path = i .. '.wav', error = i .. '.wav: bad'} end return t end)()})"
    local _, err = host({"-e", code})
    local lines = {}
    for l in err:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.are.equal("skipped 30 of 30 files that could not be read:", lines[1])
    assert.are.equal("  1.wav: bad", lines[2])
    assert.are.equal("  20.wav: bad", lines[21])
    assert.are.equal("  ... and 10 more (listed in the report)", lines[22])
    assert.truthy(lines[23]:find("^WARNING: 30 of 30 files failed, more than half"), err)
  end)
end)

describe("examples/speech_ubm.lua as a new user runs it", function()
  local script = H.source_dir .. "/examples/speech_ubm.lua"

  it("scripts/demo --help prints the usage and exits 0 without building; bad options exit 2", function()
    local demo = q(H.source_dir .. "/scripts/demo")
    local function sh(cmd)
      local f = io.popen(cmd .. " 2>&1")
      local out = f:read("a")
      local _, _, code = f:close()
      return out, code
    end
    -- PATH without cmake: a build would fail, so passing shows nothing was built
    local out, code = sh("env PATH=/usr/bin/nonexistent:/bin " .. demo .. " --help")
    assert.are.equal(0, code, out)
    assert.truthy(out:find("^usage: scripts/demo %[%-%-data DIR%]"), out)
    out, code = sh(demo .. " --bogus")
    assert.are.equal(2, code, out)
    assert.truthy(out:find("unknown option '--bogus'", 1, true) and out:find("usage:", 1, true), out)
    out, code = sh(demo .. " --data")
    assert.are.equal(2, code, out)
    assert.truthy(out:find("option --data needs a folder", 1, true), out)
    out, code = sh(demo .. " --out /proc/gk-demo")
    assert.are.equal(2, code, out)
    assert.truthy(out:find("cannot write in the output folder '/proc/gk-demo'", 1, true), out)
  end)

  it("prints a usage error in one line with the usage, no traceback, status 2", function()
    local out, err, code = host({script, "--compnents", "8"})
    assert.are.equal(2, code, err)
    assert.are.equal("", out)
    assert.truthy(err:find("^speech_ubm.lua: unknown option %-%-compnents %(did you mean %-%-components%?%)\n"), err)
    assert.truthy(err:find("options (defaults):", 1, true), err)
    assert.falsy(err:find("traceback", 1, true), err)
  end)

  it("reports an output folder it cannot write before any heavy step", function()
    local t0 = gk.seconds()
    local out, err, code = host({script, "--out", "/proc/gk-demo-out", "--audio", H.source_dir .. "/tests/data/mfcc"})
    assert.are.equal(1, code, err)
    assert.truthy(err:find("cannot create the output folder /proc/gk-demo-out", 1, true), err)
    assert.falsy(out:find("features:", 1, true), out)
    assert.is_true(gk.seconds() - t0 < 10)
  end)

  it("survives an empty WAV, a text file named .wav and a 44.1 kHz stereo file sorting first, and names them", function()
    local data = H.data_dir("a folder of spoken digits with three odd files")
    if not data then
      pending("GMMKIT_DATA is not set: the demo on a folder with bad files")
      return
    end
    local dir = H.tmpdir()
    local audio = dir .. "/audio"
    os.execute("mkdir -p " .. q(audio))
    local list = io.popen("ls " .. q(data .. "/fsdd/recordings") .. " | grep '_[0-4]\\.wav$' | head -60")
    for name in list:lines() do
      local src = assert(io.open(data .. "/fsdd/recordings/" .. name, "rb"))
      local dst = assert(io.open(audio .. "/" .. name, "wb"))
      dst:write(src:read("a"))
      src:close()
      dst:close()
    end
    list:close()
    -- 0.6 s of a tone at 44.1 kHz in two channels, 16-bit PCM, written byte by byte
    local rate, n, pcm = 44100, 26460, {}
    for i = 0, n - 1 do
      local v = math.floor(6000 * math.sin(2 * math.pi * 300 * i / rate))
      pcm[#pcm + 1] = string.pack("<i2i2", v, -v)
    end
    local body = table.concat(pcm)
    local f = assert(io.open(audio .. "/00_stereo.wav", "wb"))
    f:write("RIFF", string.pack("<I4", 36 + #body), "WAVEfmt ",
      string.pack("<I4I2I2I4I4I2I2", 16, 1, 2, rate, rate * 4, 4, 16), "data", string.pack("<I4", #body), body)
    f:close()
    assert(io.open(audio .. "/1_x_0.wav", "wb")):close()  -- empty, among the training files
    f = assert(io.open(audio .. "/2_y_0.wav", "w"))
    f:write("not a recording\n")
    f:close()
    local out, err, code = host({script, "--audio", audio, "--out", dir .. "/out", "--plots", "false"},
      "GMMKIT_SMOKE=1")
    assert.are.equal(0, code, err)
    assert.truthy(out:find("2 failed files, 1 resampled to 8000 Hz", 1, true), out)
    assert.truthy(err:find(audio .. "/1_x_0.wav: empty file", 1, true), err)
    assert.truthy(err:find(audio .. "/2_y_0.wav: not an audio file", 1, true), err)
    local report = assert(io.open(dir .. "/out/report.md")):read("a")
    assert.truthy(report:find("`" .. audio .. "/1_x_0.wav`", 1, true), report)
    assert.truthy(report:find("`" .. audio .. "/2_y_0.wav`", 1, true), report)
    assert.truthy(report:find("1 file was resampled to 8000 Hz", 1, true), report)
    assert.truthy(report:find("Which reduction to use", 1, true), report)
    -- the second EM run has its own heading
    assert.truthy(err:find("for comparison, a second EM run trained directly to 4 components", 1, true), err)
    os.execute("rm -rf " .. q(dir))
  end)
end)

describe("gk.experiment with hostile arguments", function()
  it("answers every wrong argument with a message naming it, never an error from inside experiment.lua", function()
    local liar = setmetatable({}, {__len = function() return 2^61 end, __index = function() return 1 end})
    local values = {false, true, 0, -1, 0.5, 0 / 0, math.huge, 2^53, "", "x\n'\"`", {}, {1, 2, 3}, {"a", "b"},
      {{1}, {1, 2}}, liar, setmetatable({}, {__len = function() return -1 end}), print, gk.matrix.new(2, 2)}
    local internal = {"attempt to", "table index is nil", "stack overflow", "to 'format'", "no integer representation",
      "invalid key to 'next'"}
    local skip = {mkdir = true, speech_folder = true, write = true, smoke = true}  -- file system: above
    local calls = 0
    for name, f in pairs(gk.experiment) do
      if type(f) == "function" and not skip[name] then
        for pos = 1, 3 do
          for _, v in ipairs(values) do
            local args = {{}, {}, {}}
            args[pos] = v
            local ok, err = pcall(f, args[1], args[2], args[3])
            calls = calls + 1
            if not ok then
              assert.is_string(err, name)
              for _, pat in ipairs(internal) do
                assert.falsy(err:find(pat, 1, true), string.format("%s, argument %d = %s: %s", name, pos, tostring(v), err))
              end
            end
          end
        end
      end
    end
    assert.is_true(calls > 500)
    assert.has_error(function() gk.experiment.eer({1, 0 / 0}, {2}) end,
      "bad argument #1 to 'eer' (entry 2 is a NaN, not a number)")
  end)
end)
