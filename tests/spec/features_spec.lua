-- gk.features: deltas, CMVN, VAD and warping against numpy / torchaudio fixtures
-- (scripts/ref/mfcc_ref.py), batch extraction, HTK files, and the speech corpus when
-- GMMKIT_DATA is set.
local gk = require "gmmkit"
local H = require "spec_helper"

local data = H.source_dir .. "/tests/data/mfcc/"

local max_abs_diff = H.max_abs_diff

--- Regression deltas of column block [c0, c0 + d) written here from the formula
--- d_t = sum_k k (x_{t+k} - x_{t-k}) / (2 sum_k k^2), edges replicated.
local function delta_ref(m, t, j, w)
  local T, num, den = m:rows(), 0, 0
  for k = 1, w do
    local a, b = math.min(t + k, T), math.max(t - k, 1)
    num = num + k * (m:get(a, j) - m:get(b, j))
    den = den + 2 * k * k
  end
  return num / den
end

describe("gk.features", function()
  local x = gk.matrix.load(data .. "post_input.npy")

  it("computes deltas like the numpy reference", function()
    local d = gk.features.deltas(x, {order = 2, window = 2})
    assert.is_true(max_abs_diff(d, gk.matrix.load(data .. "post_deltas_o2_w2.npy")) <= 1e-4)
    local d1 = gk.features.deltas(x, {order = 1, window = 3})
    assert.is_true(max_abs_diff(d1, gk.matrix.load(data .. "post_deltas_o1_w3.npy")) <= 1e-4)
    assert.near(delta_ref(x, 1, 2, 3), d1:get(1, 7), 1e-4)
    assert.error_matches(function() gk.features.deltas(x, {order = 2, windw = 2}) end,
      "did you mean 'window'")
  end)

  it("applies sliding CMVN like torchaudio's sliding_window_cmn", function()
    local cases = {
      {"post_cmvn_w50_center.npy", {window = 50}},
      {"post_cmvn_w51_center_normvars.npy", {window = 51, norm_vars = true}},
      {"post_cmvn_w40_trailing_min10.npy", {window = 40, center = false, min_window = 10}},
      {"post_cmvn_w300_center.npy", {}},
      {"post_cmvn_w0_normvars.npy", {window = 0, norm_vars = true}},
    }
    for _, c in ipairs(cases) do
      local y = gk.features.cmvn(x, c[2])
      assert(max_abs_diff(y, gk.matrix.load(data .. c[1])) <= 1e-4, c[1])
    end
  end)

  it("marks voiced frames like compute-vad, usable by select_rows", function()
    local f = assert(io.open(data .. "post_vad_ctx2.txt"))
    local thr = tonumber(f:read("l"):match("energy_threshold=(%S+)"))
    f:close()
    local mask, n = gk.features.vad(x, {energy_threshold = thr, frames_context = 2})
    local ref = gk.matrix.load(data .. "post_vad_ctx2.npy")
    local count = 0
    for t = 1, x:rows() do
      assert.equal(ref:get(t, 1) > 0.5, mask[t])
      if mask[t] then count = count + 1 end
    end
    assert.equal(count, n)
    assert.equal(n, x:select_rows(mask):rows())
    assert.error_matches(function() gk.features.vad(x, {column = 6}) end, "column")
  end)

  it("warps features like the rank / inverse-normal reference", function()
    local y = gk.features.warp(x, {window = 61})
    assert.is_true(max_abs_diff(y, gk.matrix.load(data .. "post_warp_w61.npy")) <= 1e-5)
  end)

  it("writes and reads HTK parameter files", function()
    local tmp = os.tmpname()
    local m = gk.matrix.from_table({{1, 2, 3}, {4, 5, 6.5}}, "float32")
    gk.features.write_htk(tmp, m, {kind = "MFCC_0_D", period = 0.01})
    local f = assert(io.open(tmp, "rb"))
    local bytes = f:read("a")
    f:close()
    local ns, period, size, kind = string.unpack(">i4i4i2i2", bytes)
    assert.same({2, 100000, 12, 6 | 8192 | 256}, {ns, period, size, kind})
    assert.equal(6.5, (string.unpack(">f", bytes, 12 + 5 * 4 + 1)))
    local r, info = gk.features.read_htk(tmp)
    assert.equal(0, max_abs_diff(m, r))
    assert.equal("MFCC_D_0", info.kind)
    assert.near(0.01, info.period, 1e-12)
    -- truncated and absurd headers
    f = assert(io.open(tmp, "wb"))
    f:write(bytes:sub(1, #bytes - 3))
    f:close()
    assert.error_matches(function() gk.features.read_htk(tmp) end, "truncated")
    f = assert(io.open(tmp, "wb"))
    f:write(string.pack(">i4i4i2i2", 2000000000, 100000, 12, 9))
    f:close()
    assert.error_matches(function() gk.features.read_htk(tmp) end, "exceeds the limit")
    os.remove(tmp)
    assert.error_matches(function() gk.features.write_htk(tmp, m, {kind = "MFCC_X"}) end, "qualifier")
  end)

  describe("extract", function()
    it("runs the per-file pipeline over a folder, in file order", function()
      local opts = {preset = "paper", vad = {energy_threshold = 5.5}, cmvn = {window = 40}}
      local r = gk.features.extract(data, {preset = "paper", vad = {energy_threshold = 5.5},
        cmvn = {window = 40}, rate = 8000, stack = true, progress = false})
      assert.equal(4, #r.matrices)
      assert.equal(0, #r.failed)
      for i, p in ipairs(r.paths) do
        -- the same steps by hand: static -> VAD mask (C0) -> CMVN -> deltas -> voiced rows
        local s = gk.audio.load(p, {rate = 8000})
        local st = gk.mfcc.compute(s, {preset = "paper", delta_order = 0})
        local mask = gk.features.vad(st, opts.vad)
        local y = gk.features.deltas(gk.features.cmvn(st, opts.cmvn), {order = 1, window = 2})
        assert.equal(0, max_abs_diff(r.matrices[i], y:select_rows(mask)))
        assert.equal(r.offsets[i + 1] - r.offsets[i], r.matrices[i]:rows())
      end
      assert.equal(r.frames, r.stacked:rows())
      assert.equal(38, r.stacked:cols())
    end)

    it("reports a bad file and goes on, or stops with strict=true", function()
      local tmp = os.tmpname() .. ".wav"
      local f = assert(io.open(tmp, "wb"))
      f:write("not audio")
      f:close()
      local files = {data .. "chirp8k.wav", tmp, data .. "tones8k.wav"}
      local calls = 0
      local r = gk.features.extract(files, {progress = function(done, total)
        calls = calls + 1
        assert.equal(3, total)
      end})
      assert.is_true(calls >= 1)
      assert.equal(2, #r.matrices)
      assert.equal(1, #r.failed)
      assert.equal(tmp, r.failed[1].path)
      assert.matches("not an audio file", r.failed[1].error)
      assert.error_matches(function() gk.features.extract(files, {strict = true, progress = false}) end,
        "not an audio file")
      os.remove(tmp)
      assert.error_matches(function() gk.features.extract(data, {cmvn = true, warp = true}) end,
        "exclude")
      assert.error_matches(function() gk.features.extract(data, {detlas = 1}) end,
        "did you mean 'deltas'")
    end)

    it("resamples a file at another rate instead of failing it", function()
      -- one 8 kHz and one 16 kHz file: the first met of the equally common rates, 8000 Hz
      local r = gk.features.extract({data .. "chirp8k.wav", data .. "vowel16k.wav"}, {progress = false})
      assert.equal(0, #r.failed)
      assert.equal(8000, r.rate)
      assert.equal(1, r.resampled)
      -- kaldi defaults at 8 kHz: 200-sample frames every 80 samples (snip_edges)
      local n8 = #gk.audio.load(data .. "vowel16k.wav", {rate = 8000})
      assert.equal(1 + (n8 - 200) // 80, r.matrices[2]:rows())
      -- rate= decides, then the preset's rate, before the files' most common rate
      r = gk.features.extract({data .. "chirp8k.wav", data .. "vowel16k.wav", data .. "chirp16k.wav"},
        {progress = false})
      assert.equal(16000, r.rate)
      assert.equal(1, r.resampled)
      r = gk.features.extract({data .. "vowel16k.wav", data .. "chirp16k.wav"}, {preset = "paper", progress = false})
      assert.equal(8000, r.rate)
      assert.equal(2, r.resampled)
      r = gk.features.extract({data .. "chirp8k.wav"}, {preset = "sre16k", progress = false})
      assert.equal(16000, r.rate)
      r = gk.features.extract({data .. "vowel16k.wav", data .. "chirp16k.wav"}, {rate = 8000, progress = false})
      assert.equal(8000, r.rate)
      assert.equal(2, r.resampled)
      r = gk.features.extract({data .. "chirp8k.wav"}, {sample_frequency = 16000, progress = false})
      assert.equal(16000, r.rate)
      assert.equal(1, r.resampled)
      assert.error_matches(function()
        gk.features.extract({data .. "chirp8k.wav"}, {rate = 8000, sample_frequency = 16000})
      end, "option 'rate' 8000 Hz differs from option 'sample_frequency' 16000 Hz")
    end)

    it("keeps going on a folder with an empty WAV, a text file named .wav and a 44.1 kHz stereo file first", function()
      local dir = H.tmpdir()
      -- 0.5 s of a 440 Hz tone, 44.1 kHz, 2 channels, 16-bit PCM, written here byte by byte
      local rate, n = 44100, 22050
      local pcm = {}
      for i = 0, n - 1 do
        local v = math.floor(8000 * math.sin(2 * math.pi * 440 * i / rate))
        pcm[#pcm + 1] = string.pack("<i2i2", v, v)
      end
      local body = table.concat(pcm)
      local f = assert(io.open(dir .. "/00_stereo44k.wav", "wb"))
      f:write("RIFF", string.pack("<I4", 36 + #body), "WAVEfmt ", string.pack("<I4I2I2I4I4I2I2", 16, 1, 2, rate,
        rate * 4, 4, 16), "data", string.pack("<I4", #body), body)
      f:close()
      for _, name in ipairs({"chirp8k.wav", "tones8k.wav"}) do
        local src = assert(io.open(data .. name, "rb"))
        local dst = assert(io.open(dir .. "/" .. name, "wb"))
        dst:write(src:read("a"))
        src:close()
        dst:close()
      end
      assert(io.open(dir .. "/x.wav", "wb")):close()
      f = assert(io.open(dir .. "/y.wav", "w"))
      f:write("a text file, not audio\n")
      f:close()
      local r = gk.features.extract(dir, {progress = false})
      assert.equal(8000, r.rate)
      assert.equal(3, #r.matrices)
      assert.equal(1, r.resampled)
      assert.same({dir .. "/00_stereo44k.wav", dir .. "/chirp8k.wav", dir .. "/tones8k.wav"}, r.paths)
      assert.equal(2, #r.failed)
      assert.equal(dir .. "/x.wav", r.failed[1].path)
      assert.equal(dir .. "/y.wav", r.failed[2].path)
      -- 0.5 s at 8 kHz: 4000 samples, 1 + (4000 - 200) // 80 frames
      assert.equal(1 + (4000 - 200) // 80, r.matrices[1]:rows())
      os.execute("rm -rf '" .. dir .. "'")
    end)

    it("raises for a path that does not exist and for a folder without audio", function()
      local dir = H.tmpdir()
      assert.error_matches(function() gk.features.extract(dir .. "/recording") end,
        dir .. "/recording: no such file or folder", nil, true)
      assert.error_matches(function() gk.features.extract(dir) end, dir .. ": no audio file in this folder", nil, true)
      local f = assert(io.open(dir .. "/notes.txt", "w"))
      f:write("x")
      f:close()
      assert.error_matches(function() gk.features.extract(dir) end, "no audio file", nil, true)
      -- an empty list is data without files (a rank dealt nothing), not a mistake
      assert.equal(0, #gk.features.extract({}, {progress = false}).matrices)
      os.execute("rm -rf '" .. dir .. "'")
    end)

    it("range-checks integer options before they become C ints", function()
      local one = {data .. "chirp8k.wav"}
      for _, c in ipairs({
        {{deltas = 2^32 + 3}, "option 'deltas' order must be in [0, 8], got 4294967299"},
        {{deltas = 2^40}, "option 'deltas' order must be in [0, 8]"},
        {{deltas = 2.5}, "option 'deltas' must be an integer"},
        {{cmvn = 2^32 + 5}, "option 'cmvn' window must be in [0, 1073741824], got 4294967301"},
        {{warp = -2^32 + 7}, "option 'warp' window must be in [1, 1073741824], got -4294967289"},
        {{warp = 0}, "option 'warp' window must be in [1, 1073741824], got 0"},
      }) do
        c[1].progress = false
        assert.error_matches(function() gk.features.extract(one, c[1]) end, c[2], nil, true)
      end
    end)

    it("names the options argument and the option's path for a bad value in a nested table", function()
      local one = {data .. "chirp8k.wav"}
      for _, c in ipairs({
        {{cmvn = {window = "x"}}, "(option 'cmvn.window' must be an integer, got string)"},
        {{deltas = {window = 0}}, "(option 'deltas.window' must be in [1, 1000], got 0)"},
        {{warp = {window = 2.5}}, "(option 'warp.window' must be an integer, got 2.5)"},
        {{vad = {energy = 1}}, "(unknown option 'vad.energy' (did you mean 'vad.energy_threshold'?))"},
        {{vad = {[1] = true}}, "(option names in 'vad' must be strings, got a number key)"},
      }) do
        c[1].progress = false
        local ok, err = pcall(gk.features.extract, one, c[1])
        assert.is_false(ok)
        -- called straight from pcall, the function is named by its module
        assert.is_truthy(err:find("bad argument #2 to 'gmmkit.features.extract' ", 1, true), err)
        assert.is_truthy(err:find(c[2], 1, true), err)
      end
      assert.are.equal(gk.features, require "gmmkit.features")
    end)

    it("is independent of the number of threads", function()
      local before = gk.threads()
      gk.set_threads(1)
      local a = gk.features.extract(data, {rate = 8000, deltas = 2, progress = false, stack = true})
      gk.set_threads(4)
      local b = gk.features.extract(data, {rate = 8000, deltas = 2, progress = false, stack = true})
      gk.set_threads(before)
      assert.equal(0, max_abs_diff(a.stacked, b.stacked))
    end)
  end)

  it("extracts every file of the speech corpus (GMMKIT_DATA)", function()
    local dir = H.data_dir("extracts the 3,000 FSDD recordings")
    if not dir then
      pending("GMMKIT_DATA is not set: the 3,000 FSDD recordings are not extracted")
      return
    end
    local folder = dir .. "/fsdd/recordings"
    local t0 = gk.seconds()  -- wall clock: os.clock() sums the CPU time of every thread
    local r = gk.features.extract(folder, {preset = "paper", progress = false})
    assert.equal(3000, #r.matrices)
    assert.equal(0, #r.failed)
    local len, shift = 240, 80  -- 30 ms / 10 ms at 8 kHz, snip_edges
    for i, p in ipairs(r.paths) do
      local info = gk.audio.info(p)
      assert.equal(8000, info.rate)
      local want = info.frames < len and 0 or 1 + (info.frames - len) // shift
      assert(r.matrices[i]:rows() == want, p .. ": frames")
      assert.equal(38, r.matrices[i]:cols())
    end
    local all = gk.matrix.vstack(r.matrices)
    local mean, var = all:mean(), all:var()
    for j = 1, 38 do
      local a, v = mean:get(1, j), var:get(1, j)
      assert(a == a and math.abs(a) < 1e6 and v == v and v < 1e12 and v > 0, "column " .. j)
    end
    -- the delta half against the regression formula, on every 100th file
    for i = 1, #r.matrices, 100 do
      local m = r.matrices[i]
      local st = m:select_cols((function() local c = {} for j = 1, 19 do c[j] = j end return c end)())
      for _, t in ipairs({1, 2, m:rows() // 2, m:rows()}) do
        for _, j in ipairs({1, 7, 19}) do
          assert.near(delta_ref(st, t, j, 2), m:get(t, 19 + j), 1e-3)
        end
      end
    end
    assert.is_true(gk.seconds() - t0 < 60)
  end)
end)
