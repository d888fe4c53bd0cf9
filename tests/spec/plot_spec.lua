-- gk.plot: files that are real images, text output, and clear errors.
local gk = require "gmmkit"

-- Strings that would run `touch mark` if they reached gnuplot unescaped: a new line, a
-- closed double or single quote, a backquote, a continued line, a CR LF.
local function injections(mark)
  return {
    't\nsystem "touch ' .. mark .. '"',
    't" ; system "touch ' .. mark .. '" ; "',
    "t' ; system 'touch " .. mark .. "' ; '",
    't `touch ' .. mark .. '`',
    't\\\nsystem "touch ' .. mark .. '"',
    't\r\nsystem "touch ' .. mark .. '"',
  }
end

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
    pending("gk.plot draws through gnuplot: install the Debian package gnuplot-nox")
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

  it("words option errors as the C bindings do", function()
    assert.has_error(function() gk.plot.em({history = {1}}, {zzz = 1}) end,
      "bad argument #2 to 'em' (unknown option 'zzz' (valid options: file, title, label, size))")
    assert.has_error(function() gk.plot.curves{series = {}, [1] = true} end,
      "bad argument #1 to 'curves' (option names must be strings, got a number key)")
  end)

  it("gives an error raised while drawing one position, the caller's", function()
    local ok, err = pcall(function() gk.plot.mixtures{mixtures = {mixture()}, contours = false, ellipses = false} end)
    assert.is_false(ok)
    local _, positions = err:gsub("plot_spec%.lua:%d+: ", "")
    assert.are.equal(1, positions, err)
    assert.truthy(err:find("^[^\n]*plot_spec%.lua:%d+: bad argument #1 to 'mixtures' %(nothing to draw"), err)
  end)

  it("names the Debian package when gnuplot is missing", function()
    local out, ok = h.run(string.format(
      "PATH=/nonexistent LUA_PATH_5_4='%s' LUA_CPATH_5_4='%s' /usr/bin/lua5.4 -e 'local gk = require \"gmmkit\"; gk.plot.curves{series = {{x = {1}, y = {1}}}}'",
      os.getenv("LUA_PATH_5_4") or "", os.getenv("LUA_CPATH_5_4") or ""))
    assert.is_falsy(ok)
    assert.truthy(out:find("gnuplot-nox", 1, true), out)
  end)

  it("keeps apostrophes in file names and titles", function()
    local path = dir .. "/it's plot.svg"
    gk.plot.curves{series = {{label = "Ann's run", x = {1, 2}, y = {1, 2}}}, file = path, title = "it's a title",
      xlabel = "speaker's x"}
    local s = read(path)
    assert.is_string(s, "no file " .. path)
    assert.truthy(s:find("it's a title", 1, true) or s:find("it&apos;s a title", 1, true) or
      s:find("it&#39;s a title", 1, true), s)
    assert.truthy(s:find("Ann's run", 1, true) or s:find("Ann&apos;s run", 1, true) or s:find("Ann&#39;s run", 1, true))
    assert.is_nil(read(dir .. "/its plot.svg"))
  end)

  it("passes no label, name or file to gnuplot as a command", function()
    local mark = dir .. "/ran"
    local payloads = injections(mark)
    local xy = {x = {1, 2}, y = {2, 1}}
    for i, p in ipairs(payloads) do
      local channels = {
        title = function() gk.plot.curves{series = {xy}, title = p, file = dir .. "/inj.svg"} end,
        xlabel = function() gk.plot.curves{series = {xy}, xlabel = p, file = dir .. "/inj.svg"} end,
        ylabel = function() gk.plot.curves{series = {xy}, ylabel = p, file = dir .. "/inj.svg"} end,
        series = function() gk.plot.curves{series = {{label = p, x = xy.x, y = xy.y}}, file = dir .. "/inj.svg"} end,
        file = function()
          -- the payload's slashes make folders: made, so that the name reaches gnuplot
          local path = dir .. "/" .. p .. ".svg"
          os.execute("mkdir -p '" .. path:match("^(.*)/"):gsub("'", "'\\''") .. "'")
          gk.plot.curves{series = {xy}, file = path}
          assert.truthy(read(path), "no file " .. path)
        end,
        mixture_label = function()
          gk.plot.mixtures{mixtures = {mixture()}, labels = {p}, grid = 10, file = dir .. "/inj.svg", title = p}
        end,
        em = function() gk.plot.em({history = {1, 2}}, {label = p, title = p, file = dir .. "/inj.svg"}) end,
        image = function() gk.plot.image(gk.matrix.random(5, 3, {seed = 1}), {title = p, file = dir .. "/inj.svg"}) end,
        convergence = function()
          gk.plot.convergence({{label = p, info = {history = {{seconds = 1, nise = 0.5}}}}}, {title = p, file = dir .. "/inj.svg"})
        end,
      }
      for name, call in pairs(channels) do
        os.remove(mark)
        pcall(call)
        assert.is_nil(read(mark), string.format("payload %d through %s ran a command", i, name))
      end
    end
  end)

  it("says that the folder of the figure cannot be written, before gnuplot runs", function()
    local xy = {x = {1, 2}, y = {2, 1}}
    for _, path in ipairs({dir .. "/missing/c.png", "/proc/gk-plot-spec.png"}) do
      local ok, err = pcall(gk.plot.curves, {series = {xy}, file = path})
      assert.is_false(ok)
      assert.truthy(err:find("cannot write the figure " .. path, 1, true), err)
      assert.truthy(err:find("the folder must exist and be writable", 1, true), err)
      assert.falsy(err:find("gnuplot", 1, true), err)
    end
  end)

  it("leaves no temporary file behind when a call fails", function()
    local issued = {}
    local tmpname = os.tmpname
    os.tmpname = function() local p = tmpname() issued[#issued + 1] = p return p end
    local xy = {x = {1, 2}, y = {2, 1}}
    local calls = {
      function() gk.plot.curves{series = {xy, {x = {1}, y = {}}}, file = dir .. "/t.png"} end,
      function() gk.plot.curves{series = {xy}, file = dir .. "/missing/t.png"} end,
      function() gk.plot.image({}, {file = dir .. "/t.png"}) end,
      function() gk.plot.image(gk.matrix.random(5, 3, {seed = 1}), {file = dir .. "/missing/t.png"}) end,
      function() gk.plot.mixtures{mixtures = {mixture()}, points = gk.matrix.random(9, 2, {seed = 1}), grid = 10,
        file = dir .. "/missing/t.png"} end,
    }
    for i, call in ipairs(calls) do
      local ok = pcall(call)
      os.tmpname = tmpname
      assert.is_false(ok, "call " .. i)
      for _, p in ipairs(issued) do assert.is_nil(read(p), "call " .. i .. " left " .. p) end
      os.tmpname = function() local p = tmpname() issued[#issued + 1] = p return p end
    end
    os.tmpname = tmpname
    local left = h.run("ls '" .. dir .. "'")
    assert.falsy(left:find("%.part"), left)
  end)

  it("checks its arguments and options", function()
    local xy = {x = {1, 2}, y = {2, 1}}
    for _, c in ipairs({
      {function() gk.plot.em(5) end, "bad argument #1 to 'em' (the info table of gk.gmm.train expected"},
      {function() gk.plot.em({}) end, "bad argument #1 to 'em' (the info table of gk.gmm.train expected"},
      {function() gk.plot.em({history = "x"}) end, "bad argument #1 to 'em'"},
      {function() gk.plot.em({history = {1, "a"}}) end, "history entry 2"},
      {function() gk.plot.em({history = {1}}, {file = 5}) end, "bad argument #2 to 'em' (option 'file' must be a file name"},
      {function() gk.plot.convergence(5) end, "bad argument #1 to 'convergence'"},
      {function() gk.plot.convergence({{info = 3}}) end, "run 1 must be"},
      {function() gk.plot.curves{series = {xy}, file = "x.jpg"} end, "option 'file' must be a file name ending in .png or .svg"},
      {function() gk.plot.curves{series = {xy}, title = {}} end, "option 'title' must be a string"},
      {function() gk.plot.curves{series = {xy}, logy = 1} end, "option 'logy' must be a boolean"},
      {function() gk.plot.mixtures{mixtures = {mixture()}, grid = 2^32 + 3} end, "option 'grid' must be an integer in [2, 2000]"},
      {function() gk.plot.mixtures{mixtures = {mixture()}, range = 0.5} end, "option 'range' must be {x0, x1, y0, y1}"},
      {function() gk.plot.mixtures{mixtures = {mixture()}, range = {0, 1, 0, 0 / 0}} end, "option 'range' must be"},
      {function() gk.plot.mixtures{mixtures = {mixture()}, size = {1, 2}} end, "option 'size' must be"},
      {function() gk.plot.mixtures{mixtures = {5}} end, "entry 1 of option 'mixtures' is not an open gmmkit.Gmm"},
      {function() gk.plot.mixtures{mixtures = {mixture()}, points = {}} end, "option 'points' must be a gmmkit.Matrix"},
      {function() gk.plot.image(gk.matrix.random(5, 3, {seed = 1}), {frame_shift = -1}) end, "option 'frame_shift' must be"},
    }) do
      local ok, err = pcall(c[1])
      assert.is_false(ok)
      assert.truthy(tostring(err):find(c[2], 1, true), tostring(err))
    end
  end)

  it("reads tables raw: a lying __len or __index neither hangs a call nor slips a value past its checks", function()
    local M = gk.matrix.new(2, 2)
    local function liar(n) return setmetatable({}, {__len = function() return n end, __index = function() return M end}) end
    local xy = {x = {1, 2}, y = {2, 1}}
    for _, n in ipairs({2^61, -1, 2^31}) do
      for _, call in ipairs({
        function() gk.plot.image(gk.matrix.random(5, 3, {seed = 1}), liar(n)) end,
        function() gk.plot.curves(liar(n)) end,
        function() gk.plot.curves{series = liar(n)} end,
        function() gk.plot.curves{series = {{x = liar(n), y = liar(n)}}} end,
        function() gk.plot.em(liar(n)) end,
        function() gk.plot.em({history = liar(n)}) end,
        function() gk.plot.convergence(liar(n)) end,
        function() gk.plot.convergence({{info = {history = liar(n)}}}) end,
        function() gk.plot.mixtures{mixtures = liar(n)} end,
        function() gk.plot.mixtures{mixtures = {mixture()}, labels = liar(n), grid = 10, file = dir .. "/l.svg"} end,
        function() gk.plot.mixtures{mixtures = {mixture()}, dims = liar(n)} end,
        function() gk.plot.curves{series = {xy}, size = liar(n)} end,
      }) do
        local ok, err = pcall(call)
        if not ok then
          assert.falsy(tostring(err):find("attempt to", 1, true), err)
          assert.falsy(tostring(err):find("plot.lua:", 1, true), err)
        end
      end
    end
  end)

  it("plots the NISE by default in convergence, and names the axes of a mixture slice", function()
    local path = dir .. "/conv.svg"
    gk.plot.convergence({{label = "gd", info = {history = {{seconds = 0.1, ise = 1e-40, nise = 0.5},
      {seconds = 0.2, ise = 5e-41, nise = 0.25}}}}}, {file = path})
    local svg = read(path)
    assert.truthy(svg:find(">NISE<", 1, true), svg)
    assert.falsy(svg:find("ISE (F)", 1, true))
    path = dir .. "/slice.svg"
    gk.plot.mixtures{mixtures = {mixture()}, grid = 10, file = path, xlabel = "log energy", ylabel = "c1"}
    svg = read(path)
    assert.truthy(svg:find(">log energy<", 1, true), svg)
    assert.truthy(svg:find(">c1<", 1, true), svg)
  end)

  -- Calls f with the temporary files of gk.plot kept: returns pcall's results and the
  -- text of each file made through os.tmpname (then removed).
  local function keeping_data(f)
    local issued, tmpname, remove = {}, os.tmpname, os.remove
    os.tmpname = function() local p = tmpname() issued[#issued + 1] = p return p end
    os.remove = function(p)
      for _, q in ipairs(issued) do if p == q then return true end end
      return remove(p)
    end
    local res = table.pack(pcall(f))
    os.tmpname, os.remove = tmpname, remove
    local texts = {}
    for _, p in ipairs(issued) do
      texts[#texts + 1] = read(p)
      os.remove(p)
    end
    return res, texts
  end

  -- The rows of the DET data files among `texts` (header "# pfa pmiss ..."), in order.
  local function det_files(texts)
    local files = {}
    for _, s in ipairs(texts) do
      if s:find("^# pfa pmiss probit%(pfa%) probit%(pmiss%)\n") then
        local rows = {}
        for line in s:gmatch("[^\n]+") do
          if not line:find("^#") then
            local r = {}
            for v in line:gmatch("%S+") do r[#r + 1] = tonumber(v) end
            rows[#rows + 1] = r
          end
        end
        files[#files + 1] = rows
      end
    end
    return files
  end

  -- The standard normal CDF by its Taylor series (Abramowitz & Stegun 26.2.10), an
  -- independent check of the plot's probit for |x| <= 3.5 (absolute error about 1e-15).
  local function Phi(x)
    local term, sum, n = x, x, 0
    repeat
      n = n + 1
      term = -term * x * x / (2 * n)
      local add = term / (2 * n + 1)
      sum = sum + add
    until math.abs(add) < 1e-20
    return 0.5 + sum / math.sqrt(2 * math.pi)
  end

  it("writes a DET curve on probit axes: the data of a tiny example, known normal deviates", function()
    local path = dir .. "/det.svg"
    -- tar {1, 2}, non {0, 1.5, 3}: the six DET points over all thresholds, worked by hand
    -- (accept when score >= t): t = 0, 1, 1.5, 2, 3, above all.
    local res, texts = keeping_data(function()
      return gk.plot.det({{name = "tiny", tar = {1, 2}, non = {0, 1.5, 3}}}, {file = path, title = "tiny DET"})
    end)
    assert.is_true(res[1], tostring(res[2]))
    assert.are.equal(path, res[2])
    local files = det_files(texts)
    assert.are.equal(1, #files)
    local rows = files[1]
    local want = {{1, 0}, {2 / 3, 0}, {2 / 3, 0.5}, {1 / 3, 0.5}, {1 / 3, 1}, {0, 1}}
    assert.are.equal(#want, #rows)
    local deviate = {[0.5] = 0, [1 / 3] = -0.43072729929545744, [2 / 3] = 0.43072729929545744}
    local far = 8.125890664701906  -- probit(2^-52): rates of 0 and 1 are clamped, as DETware does
    deviate[0], deviate[1] = -far, far
    for i, w in ipairs(want) do
      assert.is_true(math.abs(rows[i][1] - w[1]) < 1e-15 and math.abs(rows[i][2] - w[2]) < 1e-15, "point " .. i)
      for k = 1, 2 do
        local x = deviate[w[k]]
        assert.is_true(math.abs(rows[i][k + 2] - x) <= 1e-14 * math.max(1, math.abs(x)),
          string.format("point %d: probit(%.17g) = %.17g, want %.17g", i, w[k], rows[i][k + 2], x))
      end
    end
    local svg = read(path)
    assert.truthy(svg:find("tiny DET", 1, true))
    assert.truthy(svg:find("tiny (EER 40.00%)", 1, true), svg)  -- gk.eval.eer: 0.4 on the ROC convex hull
    assert.truthy(svg:find(">False alarm probability (%)<", 1, true))
    assert.truthy(svg:find(">Miss probability (%)<", 1, true))
    for _, tick in ipairs({"0.1", "0.2", "0.5", "1", "2", "5", "10", "20", "40"}) do
      assert.truthy(svg:find(">" .. tick .. "<", 1, true), "tick " .. tick)
    end
    assert.falsy(svg:find(">60<", 1, true))
  end)

  it("puts probit(0.975) = 1.959963984540054 and the normal deviate of every rate k/1000 on the axes", function()
    -- one target, 40 and then 1000 non-targets with distinct scores: Pfa runs over k/n
    local non40, non1000 = {}, {}
    for k = 1, 40 do non40[k] = k end
    for k = 1, 1000 do non1000[k] = k end
    local res, texts = keeping_data(function()
      return gk.plot.det({{name = "a", tar = {0.5}, non = non40}, {name = "b", tar = {0.5}, non = non1000}},
        {file = dir .. "/det2.png", range = {0.05, 99.95, 0.1, 40}})
    end)
    assert.is_true(res[1], tostring(res[2]))
    png_size(read(dir .. "/det2.png"))
    local files = det_files(texts)
    assert.are.equal(2, #files)
    local found = false
    for _, r in ipairs(files[1]) do
      if r[1] == 0.975 then
        found = true
        assert.is_true(math.abs(r[3] - 1.959963984540054) < 1e-15, string.format("%.17g", r[3]))
      end
      if r[1] == 0.5 then assert.are.equal(0, r[3]) end
    end
    assert.is_true(found)
    local checked = 0
    for _, r in ipairs(files[2]) do
      local p, x = r[1], r[3]
      if p >= 0.001 and p <= 0.999 then
        -- the deviate's error, (Phi(x) - p) / phi(x), within 1e-12
        local phi = math.exp(-x * x / 2) / math.sqrt(2 * math.pi)
        assert.is_true(math.abs(Phi(x) - p) / phi < 1e-12, string.format("probit(%.17g) = %.17g", p, x))
        checked = checked + 1
      end
    end
    assert.are.equal(999, checked)
  end)

  it("passes no system name, title or file of a DET plot to gnuplot as a command", function()
    local mark = dir .. "/ran-det"
    local payloads = injections(mark)
    payloads[#payloads + 1] = 't @x'
    for i, p in ipairs(payloads) do
      local path = dir .. "/" .. p .. ".svg"
      os.execute("mkdir -p '" .. path:match("^(.*)/"):gsub("'", "'\\''") .. "'")
      for name, call in pairs({
        name = function() gk.plot.det({{name = p, tar = {1, 2}, non = {0, 1.5}}}, {file = dir .. "/inj-det.svg"}) end,
        title = function() gk.plot.det({{tar = {1, 2}, non = {0, 1.5}}}, {title = p, file = dir .. "/inj-det.svg"}) end,
        file = function()
          gk.plot.det({{tar = {1, 2}, non = {0, 1.5}}}, {file = path})
          assert.truthy(read(path), "no file " .. path)
        end,
      }) do
        os.remove(mark)
        local ok, err = pcall(call)
        assert.is_true(ok, tostring(err))
        assert.is_nil(read(mark), string.format("payload %d through %s ran a command", i, name))
      end
      local svg = read(dir .. "/inj-det.svg")
      assert.truthy(svg, "no figure")
    end
  end)

  it("checks the arguments of det, and leaves no temporary file when it fails", function()
    local ok_sys = {name = "a", tar = {1, 2}, non = {0, 1.5}}
    local liar = setmetatable({}, {__len = function() return 2 ^ 61 end, __index = function() return 1 end})
    for _, c in ipairs({
      {function() gk.plot.det() end, "bad argument #1 to 'det' (a non-empty list of systems {name=, tar=, non=} expected, got nil)"},
      {function() gk.plot.det({}) end, "expected, got an empty table"},
      {function() gk.plot.det(liar) end, "expected, got an empty table"},
      {function() gk.plot.det({5}) end, "bad argument #1 to 'det' (system 1 must be a table {name=, tar=, non=}, got number)"},
      {function() gk.plot.det({ok_sys, {name = {}, tar = {1}, non = {2}}}) end, "(system 2: 'name' must be a string, got table)"},
      {function() gk.plot.det({{tar = {1}}}) end, "(system 1: 'non' must be a list of scores or a vector gmmkit.Matrix, got nil)"},
      {function() gk.plot.det({{tar = {}, non = {1}}}) end, "(system 1: 'tar' is empty: no scores)"},
      {function() gk.plot.det({{tar = liar, non = {1}}}) end, "(system 1: 'tar' is empty: no scores)"},
      {function() gk.plot.det({{tar = {1, 0 / 0}, non = {1}}}) end, "(system 1: tar score 2 is NaN, not a number)"},
      {function() gk.plot.det({{tar = {1}, non = {1, "2"}}}) end, "(system 1: non score 2 is string, not a number)"},
      {function() gk.plot.det({{tar = gk.matrix.new(2, 2), non = {1}}}) end,
        "bad argument #1 to 'det' (system 1: tar must be a vector (1 x n or n x 1), got a 2 x 2 matrix)"},
      {function() gk.plot.det({ok_sys}, {titel = "x"}) end,
        "bad argument #2 to 'det' (unknown option 'titel' (did you mean 'title'?))"},
      {function() gk.plot.det({ok_sys}, {file = "det.pdf"}) end, "option 'file' must be a file name ending in .png or .svg"},
      {function() gk.plot.det({ok_sys}, {range = {0, 40, 0.1, 40}}) end, "option 'range' must be {pfa0, pfa1, pmiss0, pmiss1} in percent"},
      {function() gk.plot.det({ok_sys}, {range = {1, 100, 0.1, 40}}) end, "option 'range' must be"},
      {function() gk.plot.det({ok_sys}, {range = {5, 1, 0.1, 40}}) end, "option 'range' must be"},
      {function() gk.plot.det({ok_sys}, {rocch = "yes"}) end, "option 'rocch' must be a boolean"},
      {function() gk.plot.det({ok_sys}, 5) end, "bad argument #2 to 'det' (table expected, got number)"},
    }) do
      local ok, err = pcall(c[1])
      assert.is_false(ok)
      assert.truthy(tostring(err):find(c[2], 1, true), tostring(err))
    end
    local issued, tmpname = {}, os.tmpname
    os.tmpname = function() local p = tmpname() issued[#issued + 1] = p return p end
    local ok, err = pcall(gk.plot.det, {ok_sys}, {file = dir .. "/missing/d.png"})
    os.tmpname = tmpname
    assert.is_false(ok)
    assert.truthy(err:find("cannot write the figure", 1, true), err)
    assert.is_true(#issued > 0)
    for _, p in ipairs(issued) do assert.is_nil(read(p), "left " .. p) end
    local left = h.run("ls '" .. dir .. "'")
    assert.falsy(left:find("%.part"), left)
  end)

  it("draws the ROC convex hull with rocch = true, and accepts vector matrices", function()
    local tar = gk.matrix.from_table({{1, 2, 3, 4}})
    local res, texts = keeping_data(function()
      return gk.plot.det({{name = "m", tar = tar, non = {0, 2.5, 1.5, 3.5, -1}}}, {file = dir .. "/hull.svg", rocch = true})
    end)
    assert.is_true(res[1], tostring(res[2]))
    local rows = det_files(texts)[1]
    local hull = gk.eval.det({1, 2, 3, 4}, {0, 2.5, 1.5, 3.5, -1}, {rocch = true})
    assert.are.equal(#hull.pfa, #rows)
    for i, r in ipairs(rows) do
      assert.are.equal(hull.pfa[i], r[1])
      assert.are.equal(hull.pmiss[i], r[2])
    end
  end)

  it("has docs", function()
    for name, f in pairs(gk.plot) do assert.is_string(gk.doc(f), name) end
  end)
end)
