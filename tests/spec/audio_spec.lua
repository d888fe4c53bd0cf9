-- gk.audio: loading, saving, signals, and clear errors on bad files.
local gk = require "gmmkit"
local H = require "spec_helper"

local data = H.source_dir .. "/tests/data/mfcc/"

local function write(path, bytes)
  local f = assert(io.open(path, "wb"))
  f:write(bytes)
  f:close()
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

describe("gk.audio", function()
  local tmp
  setup(function() tmp = H.tmpdir() end)
  teardown(function() os.execute("rm -rf '" .. tmp .. "'") end)

  it("loads a 16-bit WAV as samples / 32768 (decoded here by hand)", function()
    local s = gk.audio.load(data .. "tones8k.wav")
    assert.equal(8000, s.rate)
    local bytes = read(data .. "tones8k.wav")
    local n = (#bytes - 44) // 2
    assert.equal(n, #s)
    assert.near(n / 8000, s:duration(), 1e-12)
    local m = s:samples()
    for _, i in ipairs({1, 2, 100, n}) do
      local v = string.unpack("<i2", bytes, 44 + 2 * (i - 1) + 1)
      assert.equal(v / 32768, m:get(i, 1))
    end
  end)

  it("slices by time and reports itself", function()
    local s = gk.audio.load(data .. "chirp8k.wav")
    local a = s:slice(0.1, 0.35)
    assert.equal(2000, #a)
    assert.equal(s:samples():get(801, 1), a:samples():get(1, 1))
    assert.equal(#s, #s:slice())
    assert.matches("8000 Hz", tostring(s))
    assert.has_error(function() s:slice(0.5, 0.2) end)
    assert.has_error(function() s:slice(-1) end)
  end)

  it("saves WAV and FLAC atomically and reads them back", function()
    local s = gk.audio.load(data .. "vowel16k.wav")
    for _, ext in ipairs({"wav", "flac"}) do
      local p = tmp .. "/x." .. ext
      gk.audio.save(p, s)
      local r = gk.audio.load(p)
      assert.equal(#s, #r)
      assert.equal(16000, r.rate)
      local a, b = s:samples(), r:samples()
      for _, i in ipairs({1, 500, #s}) do assert.equal(a:get(i, 1), b:get(i, 1)) end
    end
    local p = tmp .. "/f.wav"
    gk.audio.save(p, s, {encoding = "float"})
    assert.matches("32 bit float", gk.audio.info(p).format)
    assert.has_error(function() gk.audio.save(tmp .. "/x.mp4", s) end)
    assert.error_matches(function() gk.audio.save(tmp .. "/x.wav", s, {encodin = "float"}) end,
      "did you mean 'encoding'")
  end)

  it("mixes channels, picks one, and resamples", function()
    -- A two-channel signal built from two mono files by libsndfile through save/load is not
    -- possible from Lua, so check resampling and channel validation on mono.
    local s = gk.audio.load(data .. "chirp16k.wav")
    local r = gk.audio.load(data .. "chirp16k.wav", {rate = 8000, quality = "best"})
    assert.equal(8000, r.rate)
    assert.near(#s / 2, #r, 2)
    local r2 = gk.audio.resample(s, 8000, {quality = "fast"})
    assert.near(#r, #r2, 2)
    assert.equal(#s, #gk.audio.load(data .. "chirp16k.wav", {channel = 1}))
    assert.error_matches(function() gk.audio.load(data .. "chirp16k.wav", {channel = 2}) end,
      "chirp16k.wav: option 'channel' 2 is beyond the file's 1 channel")
    assert.error_matches(function() gk.audio.load(data .. "chirp16k.wav", {quality = "good"}) end,
      "quality")
    assert.error_matches(function() gk.audio.load(data .. "chirp16k.wav", {rat = 8000}) end,
      "did you mean 'rate'")
  end)

  it("loads from a string of bytes (the same signal as from the file)", function()
    local bytes = read(data .. "tones8k.wav")
    local a, b = gk.audio.load_string(bytes), gk.audio.load(data .. "tones8k.wav")
    assert.equal(#b, #a)
    assert.equal(b:samples():get(77, 1), a:samples():get(77, 1))
    assert.error_matches(function() gk.audio.load_string(bytes:sub(1, 30)) end, "<string>")
  end)

  it("makes signals from samples and lists folders", function()
    local s = gk.audio.signal({0, 0.5, -0.5, 0.25}, 8000)
    assert.equal(4, #s)
    assert.equal(-0.5, s:samples():get(3, 1))
    local files = gk.audio.list(data)
    assert.equal(4, #files)
    assert.matches("chirp16k.wav$", files[1])
    s:close()
    assert.has_error(function() return #s end)
  end)

  describe("bad files fail with the file name and the reason", function()
    it("missing", function()
      assert.error_matches(function() gk.audio.load(tmp .. "/nope.wav") end,
        "nope.wav: cannot open: No such file")
    end)
    it("not audio", function()
      write(tmp .. "/text.wav", "hello, this is not a sound file at all\n")
      assert.error_matches(function() gk.audio.load(tmp .. "/text.wav") end,
        "text.wav: not an audio file")
    end)
    it("empty", function()
      write(tmp .. "/empty.wav", "")
      assert.error_matches(function() gk.audio.load(tmp .. "/empty.wav") end, "empty.wav: empty file")
    end)
    it("truncated", function()
      local bytes = read(data .. "chirp8k.wav")
      write(tmp .. "/trunc.wav", bytes:sub(1, #bytes - 777))
      assert.error_matches(function() gk.audio.load(tmp .. "/trunc.wav") end, "trunc.wav: truncated")
    end)
    it("absurd header", function()
      local bytes = read(data .. "chirp8k.wav")
      -- 65535 channels, and then a zero sample rate, in the fmt chunk.
      write(tmp .. "/absurd.wav", bytes:sub(1, 22) .. "\255\255" .. bytes:sub(25))
      local ok, e = pcall(gk.audio.load, tmp .. "/absurd.wav")
      assert.is_false(ok)
      assert.matches("absurd.wav", e)
      write(tmp .. "/absurd2.wav", bytes:sub(1, 24) .. "\0\0\0\0" .. bytes:sub(29))
      ok, e = pcall(gk.audio.load, tmp .. "/absurd2.wav")
      assert.is_false(ok)
      assert.matches("absurd2.wav", e)
    end)
    it("a folder", function()
      assert.error_matches(function() gk.audio.load(tmp) end, "is a directory")
    end)
  end)
end)
