-- gk.matrix: the Lua API, NumPy interoperability (NumPy itself as the reference), bad
-- .npy files, option tables, and the module's behaviour in a stock lua5.4.
local gk = require "gmmkit"
local h = require "spec_helper"

local PY = "/usr/bin/python3"
local function have_numpy()
  local _, ok = h.run(PY .. " -c 'import numpy'")
  return ok
end

local function tmp(name)
  return os.tmpname() .. "_" .. name
end

describe("gk.matrix", function()
  it("builds, reads and writes elements 1-based", function()
    local m = gk.matrix.new(2, 3, 1.5)
    assert.are.equal(2, m:rows())
    assert.are.equal(3, m:cols())
    assert.are.equal(2, #m)
    assert.are.equal("float64", m:dtype())
    assert.are.equal(1.5, m:get(2, 3))
    m:set(2, 3, -4)
    assert.are.same({{1.5, 1.5, 1.5}, {1.5, 1.5, -4}}, m:to_table())
    local f = gk.matrix.new(1, 1, 0.1, "float32")
    assert.are.equal("float32", f:dtype())
    assert.are.equal(string.unpack("f", string.pack("f", 0.1)), f:get(1, 1))
  end)

  it("converts from tables of rows and flat tables", function()
    local m = gk.matrix.from_table({{1, 2}, {3, 4}, {5, 6}})
    assert.are.same({3, 2}, {m:shape()})
    local c = gk.matrix.from_table({1, 2, 3})
    assert.are.same({3, 1}, {c:shape()})
    assert.are.same({{1}, {2}, {3}}, c:to_table())
    assert.has_error(function() gk.matrix.from_table({{1, 2}, {3}}) end,
      "bad argument #1 to 'from_table' (row 2 has 1 elements, row 1 has 2)")
    assert.has_error(function() gk.matrix.from_table({{1, "x"}}) end,
      "bad argument #1 to 'from_table' (element [1][2] is a string, not a number)")
  end)

  it("selects rows and columns by index list and by mask", function()
    local m = gk.matrix.from_table({{1, 2, 3}, {4, 5, 6}, {7, 8, 9}})
    assert.are.same({{7, 8, 9}, {1, 2, 3}, {7, 8, 9}}, m:select_rows({3, 1, 3}):to_table())
    assert.are.same({{4, 5, 6}}, m:select_rows({false, true, false}):to_table())
    assert.are.same({{3, 1}, {6, 4}, {9, 7}}, m:select_cols({3, 1}):to_table())
    assert.are.same({0, 3}, {m:select_rows({false, false, false}):shape()})
    assert.has_error(function() m:select_rows({4}) end,
      "bad argument #1 to 'select_rows' (row index 4 out of range 1..3)")
    assert.has_error(function() m:select_rows({true, false}) end,
      "bad argument #1 to 'select_rows' (mask has 2 entries, the matrix has 3 rows)")
  end)

  it("stacks, promoting float32 to float64 only when a part is float64", function()
    local a = gk.matrix.new(1, 2, 1, "float32")
    local b = gk.matrix.new(2, 2, 2, "float32")
    local v = gk.matrix.vstack({a, b})
    assert.are.same({3, 2}, {v:shape()})
    assert.are.equal("float32", v:dtype())
    local w = gk.matrix.hstack({b, gk.matrix.new(2, 1, 3)})
    assert.are.equal("float64", w:dtype())
    assert.are.same({{2, 2, 3}, {2, 2, 3}}, w:to_table())
    assert.has_error(function() gk.matrix.vstack({a, gk.matrix.new(1, 3)}) end,
      "bad argument #1 to 'vstack' (matrix 2 has 3 columns, matrix 1 has 2)")
  end)

  it("computes per-column mean and variance without cancellation", function()
    -- {1, 2, 3, 4} + 1e9: mean 2.5 + 1e9, population variance 1.25 (closed form).
    local m = gk.matrix.from_table({{1e9 + 1, 1}, {1e9 + 2, 2}, {1e9 + 3, 3}, {1e9 + 4, 4}})
    local mean, var = m:mean(), m:var()
    assert.are.equal(1e9 + 2.5, mean:get(1, 1))
    assert.is_true(math.abs(var:get(1, 1) - 1.25) < 1e-6)
    assert.are.equal(1.25, var:get(1, 2))
    assert.is_true(math.abs(m:var(1):get(1, 2) - 5 / 3) < 1e-15)
  end)

  it("draws seeded random matrices, the same for the same seed", function()
    local a = gk.matrix.random(100, 3, {seed = 7})
    local b = gk.matrix.random(100, 3, {seed = 7})
    local c = gk.matrix.random(100, 3, {seed = 8, dist = "uniform", dtype = "float32"})
    assert.are.same(a:to_table(), b:to_table())
    assert.are.equal("float32", c:dtype())
    for i = 1, 100 do assert.is_true(c:get(i, 1) >= 0 and c:get(i, 1) < 1) end
  end)

  it("rejects option typos with a suggestion, and bad values with the option's name", function()
    assert.has_error(function() gk.matrix.random(2, 2, {sed = 1}) end,
      "bad argument #3 to 'random' (unknown option 'sed' (did you mean 'seed'?))")
    assert.has_error(function() gk.matrix.random(2, 2, {dist = "normall"}) end,
      "bad argument #3 to 'random' (option 'dist' 'normall' is unknown (did you mean 'normal'?))")
    assert.has_error(function() gk.matrix.random(2, 2, {seed = 1.5}) end,
      "bad argument #3 to 'random' (option 'seed' must be an integer, got 1.5)")
    assert.has_error(function() gk.matrix.random(2, 2, {colour = 1}) end,
      "bad argument #3 to 'random' (unknown option 'colour' (valid options: seed, dist, dtype))")
  end)

  it("gives clear errors for bad arguments", function()
    local m = gk.matrix.new(2, 2)
    assert.has_error(function() gk.matrix.new(-1, 2) end, "bad argument #1 to 'new' (rows must be >= 0, got -1)")
    assert.has_error(function() m:get(3, 1) end, "bad argument #1 to 'get' (row index 3 out of range 1..2)")
    assert.has_error(function() m:set(1, 1, "x") end)
    assert.has_error(function() gk.matrix.new(2, 2, 0, "int8") end)
    assert.has_error(function() gk.matrix.new(1e9, 1e9) end)
    assert.has_error(function() m.get({}, 1, 1) end)
  end)

  it("shows shape, type and corner values in tostring", function()
    local s = tostring(gk.matrix.new(100, 50, 2.5, "float32"))
    assert.truthy(s:find("Matrix 100 x 50 float32", 1, true))
    assert.truthy(s:find("2.5", 1, true))
    assert.truthy(s:find("...", 1, true))
    assert.is_true(#s < 1000)
  end)

  it("has a doc text for every function and method", function()
    for name, f in pairs(gk.matrix) do
      assert.is_string(gk.doc(f), name)
    end
    local text = gk.helptext(gk.matrix.new(1, 1))
    assert.truthy(text:find("row-major", 1, true), text)
    assert.truthy(gk.helptext("gk.matrix.load"):find(".npy", 1, true))
  end)
end)

describe("gk.matrix and NumPy", function()
  it("loads what NumPy writes and NumPy loads what gmmkit writes", function()
    if not have_numpy() then
      print("skipped: python3-numpy is not installed")
      return
    end
    local dir = h.tmpdir()
    local script = [[
import numpy as np, sys
d = sys.argv[1]
r = np.random.default_rng(5)
np.save(d + '/f64.npy', r.standard_normal((7, 5)))
np.save(d + '/f32.npy', r.standard_normal((4, 3)).astype(np.float32))
np.save(d + '/vec.npy', np.arange(6, dtype=np.float64))
np.save(d + '/big.npy', np.arange(6, dtype='>f8').reshape(2, 3))
np.save(d + '/empty.npy', np.zeros((0, 4)))
np.lib.format.write_array(open(d + '/v2.npy', 'wb'), np.ones((2, 2)), version=(2, 0))
for n in ['f64', 'f32', 'vec', 'big', 'empty', 'v2']:
    a = np.load(d + '/' + n + '.npy')
    with open(d + '/' + n + '.txt', 'w') as f:
        f.write(' '.join(repr(float(x)) for x in a.ravel()))
]]
    local _, ok = h.run(PY .. " -c \"" .. script:gsub('"', '\\"') .. "\" " .. dir)
    assert.is_true(ok)
    for _, n in ipairs({"f64", "f32", "vec", "big", "empty", "v2"}) do
      local m = gk.matrix.load(dir .. "/" .. n .. ".npy")
      local expected = {}
      for x in io.open(dir .. "/" .. n .. ".txt"):read("a"):gmatch("%S+") do expected[#expected + 1] = tonumber(x) end
      local got = {}
      for _, row in ipairs(m:to_table()) do for _, x in ipairs(row) do got[#got + 1] = x end end
      assert.are.same(expected, got, n)
    end
    assert.are.equal("float32", gk.matrix.load(dir .. "/f32.npy"):dtype())
    assert.are.same({6, 1}, {gk.matrix.load(dir .. "/vec.npy"):shape()})

    -- gmmkit writes, NumPy reads and prints shape, dtype and the sum of squares.
    local m = gk.matrix.random(9, 4, {seed = 3, dtype = "float32"})
    m:save(dir .. "/ours.npy")
    local out = h.run(PY .. " -c \"import numpy as np; a = np.load('" .. dir ..
      "/ours.npy'); print(a.shape[0], a.shape[1], a.dtype, repr(float(a[8, 3])))\"")
    local r, c, dt, last = out:match("(%d+) (%d+) (%S+) (%S+)")
    assert.are.same({"9", "4", "float32"}, {r, c, dt})
    assert.are.equal(m:get(9, 4), tonumber(last))
    os.execute("rm -rf '" .. dir .. "'")
  end)
end)

describe("bad .npy files", function()
  local function write(path, bytes)
    local f = assert(io.open(path, "wb"))
    f:write(bytes)
    f:close()
  end
  local function npy(dict, data)
    local total = math.ceil((10 + #dict + 1) / 64) * 64
    local header = dict .. string.rep(" ", total - 10 - #dict - 1) .. "\n"
    return "\x93NUMPY\1\0" .. string.pack("<I2", #header) .. header .. (data or "")
  end
  local good = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }"
  local cases = {
    {"empty file", "", "truncated"},
    {"text file", "hello, world\n", "bad magic"},
    {"bad version", "\x93NUMPY\7\0\10\0{}        \n", "version 7.0"},
    {"truncated data", npy(good, string.rep("\0", 20)), "truncated"},
    {"int32", npy("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 2), }", string.rep("\0", 16)), "'<i4'"},
    {"Fortran order", npy("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }", string.rep("\0", 32)), "Fortran"},
    {"3-D", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2, 2), }", string.rep("\0", 32)), "3-dimensional"},
    {"absurd shape", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4000000000, 4000000000), }"), "limit"},
    {"shape larger than the file", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (100000, 1000), }", "x"), "truncated"},
    {"not a dict", npy("[1, 2]"), "not a Python dict"},
  }
  for _, case in ipairs(cases) do
    it("reports " .. case[1] .. " with the file name and the reason", function()
      local path = tmp("bad.npy")
      write(path, case[2])
      local ok, err = pcall(gk.matrix.load, path)
      os.remove(path)
      assert.is_false(ok)
      assert.truthy(err:find(path, 1, true), err)
      assert.truthy(err:find(case[3], 1, true), err)
    end)
  end
  it("reports a missing file and a folder", function()
    local ok, err = pcall(gk.matrix.load, "/nonexistent/x.npy")
    assert.is_false(ok)
    assert.truthy(err:find("/nonexistent/x.npy: cannot open", 1, true))
    ok, err = pcall(gk.matrix.load, "/tmp")
    assert.is_false(ok)
    assert.truthy(err:find("/tmp", 1, true))
  end)
  it("keeps the previous file when a save cannot complete", function()
    local ok, err = pcall(function() gk.matrix.new(1, 1):save("/nonexistent/dir/x.npy") end)
    assert.is_false(ok)
    assert.truthy(err:find("/nonexistent/dir/x.npy", 1, true))
  end)
end)

describe("gmmkit in a stock lua5.4", function()
  local lua = "lua5.4"
  it("loads with LUA_PATH_5_4 and LUA_CPATH_5_4 pointing into the tree", function()
    local env = string.format("LUA_PATH_5_4='%s/lua/?.lua;%s/lua/?/init.lua;;' LUA_CPATH_5_4='%s/lib/?.so;;' ",
      h.source_dir, h.source_dir, h.build_dir)
    local preload = os.getenv("GK_ASAN_PRELOAD")
    if preload then env = env .. "LD_PRELOAD=" .. preload .. " " end
    local out, ok = h.run(env .. lua .. " -e 'local gk = require \"gmmkit\"; print(gk.version, gk.matrix.new(2, 3):cols())'")
    assert.is_true(ok, out)
    assert.truthy(out:match("^%d+%.%d+%.%d+\t3"), out)
  end)

  it("writes no global when loaded and used", function()
    local env = string.format("LUA_PATH_5_4='%s/lua/?.lua;%s/lua/?/init.lua;;' LUA_CPATH_5_4='%s/lib/?.so;;' ",
      h.source_dir, h.source_dir, h.build_dir)
    local preload = os.getenv("GK_ASAN_PRELOAD")
    if preload then env = env .. "LD_PRELOAD=" .. preload .. " " end
    local code = [[
local before = {}
for k in pairs(_G) do before[k] = true end
local gk = require "gmmkit"
for name, mod in pairs(gk.core.modules) do
  for fname in pairs(mod) do local _ = gk[name][fname] end
end
pcall(gk.matrix.random, 2, 2, {seed = 1})
local _ = gk.helptext(gk.matrix)
for k in pairs(_G) do if not before[k] then print("global:", k) end end
print("done")
]]
    local path = os.tmpname() .. ".lua"
    local f = assert(io.open(path, "w"))
    f:write(code)
    f:close()
    local out, ok = h.run(env .. lua .. " " .. path)
    os.remove(path)
    assert.is_true(ok, out)
    assert.are.equal("done\n", out)
  end)
end)
