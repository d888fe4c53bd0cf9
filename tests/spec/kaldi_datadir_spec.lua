-- gk.kaldi.data_dir (Kaldi data directories checked as utils/validate_data_dir.sh does),
-- audio from them (wav.scp paths and pipes, segments), gk.features.extract over them and
-- scripts/make-kaldi-dir.
local gk = require "gmmkit"
local helper = require "spec_helper"

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- A tone with a little noise-like content, `n` samples at `rate` Hz.
local function tone(n, rate, f0)
  local t = {}
  for i = 1, n do t[i] = 0.3 * math.sin(i * f0 / rate * 2 * math.pi) + 0.05 * math.sin(i * 1.3 + i * i * 1e-5) end
  return gk.audio.signal(t, rate)
end

-- A valid data directory in a fresh folder: three utterances of two speakers, one of them
-- read through a pipe. Returns the folder and the wav folder.
local function make_dir(opts)
  opts = opts or {}
  local d = helper.tmpdir()
  os.execute("mkdir -p " .. q(d .. "/wav"))
  for i, name in ipairs{"a1", "a2", "b1"} do gk.audio.save(d .. "/wav/" .. name .. ".wav", tone(4000 + 800 * i, 8000, 300 + 90 * i)) end
  write(d .. "/utt2spk", "spka-a1 spka\nspka-a2 spka\nspkb-b1 spkb\n")
  write(d .. "/spk2utt", "spka spka-a1 spka-a2\nspkb spkb-b1\n")
  write(d .. "/wav.scp", "spka-a1 " .. d .. "/wav/a1.wav\nspka-a2 cat " .. q(d .. "/wav/a2.wav") .. " |\n" ..
        "spkb-b1 " .. d .. "/wav/b1.wav\n")
  return d
end

local function expect_error(d, pattern)
  local ok, err = pcall(gk.kaldi.data_dir, d)
  assert.is_false(ok)
  assert.is_truthy(tostring(err):find(pattern, 1, true), "message: " .. tostring(err) .. "\nwanted: " .. pattern)
  return tostring(err)
end

