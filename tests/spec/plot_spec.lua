-- gk.plot: files that are real images, text output, and clear errors.
local gk = require "gmmkit"
local h = require "spec_helper"

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function png_size(bytes)
  -- PNG: 8-byte signature, then the IHDR chunk with width and height (big-endian).
  assert.are.equal("\137PNG\r\n\26\n", bytes:sub(1, 8))
  assert.are.equal("IHDR", bytes:sub(13, 16))
  return string.unpack(">I4I4", bytes, 17)
end

local function mixture()
  return gk.gmm.new{
    weights = {0.3, 0.7},
    means = {{0, 0}, {3, 1}},
    covariances = {{1, 0.5}, {0.3, 2}},
    covariance_type = "diag",
  }
end

describe("gk.plot", function()
  local gnuplot = select(2, h.run("command -v gnuplot"))
  if not gnuplot then
    it("needs gnuplot", function() print("skipped: gnuplot-nox is not installed") end)
    return
  end
  local dir = h.tmpdir()

  it("draws mixtures with their ellipses over data points as a PNG", function()
    local f = mixture()
    local X = gk.matrix.random(500, 2, {seed = 1})
    local path = dir .. "/mix.png"
    gk.plot.mixtures{mixtures = {f}, labels = {"f"}, points = X, file = path, title = "test"}
    local w, ht = png_size(read(path))
    assert.are.same({900, 650}, {w, ht})
    assert.is_true(#read(path) > 10000)
  end)

  it("writes SVG when the file name says so", function()
    local path = dir .. "/curves.svg"
    gk.plot.curves{series = {{label = "a", x = {1, 2, 3}, y = {1, 0.1, 0.01}}}, logy = true, file = path}
    local s = read(path)
    assert.truthy(s:find("<svg", 1, true))
  end)

  it("draws lines only with points = false (no point markers in the SVG)", function()
    local a, b = dir .. "/marked.svg", dir .. "/plain.svg"
    local series = {{label = "a", x = {1, 2, 3}, y = {3, 1, 2}}}
    gk.plot.curves{series = series, file = a}
    gk.plot.curves{series = series, file = b, points = false}
    assert.truthy(read(a):find("#gpPt6", 1, true))
    assert.falsy(read(b):find("#gpPt6", 1, true))
  end)

  it("draws on the terminal without a file", function()
    local out = h.run(string.format(
      "LUA_PATH_5_4='%s' LUA_CPATH_5_4='%s' lua5.4 -e 'local gk = require \"gmmkit\"; gk.plot.curves{series = {{x = {1, 2, 3}, y = {3, 1, 2}}}}'",
      os.getenv("LUA_PATH_5_4") or "", os.getenv("LUA_CPATH_5_4") or ""))
    assert.truthy(out:find("series 1", 1, true), out)
  end)

  it("draws an image of a matrix", function()
    local path = dir .. "/img.png"
    gk.plot.image(gk.matrix.random(50, 13, {seed = 2}), {file = path, title = "MFCC"})
    png_size(read(path))
  end)

  it("rejects unknown options with a suggestion, and bad dims", function()
    assert.has_error(function() gk.plot.curves{serie = {}} end,
      "bad argument #1 to 'curves' (unknown option 'serie' (did you mean 'series'?))")
    assert.has_error(function() gk.plot.mixtures{mixtures = {mixture()}, dims = {1, 3}} end,
      "bad argument #1 to 'mixtures' (option 'dims' {1, 3} does not fit mixture 1 of dimension 2)")
  end)

  it("names the Debian package when gnuplot is missing", function()
    local out, ok = h.run(string.format(
      "PATH=/nonexistent LUA_PATH_5_4='%s' LUA_CPATH_5_4='%s' /usr/bin/lua5.4 -e 'local gk = require \"gmmkit\"; gk.plot.curves{series = {{x = {1}, y = {1}}}}'",
      os.getenv("LUA_PATH_5_4") or "", os.getenv("LUA_CPATH_5_4") or ""))
    assert.is_falsy(ok)
    assert.truthy(out:find("gnuplot-nox", 1, true), out)
  end)

  it("has docs", function()
    for name, f in pairs(gk.plot) do assert.is_string(gk.doc(f), name) end
  end)
end)
