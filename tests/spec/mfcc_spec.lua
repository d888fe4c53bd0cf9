-- gk.mfcc against torchaudio.compliance.kaldi fixtures (scripts/ref/mfcc_ref.py), frame
-- counts by Kaldi's formula, presets, and errors that name the option.
local gk = require "gmmkit"
local H = require "spec_helper"

local data = H.source_dir .. "/tests/data/mfcc/"

local max_abs_diff = H.max_abs_diff

--- The cases of tests/data/mfcc/cases.txt as {name=, wav=, opts=}.
local function cases()
  local list = {}
  for line in io.lines(data .. "cases.txt") do
    if not line:match("^#") and line:match("%S") then
      local words = {}
      for w in line:gmatch("%S+") do words[#words + 1] = w end
      local opts = {}
      for i = 3, #words do
        local k, v = words[i]:match("^([%w_]+)=(.*)$")
        if v == "true" then v = true elseif v == "false" then v = false
        elseif tonumber(v) then v = tonumber(v) end
        if (k == "num_ceps" or k == "num_mel_bins") then v = math.tointeger(v) end
        opts[k] = v
      end
      list[#list + 1] = {name = words[1], wav = words[2], opts = opts}
    end
  end
  return list
end

describe("gk.mfcc", function()
  it("matches torchaudio.compliance.kaldi within 1e-3 on every coefficient", function()
    local list = cases()
    assert.is_true(#list >= 15)
    for _, c in ipairs(list) do
      local s = gk.audio.load(data .. c.wav)
      local m = gk.mfcc.compute(s, c.opts)
      local ref = gk.matrix.load(data .. c.name .. ".npy")
      local d = max_abs_diff(m, ref)
      assert(d <= 1e-3, c.name .. ": max |diff| " .. d)
    end
  end)

  it("plans once and computes many times, leaving the extractor unchanged", function()
    local ex = gk.mfcc.new({sample_frequency = 8000})
    local s = gk.audio.load(data .. "chirp8k.wav")
    local a = ex:compute(s)
    local b = ex:compute(s:slice(0, 0.4))
    local c = ex:compute(s)
    assert.equal(0, max_abs_diff(a, c))
    assert.equal(13, ex:dims())
    assert.equal(ex:frames(#s), a:rows())
    assert.equal(ex:frames(3200), b:rows())
    local m, e = ex:compute(s, {energy = true})
    assert.equal(1, e:cols())
    assert.equal(m:get(5, 1), e:get(5, 1))
    assert.matches("gmmkit.Mfcc", tostring(ex))
    ex:close()
    assert.error_matches(function() ex:compute(s) end, "closed")
  end)

  it("counts frames by Kaldi's formula for both snip_edges settings", function()
    local s = gk.audio.load(data .. "tones8k.wav")  -- 2803 samples
    local n, len, shift = #s, 200, 80
    local a = gk.mfcc.compute(s, {snip_edges = true})
    local b = gk.mfcc.compute(s, {snip_edges = false})
    assert.equal(1 + (n - len) // shift, a:rows())
    assert.equal((n + shift // 2) // shift, b:rows())
  end)

  it("gives finite features for silence", function()
    local z = gk.audio.signal(gk.matrix.new(16000, 1, 0, "float32"), 16000)
    for _, o in ipairs({{}, {htk_compat = true, use_energy = false}, {output = "fbank"}}) do
      local m = gk.mfcc.compute(z, o)
      for i = 1, m:rows(), 17 do
        for j = 1, m:cols() do
          local v = m:get(i, j)
          assert(v == v and v > -math.huge and v < math.huge)
        end
      end
    end
  end)

  it("has presets, fbank output and deltas", function()
    local s8 = gk.audio.load(data .. "chirp8k.wav")
    local s16 = gk.audio.load(data .. "vowel16k.wav")
    assert.equal(38, gk.mfcc.compute(s8, {preset = "paper"}):cols())
    assert.equal(23, gk.mfcc.compute(s8, {preset = "sre8k"}):cols())
    assert.equal(30, gk.mfcc.compute(s16, {preset = "sre16k"}):cols())
    assert.equal(13, gk.mfcc.compute(s16, {preset = "htk"}):cols())
    assert.equal(23, gk.mfcc.fbank(s16, {use_energy = false}):cols())
    assert.equal(24, gk.mfcc.fbank(s16, {}):cols())
    assert.equal(30, gk.mfcc.defaults("paper").frame_length)
    -- paper = the static cepstra with their deltas (window 2).
    local st = gk.mfcc.compute(s8, {preset = "paper", delta_order = 0})
    local full = gk.mfcc.compute(s8, {preset = "paper"})
    local d = gk.features.deltas(st, {order = 1, window = 2})
    assert.equal(0, max_abs_diff(full, d))
    -- dither is seeded: same seed, same numbers; another seed, others.
    local a = gk.mfcc.compute(s8, {dither = 1, seed = 1})
    local b = gk.mfcc.compute(s8, {dither = 1, seed = 1})
    local c = gk.mfcc.compute(s8, {dither = 1, seed = 2})
    assert.equal(0, max_abs_diff(a, b))
    assert.is_true(max_abs_diff(a, c) > 0)
  end)

  describe("bad options name the option", function()
    local s = gk.audio.load(data .. "vowel16k.wav")
    it("unknown option, with a suggestion", function()
      assert.error_matches(function() gk.mfcc.compute(s, {num_cep = 13}) end,
        "unknown option 'num_cep' %(did you mean 'num_ceps'%?%)")
      assert.error_matches(function() gk.mfcc.new({window_type = "hamm"}) end, "window_type")
      assert.error_matches(function() gk.mfcc.new({preset = "papr"}) end, "did you mean 'paper'")
    end)
    it("more cepstra than bins", function()
      assert.error_matches(function() gk.mfcc.compute(s, {num_ceps = 24}) end,
        "option 'num_ceps' %(24%) must not exceed option 'num_mel_bins' %(23%)")
    end)
    it("an empty mel bin", function()
      assert.error_matches(function() gk.mfcc.compute(s, {num_mel_bins = 128}) end,
        "option 'num_mel_bins' 128 is too large: mel bin %d+ .* contains no FFT bin")
    end)
    it("a frame longer than the signal", function()
      assert.error_matches(function() gk.mfcc.compute(s:slice(0, 0.02), {}) end,
        "shorter than one frame: option 'frame_length' 25")
    end)
    it("high_freq above Nyquist", function()
      assert.error_matches(function() gk.mfcc.compute(s, {high_freq = 9000}) end,
        "option 'high_freq' 9000 Hz is above the Nyquist frequency 8000 Hz")
    end)
    it("a rate that differs from sample_frequency", function()
      assert.error_matches(function() gk.mfcc.new({preset = "sre8k"}):compute(s) end,
        "rate 16000 Hz differs from option 'sample_frequency' 8000")
    end)
  end)
end)