describe("gk.kaldi.data_dir", function()
  it("reads a valid directory", function()
    local d = make_dir()
    local dd = gk.kaldi.data_dir(d)
    assert.same({"spka-a1", "spka-a2", "spkb-b1"}, dd.utterances)
    assert.same({["spka-a1"] = "spka", ["spka-a2"] = "spka", ["spkb-b1"] = "spkb"}, dd.utt2spk)
    assert.same({spka = {"spka-a1", "spka-a2"}, spkb = {"spkb-b1"}}, dd.spk2utt)
    assert.equal(d .. "/wav/a1.wav", dd.wav["spka-a1"])
    assert.equal("cat " .. q(d .. "/wav/a2.wav") .. " |", dd.wav["spka-a2"])
    assert.is_nil(dd.segments)
    assert.equal(d, dd.path)
    assert.same({}, dd.warnings)
    assert.is_truthy(gk.doc(gk.kaldi.data_dir):find("validate_data_dir", 1, true))
  end)

  it("accepts a last line without its newline, tabs between fields", function()
    local d = make_dir()
    write(d .. "/utt2spk", "spka-a1\tspka\nspka-a2 spka\nspkb-b1  spkb")
    assert.equal(3, #gk.kaldi.data_dir(d).utterances)
  end)

  it("names the file and line of an unsorted file, with the fix", function()
    local d = make_dir()
    write(d .. "/utt2spk", "spka-a2 spka\nspka-a1 spka\nspkb-b1 spkb\n")
    expect_error(d, d .. "/utt2spk line 1: 'spka-a2' comes before 'spka-a1' on line 2: sort the file with LC_ALL=C sort")
  end)

  it("sorts in C byte order, not by the locale", function()
    local d = make_dir()
    -- 'B' (0x42) sorts before 'a' (0x61) in C order.
    write(d .. "/utt2spk", "B x\na x\n")
    write(d .. "/spk2utt", "x B a\n")
    write(d .. "/wav.scp", "B " .. d .. "/wav/a1.wav\na " .. d .. "/wav/b1.wav\n")
    assert.same({"B", "a"}, gk.kaldi.data_dir(d).utterances)
  end)

  it("finds a duplicate key", function()
    local d = make_dir()
    write(d .. "/wav.scp", "spka-a1 x.wav\nspka-a1 y.wav\nspkb-b1 z.wav\n")
    expect_error(d, d .. "/wav.scp line 2: 'spka-a1' appears again (first on line 1)")
  end)

  it("finds empty lines, DOS line endings and wrong field counts", function()
    local d = make_dir()
    write(d .. "/utt2spk", "spka-a1 spka\n\nspka-a2 spka\nspkb-b1 spkb\n")
    expect_error(d, d .. "/utt2spk line 2: empty line: remove it")
    write(d .. "/utt2spk", "spka-a1 spka\r\nspka-a2 spka\r\nspkb-b1 spkb\r\n")
    expect_error(d, "utt2spk line 1: carriage return (DOS line endings)")
    write(d .. "/utt2spk", "spka-a1 spka extra\nspka-a2 spka\nspkb-b1 spkb\n")
    expect_error(d, "utt2spk line 1: 3 fields, expected 2")
    write(d .. "/utt2spk", "")
    expect_error(d, "utt2spk: the file is empty")
  end)

  it("finds utt2spk and spk2utt that disagree", function()
    local d = make_dir()
    write(d .. "/spk2utt", "spka spka-a1\nspkb spka-a2 spkb-b1\n")
    expect_error(d, d .. "/spk2utt line 2: utterance 'spka-a2' is under speaker 'spkb', utt2spk says 'spka'")
    write(d .. "/spk2utt", "spka spka-a1\nspkb spkb-b1\n")
    expect_error(d, "utterance 'spka-a2' of utt2spk is under no speaker")
    write(d .. "/spk2utt", "spka spka-a1 spka-a2 spka-a3\nspkb spkb-b1\n")
    expect_error(d, "spk2utt line 1: utterance 'spka-a3' is not in utt2spk")
    os.remove(d .. "/spk2utt")
    expect_error(d, "spk2utt: missing: make it from utt2spk with utils/utt2spk_to_spk2utt.pl")
  end)

  it("finds an utterance without audio and audio without an utterance", function()
    local d = make_dir()
    write(d .. "/wav.scp", "spka-a1 a.wav\nspkb-b1 b.wav\n")
    expect_error(d, d .. "/utt2spk line 2: utterance 'spka-a2' has no line in " .. d .. "/wav.scp")
    write(d .. "/wav.scp", "spka-a1 a.wav\nspka-a2 a.wav\nspka-a3 a.wav\nspkb-b1 b.wav\n")
    expect_error(d, "wav.scp line 3: utterance 'spka-a3' is not in utt2spk")
    write(d .. "/wav.scp", "spka-a1 a.wav\nspka-a2 | cat a.wav\nspkb-b1 b.wav\n")
    expect_error(d, "wav.scp line 2: '| cat a.wav' starts with '|'")
    write(d .. "/wav.scp", "spka-a1 a.wav\nspka-a2\nspkb-b1 b.wav\n")
    expect_error(d, "wav.scp line 2: recording 'spka-a2' has no file or command")
  end)

  it("checks segments", function()
    local d = make_dir()
    write(d .. "/wav.scp", "rec " .. d .. "/wav/a1.wav\n")
    write(d .. "/segments", "spka-a1 rec 0 0.1\nspka-a2 rec 0.1 0.2\nspkb-b1 rec 0.2 -1\n")
    local dd = gk.kaldi.data_dir(d)
    assert.same({recording = "rec", start = 0.2, stop = -1}, dd.segments["spkb-b1"])
    write(d .. "/segments", "spka-a1 rec 0 0.1\nspka-a2 rec 0.2 0.1\nspkb-b1 rec 0.2 -1\n")
    expect_error(d, d .. "/segments line 2: stop '0.1' must be a time in seconds after the start 0.2")
    write(d .. "/segments", "spka-a1 rec -1 0.1\nspka-a2 rec 0.1 0.2\nspkb-b1 rec 0.2 -1\n")
    expect_error(d, "segments line 1: start '-1' is not a time >= 0")
    write(d .. "/segments", "spka-a1 rec 0 0.1\nspka-a2 other 0.1 0.2\nspkb-b1 rec 0.2 -1\n")
    expect_error(d, "segments line 2: recording 'other' is not in wav.scp")
    write(d .. "/segments", "spka-a1 rec 0 x\nspka-a2 rec 0.1 0.2\nspkb-b1 rec 0.2 -1\n")
    expect_error(d, "segments line 1: stop 'x'")
    write(d .. "/segments", "spka-a1 rec 0 0.1 9\nspka-a2 rec 0.1 0.2\nspkb-b1 rec 0.2 -1\n")
    expect_error(d, "segments line 1: 5 fields, expected 4")
    write(d .. "/segments", "spka-a1 rec 0 0.1\nspkb-b1 rec 0.2 -1\n")
    expect_error(d, "utt2spk line 2: utterance 'spka-a2' has no line in " .. d .. "/segments")
    write(d .. "/wav.scp", "rec " .. d .. "/wav/a1.wav\nunused x.wav\n")
    write(d .. "/segments", "spka-a1 rec 0 0.1\nspka-a2 rec 0.1 0.2\nspkb-b1 rec 0.2 -1\n")
    expect_error(d, "wav.scp line 2: recording 'unused' has no segment")
  end)

  it("warns when utt2spk is not sorted by speaker too", function()
    local d = make_dir()
    write(d .. "/utt2spk", "u1 s2\nu2 s1\n")
    write(d .. "/spk2utt", "s1 u2\ns2 u1\n")
    write(d .. "/wav.scp", "u1 a.wav\nu2 b.wav\n")
    local dd = gk.kaldi.data_dir(d)
    assert.equal(1, #dd.warnings)
    assert.is_truthy(dd.warnings[1]:find("not sorted by speaker as well", 1, true))
  end)

  it("refuses what is not a data directory", function()
    local d = helper.tmpdir()
    expect_error(d, d .. "/utt2spk: missing")
    assert.has_error(function() gk.kaldi.data_dir(42) end)
    os.execute("mkfifo " .. q(d .. "/fifo") .. " && mkdir " .. q(d .. "/f") .. " && ln -s ../fifo " .. q(d .. "/f/utt2spk"))
    expect_error(d .. "/f", "FIFO")
  end)

  it("raises at the caller's line", function()
    local d = helper.tmpdir()
    local ok, err = pcall(function() gk.kaldi.data_dir(d) end)
    assert.is_false(ok)
    assert.is_truthy(err:find("kaldi_datadir_spec.lua:%d+:"), err)
  end)
end)
