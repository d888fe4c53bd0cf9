-- Each crash, hang and wrong result the hostile-input campaign found, as a regression test
-- (hostile_spec.lua makes the generated calls; these pin the exact cases and their
-- messages). Calls that used to crash or hang run in a child process with a time limit.
local gk = require "gmmkit"
local helper = require "spec_helper"

local function shq(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- Runs Lua code in a child lua5.4 (with `limit` seconds and an optional shell prefix such
-- as a ulimit); returns its output and whether it exited with status 0.
local function child(code, limit, prefix)
  local f = os.tmpname()
  local h = assert(io.open(f, "w"))
  h:write(code)
  h:close()
  local out, ok = helper.run((prefix or "") .. "timeout -s KILL " .. (limit or 30) .. " lua5.4 " .. shq(f))
  os.remove(f)
  return out, ok
end

local function lying(n, value)
  return setmetatable({}, {__len = function() return n end, __index = function() return value end})
end

describe("hostile input: the campaign's cases", function()
  local dir, M, g
  setup(function()
    dir = helper.tmpdir()
    M = gk.matrix.random(40, 3, {seed = 3})
    g = gk.gmm.train(M, {components = 2, max_iter = 3})
  end)
  teardown(function()
    os.execute("rm -rf " .. shq(dir))
  end)

  describe("a list whose __len lies (was SIGSEGV, abort or a loop to 2^63)", function()
    for _, n in ipairs{2 ^ 61, -1, 2 ^ 31} do
      it("length " .. tostring(n), function()
        local P = lying(n, M)
        assert.error_matches(function() M:select_rows(P) end, "the selection has .* entries, expected 0 to")
        assert.error_matches(function() M:select_cols(P) end, "the selection has .* entries")
        assert.error_matches(function() gk.matrix.vstack(P) end, "the list has .* entries, expected 0 to 16777216")
        assert.error_matches(function() gk.matrix.hstack(P) end, "the list has .* entries")
        assert.error_matches(function() gk.mpi.gather(P) end, "the list has .* entries")
        assert.error_matches(function() gk.mpi.deal(P) end, "the list has .* entries")
        assert.error_matches(function() gk.core.suggest("abc", lying(n, "abd")) end, "the name list has .* entries")
        assert.error_matches(function() gk.matrix.from_table(lying(n, 1)) end, "the table has .* entries")
        assert.error_matches(function() gk.gmm.new{weights = lying(n, 1), means = {{0}}, covariances = {{1}}} end,
                             "weights has .* entries")
      end)
    end
  end)

  local sanitized = os.getenv("GMMKIT_SANITIZED") == "1"
  local it_limited = sanitized and function(name) pending(name .. " (not under ASan: a memory limit breaks its shadow memory)") end or it
  it_limited("a thread count the system cannot start is an error, not an exit (was a crash in GOMP_parallel)", function()
    local out, ok = child([[
      local gk = require "gmmkit"
      local ok, err = pcall(gk.set_threads, 4096)
      print(ok, err)
      print(pcall(gk.simplify.kl, gk.gmm.new{weights = {1}, means = {{0}}, covariances = {{1}}},
                  gk.gmm.new{weights = {1}, means = {{1}}, covariances = {{1}}}, {threads = 4096, samples = 100}))
      print("alive")]], 60, "ulimit -v 1500000; ")
    assert.is_true(ok, out)
    assert.is_truthy(out:find("cannot start 4096 threads", 1, true), out)
    assert.is_truthy(out:find("option 'threads'", 1, true), out)
    assert.is_truthy(out:find("alive", 1, true), out)
  end)

  it("GMMKIT_THREADS is checked as set_threads is", function()
    local out, ok = child('require "gmmkit"', 30, "GMMKIT_THREADS=5000 ")
    assert.is_falsy(ok)
    assert.is_truthy(out:find("GMMKIT_THREADS='5000': must be a whole number from 0 (all cores) to 4096", 1, true), out)
    out, ok = child('print(require("gmmkit").threads())', 30, "GMMKIT_THREADS=1 ")
    assert.is_true(ok, out)
    assert.are.equal("1", out:match("%d+"))
  end)

  describe("non-regular files", function()
    local fifo
    setup(function()
      fifo = dir .. "/fifo"
      assert(os.execute("mkfifo " .. shq(fifo)))
    end)
    it("readers refuse a FIFO at once instead of blocking (was a hang)", function()
      local out, ok = child(string.format([[
        local gk = require "gmmkit"
        local p = %q
        for _, f in ipairs{gk.matrix.load, gk.gmm.load, gk.gmm.load_kaldi, gk.gmm.load_stats, gk.features.read_htk,
                           gk.audio.load, gk.audio.info} do
          print(select(2, pcall(f, p)))
        end
        local X = gk.matrix.random(20, 2, {seed = 1})
        print(select(2, pcall(gk.gmm.train, X, {components = 1, checkpoint = p, resume = true})))
        print("alive")]], fifo), 30)
      assert.is_true(ok, out)
      local n = select(2, out:gsub("is a FIFO, not a regular file", ""))
      assert.are.equal(8, n, out)
    end)
    it("a folder and a /proc file are named as what they are", function()
      assert.error_matches(function() gk.gmm.load_kaldi(dir) end, "is a directory, not a regular file")
      assert.error_matches(function() gk.gmm.load_kaldi("/proc/self/status") end, "found 'Name:'")
    end)
    it("writers never replace a device, a FIFO or a symbolic link", function()
      local dev = dir .. "/null"
      local made = os.execute("mknod " .. shq(dev) .. " c 1 3 2>/dev/null")
      local link = dir .. "/link"
      os.execute("ln -s " .. shq(dir .. "/target.npy") .. " " .. shq(link))
      local targets = {fifo, link}
      if made then targets[#targets + 1] = dev end
      for _, p in ipairs(targets) do
        assert.error_matches(function() M:save(p) end, "not a regular file: refusing to replace it")
        assert.error_matches(function() g:save(p) end, "not a regular file: refusing to replace it")
        assert.error_matches(function() g:save_kaldi(p) end, "not a regular file: refusing to replace it")
        assert.error_matches(function() g:accumulate(M):save(p) end, "not a regular file: refusing to replace it")
        assert.error_matches(function() gk.features.write_htk(p, M:astype("float32")) end, "refusing to replace it")
        assert.error_matches(function() gk.audio.save(p .. "", gk.audio.signal({0, 0.1}, 8000), {format = "wav"}) end,
                             "refusing to replace it")
      end
      local f = io.open(dir .. "/target.npy")
      assert.is_nil(f, "a save followed the symbolic link")
      if made then
        local h = io.popen("stat -c %F " .. shq(dev))
        assert.are.equal("character special file", h:read("l"))
        h:close()
      end
    end)
  end)

  it("a folder linked to itself is listed once (was endless, or every file 41 times)", function()
    local d = dir .. "/loops"
    os.execute("mkdir -p " .. shq(d .. "/sub"))
    gk.audio.save(d .. "/a.wav", gk.audio.signal({0, 0.1, 0.2}, 8000))
    gk.audio.save(d .. "/sub/b.wav", gk.audio.signal({0, 0.1, 0.2}, 8000))
    os.execute("ln -s .. " .. shq(d .. "/sub/up") .. " && ln -s " .. shq(d) .. " " .. shq(d .. "/self") ..
               " && ln -s " .. shq(d) .. " " .. shq(d .. "/self2"))
    local out, ok = child(string.format([[
      local l = require("gmmkit").audio.list(%q, {recursive = true})
      print(#l) for _, p in ipairs(l) do print(p) end]], d), 30)
    assert.is_true(ok, out)
    assert.are.equal("2", out:match("^(%d+)"), out)
  end)

  it("/sys is listed in bounded time (was minutes)", function()
    local out, ok = child('print(#require("gmmkit").audio.list("/sys", {recursive = true}))', 120)
    assert.is_true(ok, out)
    assert.is_truthy(out:match("^%d+"), out)
  end)

  describe("samples", function()
    it("NaN and Inf from a matrix or a table are refused by MFCC as by audio.signal", function()
      local t = {} for i = 1, 800 do t[i] = 0.1 * math.sin(i) end
      t[100] = 0 / 0
      local opts = {preset = "paper", sample_frequency = 8000}
      assert.error_matches(function() gk.mfcc.compute(t, opts) end, "sample 100 is NaN")
      assert.error_matches(function() gk.audio.signal(t, 8000) end, "sample 100 is NaN")
      t[100] = math.huge
      assert.error_matches(function() gk.mfcc.compute(gk.matrix.from_table(t), opts) end, "sample 100 is Inf")
      t[100] = 1e20
      assert.error_matches(function() gk.mfcc.compute(t, opts) end,
                           "sample 100 is 1e%+20 %(samples must be finite and at most 1e%+06 in magnitude")
      t[100] = 1e6  -- the limit itself still gives finite features
      local m = gk.mfcc.compute(t, opts)
      for i = 1, m:rows() do
        for j = 1, m:cols() do
          local v = m:get(i, j)
          assert.is_true(v == v and math.abs(v) < math.huge)
        end
      end
    end)
    it("a closed signal is called closed", function()
      local s = gk.audio.signal({0, 0.1}, 8000)
      s:close()
      assert.error_matches(function() gk.mfcc.compute(s, {}) end, "attempt to use a closed gmmkit.Signal")
    end)
  end)

  it("posteriors, predict and top posteriors raise where log_likelihood does (was NaN)", function()
    local far = gk.gmm.new{weights = {0.5, 0.5}, means = {{0}, {1}}, covariances = {{1e-300}, {1e-300}}}
    local X = gk.matrix.from_table({{1e10}})
    assert.error_matches(function() far:log_likelihood(X) end, "not finite")
    assert.error_matches(function() far:posteriors(X) end, "not finite")
    assert.error_matches(function() far:posteriors(X, {top = 1}) end, "not finite")
    assert.error_matches(function() far:predict(X) end, "not finite")
  end)

  it("save_kaldi of a zero-weight component writes Kaldi's -inf gconst and reads it back", function()
    local z = gk.gmm.new{weights = {1, 0}, means = {{0, 0}, {1, 1}}, covariances = {{1, 1}, {2, 2}}}
    local p = dir .. "/zero.txt"
    z:save_kaldi(p)
    local f = io.open(p)
    local text = f:read("a")
    f:close()
    assert.is_truthy(text:match("<GCONSTS>%s*%[ [^%]]*%-inf"), text)
    local back = gk.gmm.load_kaldi(p)
    assert.are.same({1, 0}, back:weights())
    assert.are.equal(2, back:covariances():get(2, 2))
  end)

  it("a path with a NUL byte is refused, not cut (was a write to /tmp/x)", function()
    local p = dir .. "/x"
    assert.error_matches(function() M:save(p .. "\0.npy") end, "NUL byte at position")
    assert.error_matches(function() g:save(p .. "\0.gmm") end, "NUL byte at position")
    assert.error_matches(function() gk.matrix.load(p .. "\0.npy") end, "NUL byte at position")
    assert.error_matches(function() gk.gmm.train(M, {checkpoint = p .. "\0c"}) end, "option 'checkpoint' has a NUL byte")
    assert.is_nil(io.open(p))
  end)

  it("sample() says when float32 cannot hold the draws (was +-inf without a word)", function()
    local wide = gk.gmm.new{weights = {1}, means = {{0}}, covariances = {{1e300}}}
    assert.error_matches(function() wide:sample(100, {seed = 1}) end, "beyond float32's range")
    local s = wide:sample(100, {seed = 1, dtype = "float64"})
    assert.is_true(math.abs(s:get(1, 1)) < math.huge)
  end)

  it("a closed Stats raises on its fields as a closed Gmm does (was nil)", function()
    local st = g:accumulate(M)
    st:close()
    assert.is_true(st.closed)
    for _, k in ipairs{"frames", "loglik", "components", "dim", "covariance_type"} do
      assert.error_matches(function() return st[k] end, "closed gmmkit.Stats")
    end
  end)

  describe("confusing messages mended", function()
    it("reduce names K as given", function()
      assert.error_matches(function() gk.simplify.reduce(g, 2 ^ 31) end, "K = 2147483648 must be smaller")
    end)
    it("a 1 x K weights matrix is accepted", function()
      local w = gk.matrix.from_table({{0.25, 0.75}})
      local h = gk.gmm.new{weights = w, means = {{0}, {1}}, covariances = {{1}, {1}}}
      assert.are.same({0.25, 0.75}, h:weights())
    end)
    it("write_htk names its real column limit", function()
      assert.error_matches(function() gk.features.write_htk(dir .. "/w.htk", gk.matrix.new(2, 5000, 0, "float32")) end,
                           "1 to 4096 columns, got 5000")
    end)
    it("full covariances from fewer frames than dimensions say so", function()
      local X = gk.matrix.random(3, 600, {seed = 1, dtype = "float32"})
      assert.error_matches(function() gk.gmm.train(X, {components = 1, covariance_type = "full", max_iter = 2}) end,
                           "3 frames cannot support a full covariance in dimension 600")
    end)
  end)
end)

describe("a file given to the wrong loader names the right one", function()
  it("gk.gmm.load of a Kaldi text model, a .npy, statistics or a checkpoint", function()
    local dir = helper.tmpdir()
    local X = gk.matrix.random(50, 2, {seed = 1})
    local g = gk.gmm.train(X, {components = 2, max_iter = 2})
    g:save_kaldi(dir .. "/k.txt")
    X:save(dir .. "/x.npy")
    g:accumulate(X):save(dir .. "/s.stats")
    gk.gmm.train(X, {components = 2, max_iter = 2, checkpoint = dir .. "/c.ckpt"})
    assert.error_matches(function() gk.gmm.load(dir .. "/k.txt") end, "Kaldi text GMM; read it with gk.gmm.load_kaldi")
    assert.error_matches(function() gk.gmm.load(dir .. "/x.npy") end, "NumPy .npy matrix; read it with gk.matrix.load")
    assert.error_matches(function() gk.gmm.load(dir .. "/s.stats") end, "read it with gk.gmm.load_stats")
    assert.error_matches(function() gk.gmm.load(dir .. "/c.ckpt") end, "read it with gk.gmm.train or gk.gmm.trainer")
    assert.error_matches(function() gk.gmm.load_stats(dir .. "/k.txt") end, "read it with gk.gmm.load_kaldi")
    assert.is_truthy(gk.helptext(gk.simplify.reduce):find("method = 'runnalls'", 1, true))
    os.execute("rm -rf '" .. dir .. "'")
  end)
end)
