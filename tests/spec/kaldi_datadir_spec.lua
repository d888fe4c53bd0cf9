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

describe("gk.features.extract over a data directory", function()
  local function same_matrix(a, b)
    assert.equal(a:rows(), b:rows())
    assert.equal(a:cols(), b:cols())
    assert.equal(0, helper.max_abs_diff(a, b))
  end

  it("equals extraction from the same files by path, keyed by utterance, pipes included", function()
    local d = make_dir()
    local dd = gk.kaldi.data_dir(d)
    local opts = {preset = "paper", progress = false}
    local r = gk.features.extract(dd, opts)
    assert.same({"spka-a1", "spka-a2", "spkb-b1"}, r.keys)
    assert.same({d .. "/wav/a1.wav", "cat " .. q(d .. "/wav/a2.wav") .. " |", d .. "/wav/b1.wav"}, r.paths)
    assert.equal(8000, r.rate)
    local byp = gk.features.extract({d .. "/wav/a1.wav", d .. "/wav/a2.wav", d .. "/wav/b1.wav"}, opts)
    for i = 1, 3 do same_matrix(byp.matrices[i], r.matrices[i]) end
    assert.same({}, r.failed)
  end)

  it("resamples a pipe's output like a file's", function()
    local d = make_dir()
    local dd = gk.kaldi.data_dir(d)
    local r = gk.features.extract(dd, {rate = 16000, progress = false})
    local byp = gk.features.extract({d .. "/wav/a2.wav"}, {rate = 16000, progress = false})
    assert.equal(3, r.resampled)
    assert.equal(byp.matrices[1]:rows(), r.matrices[2]:rows())
    -- A whole signal resampled at once and in blocks differ in the last bits only.
    assert.is_true(helper.max_abs_diff(byp.matrices[1], r.matrices[2]) < 1e-3)
  end)

  it("names the utterance and the command that failed", function()
    local d = make_dir()
    write(d .. "/wav.scp", "spka-a1 " .. d .. "/wav/a1.wav\nspka-a2 sh -c 'exit 3' |\nspkb-b1 " .. d .. "/wav/nope.wav\n")
    local dd = gk.kaldi.data_dir(d)
    local r = gk.features.extract(dd, {preset = "paper", progress = false})
    assert.same({"spka-a1"}, r.keys)
    assert.equal(2, #r.failed)
    assert.equal("spka-a2", r.failed[1].key)
    assert.equal("sh -c 'exit 3' |", r.failed[1].path)
    assert.equal("utterance 'spka-a2': the command 'sh -c 'exit 3' ' failed with exit status 3 (run it in a shell to see why)",
                 r.failed[1].error)
    assert.equal("spkb-b1", r.failed[2].key)
    assert.is_truthy(r.failed[2].error:find("utterance 'spkb-b1': " .. d .. "/wav/nope.wav: cannot open", 1, true))
    local ok, err = pcall(gk.features.extract, dd, {preset = "paper", progress = false, strict = true})
    assert.is_false(ok)
    assert.is_truthy(err:find("utterance 'spka-a2': the command", 1, true), err)
    write(d .. "/wav.scp", "spka-a1 " .. d .. "/wav/a1.wav\nspka-a2 cat /dev/null |\nspkb-b1 no-such-command-here |\n")
    r = gk.features.extract(gk.kaldi.data_dir(d), {preset = "paper", progress = false})
    assert.is_truthy(r.failed[1].error:find("utterance 'spka-a2': the output of 'cat /dev/null ': empty", 1, true),
                     r.failed[1].error)
    assert.is_truthy(r.failed[2].error:find("exit status 127 (command not found?)", 1, true), r.failed[2].error)
  end)

  it("needs a rate when every entry is a command", function()
    local d = make_dir()
    write(d .. "/wav.scp", "spka-a1 cat " .. q(d .. "/wav/a1.wav") .. " |\nspka-a2 cat " .. q(d .. "/wav/a2.wav") ..
          " |\nspkb-b1 cat " .. q(d .. "/wav/b1.wav") .. " |\n")
    local dd = gk.kaldi.data_dir(d)
    local ok, err = pcall(gk.features.extract, dd, {progress = false})
    assert.is_false(ok)
    assert.is_truthy(err:find("option 'rate' is needed", 1, true), err)
    assert.equal(3, #gk.features.extract(dd, {rate = 8000, progress = false}).matrices)
  end)

  it("cuts segments as Kaldi's extract-segments does (samples from floor(start * rate) to floor(stop * rate))", function()
    local d = make_dir()
    local rec = d .. "/wav/rec.wav"
    gk.audio.save(rec, tone(8000, 8000, 440))
    write(d .. "/wav.scp", "r1 " .. rec .. "\nr2 cat " .. q(rec) .. " |\n")
    write(d .. "/segments", "spka-a1 r1 0.1003 0.4567\nspka-a2 r2 0.25 -1\nspkb-b1 r1 0.5 1.3\n")
    local dd = gk.kaldi.data_dir(d)
    local r = gk.features.extract(dd, {progress = false})
    assert.same({}, r.failed)
    -- The reference: the whole recording, the samples picked by index arithmetic.
    local x = gk.audio.load(rec):samples()
    local n = x:rows()
    local function cut(t0, t1)
      local a = math.floor(t0 * 8000)
      local b = t1 < 0 and n or math.min(n, math.floor(t1 * 8000))
      local t = {}
      for i = a + 1, b do t[#t + 1] = x:get(i, 1) end
      return gk.mfcc.compute(gk.audio.signal(t, 8000), {sample_frequency = 8000})
    end
    same_matrix(cut(0.1003, 0.4567), r.matrices[1])
    same_matrix(cut(0.25, -1), r.matrices[2])
    same_matrix(cut(0.5, 1.3), r.matrices[3])  -- 0.3 s past the end: truncated, as Kaldi does
    assert.is_true(math.abs(r.seconds - ((3653 - 802) + (8000 - 2000) + (8000 - 4000)) / 8000) < 1e-9)
  end)

  it("reads a recording once for all its segments (its command runs once)", function()
    local d = make_dir()
    local rec = d .. "/wav/rec.wav"
    gk.audio.save(rec, tone(8000, 8000, 440))
    write(d .. "/wav.scp", "r1 echo run >> " .. q(d .. "/log") .. "; cat " .. q(rec) .. " |\n")
    write(d .. "/segments", "spka-a1 r1 0 0.3\nspka-a2 r1 0.3 0.55\nspkb-b1 r1 0.55 -1\n")
    local r = gk.features.extract(gk.kaldi.data_dir(d), {progress = false, rate = 8000})
    assert.same({}, r.failed)
    local f = io.open(d .. "/log")
    assert.equal("run\n", f:read("a"))
    f:close()
    local x = gk.audio.load(rec):samples()
    local function cut(a, b)
      local t = {}
      for i = a + 1, b do t[#t + 1] = x:get(i, 1) end
      return gk.mfcc.compute(gk.audio.signal(t, 8000), {sample_frequency = 8000})
    end
    assert.equal(0, helper.max_abs_diff(cut(0, 2400), r.matrices[1]))
    assert.equal(0, helper.max_abs_diff(cut(2400, 4400), r.matrices[2]))
    assert.equal(0, helper.max_abs_diff(cut(4400, 8000), r.matrices[3]))
  end)

  it("refuses segments out of the recording", function()
    local d = make_dir()
    local rec = d .. "/wav/rec.wav"
    gk.audio.save(rec, tone(8000, 8000, 440))
    write(d .. "/wav.scp", "r1 " .. rec .. "\n")
    write(d .. "/segments", "spka-a1 r1 0 0.05\nspka-a2 r1 1.2 1.5\nspkb-b1 r1 0.5 1.6\n")
    local r = gk.features.extract(gk.kaldi.data_dir(d), {progress = false})
    assert.equal(3, #r.failed)
    assert.is_truthy(r.failed[1].error:find("utterance 'spka-a1': the segment [0.000, 0.050] s is 0.1 s or shorter", 1, true))
    assert.is_truthy(r.failed[2].error:find("starts at 1.200 s, not before the end of the recording (1.000 s)", 1, true))
    assert.is_truthy(r.failed[3].error:find("ends at 1.600 s, 0.5 s or more after the end", 1, true))
  end)

  it("refuses a table that is not a data directory", function()
    assert.has_error(function() gk.features.extract({utterances = {"u"}}, {rate = 8000}) end)
    assert.has_error(function() gk.features.extract({utterances = {"u"}, wav = {}}, {rate = 8000}) end,
                     "bad argument #1 to 'extract' (data directory: recording 'u' has no wav.scp entry)")
    assert.has_error(function()
      gk.features.extract({utterances = {"u"}, wav = {r = "x.wav"}, segments = {u = {recording = "r", start = 2, stop = 1}}},
                          {rate = 8000})
    end)
  end)
end)

describe("gk.features.extract to an archive (option output)", function()
  -- A data directory whose every entry is a command that also logs its utterance id, so
  -- that the extractions are counted by the commands themselves.
  local function logged_dir(n)
    local d = helper.tmpdir()
    os.execute("mkdir -p " .. q(d .. "/wav"))
    local u2s, s2u, wav = {}, {}, {}
    for i = 1, n do
      local u = string.format("s-%02d", i)
      gk.audio.save(d .. "/wav/" .. u .. ".wav", tone(3000 + 500 * i, 8000, 200 + 37 * i))
      u2s[#u2s + 1] = u .. " s\n"
      s2u[#s2u + 1] = u
      wav[#wav + 1] = u .. " echo " .. u .. " >> " .. q(d .. "/log") .. "; cat " .. q(d .. "/wav/" .. u .. ".wav") .. " |\n"
    end
    write(d .. "/utt2spk", table.concat(u2s))
    write(d .. "/spk2utt", "s " .. table.concat(s2u, " ") .. "\n")
    write(d .. "/wav.scp", table.concat(wav))
    return d
  end

  local function log_of(d)
    local f = io.open(d .. "/log", "r")
    if not f then return {} end
    local t = {}
    for l in f:lines() do t[#t + 1] = l end
    f:close()
    table.sort(t)
    return t
  end

  local function subset(dd, first, last)
    local s = {}
    for k, v in pairs(dd) do s[k] = v end
    s.utterances = table.move(dd.utterances, first, last, 1, {})
    return s
  end

  local opts = {rate = 8000, progress = false}
  local function with(extra)
    local o = {}
    for k, v in pairs(opts) do o[k] = v end
    for k, v in pairs(extra) do o[k] = v end
    return o
  end

  it("writes each utterance to the archive, read back equal to the returned matrices", function()
    local d = logged_dir(4)
    local dd = gk.kaldi.data_dir(d)
    local mem = gk.features.extract(dd, opts)
    local spec = "ark,scp:" .. d .. "/feats.ark," .. d .. "/feats.scp"
    local r = gk.features.extract(dd, with{output = spec})
    assert.same(dd.utterances, r.keys)
    assert.same({}, r.matrices)
    assert.equal(0, r.skipped)
    assert.equal(d .. "/feats.ark", r.archive)
    assert.equal(mem.frames, r.frames)
    local back = gk.kaldi.read_all("scp:" .. d .. "/feats.scp")
    assert.same(dd.utterances, back.keys)
    for i = 1, 4 do assert.equal(0, helper.max_abs_diff(mem.matrices[i], back.matrices[i])) end
    -- The archive read from its start holds the same, in utterance order.
    local seq = gk.kaldi.read_all("ark:" .. d .. "/feats.ark")
    assert.same(dd.utterances, seq.keys)
  end)

  it("compresses as copy-feats --compress=true when asked", function()
    local d = logged_dir(2)
    local dd = gk.kaldi.data_dir(d)
    local mem = gk.features.extract(dd, opts)
    gk.features.extract(dd, with{output = "ark:" .. d .. "/c.ark", compress = true})
    local back = gk.kaldi.read_all("ark:" .. d .. "/c.ark")
    for i = 1, 2 do
      local m = mem.matrices[i]
      local lo, hi = math.huge, -math.huge
      for a = 1, m:rows() do for b = 1, m:cols() do lo = math.min(lo, m:get(a, b)); hi = math.max(hi, m:get(a, b)) end end
      -- 8-bit codes between column percentiles: errors within a few 1/255 of the range.
      assert.is_true(helper.max_abs_diff(m, back.matrices[i]) < (hi - lo) * 0.05)
    end
  end)

  it("resumes: keys the script file lists are skipped, the rest go to a new archive, the script file lists each once", function()
    local d = logged_dir(5)
    local dd = gk.kaldi.data_dir(d)
    local mem = gk.features.extract(dd, opts)
    os.remove(d .. "/log")
    local spec = "ark,scp:" .. d .. "/feats.ark," .. d .. "/feats.scp"
    -- A first run that stopped after three utterances (as a run interrupted by Ctrl-C leaves it).
    gk.features.extract(subset(dd, 1, 3), with{output = spec})
    assert.same({"s-01", "s-02", "s-03"}, log_of(d))
    os.remove(d .. "/log")
    local r = gk.features.extract(dd, with{output = spec})
    assert.same({"s-04", "s-05"}, log_of(d))  -- only the two missing utterances were extracted
    assert.same({"s-04", "s-05"}, r.keys)
    assert.equal(3, r.skipped)
    assert.equal(d .. "/feats.2.ark", r.archive)
    local back = gk.kaldi.read_all("scp:" .. d .. "/feats.scp")
    assert.same(dd.utterances, back.keys)
    for i = 1, 5 do assert.equal(0, helper.max_abs_diff(mem.matrices[i], back.matrices[i])) end
    assert.is_nil(io.open(d .. "/feats.scp.part", "r"))
    -- Once complete, a run extracts nothing and leaves the files as they are.
    os.remove(d .. "/log")
    local r3 = gk.features.extract(dd, with{output = spec})
    assert.same({}, log_of(d))
    assert.equal(5, r3.skipped)
    assert.same({}, r3.keys)
    assert.equal(5, #gk.kaldi.read_all("scp:" .. d .. "/feats.scp").keys)
  end)

  it("refuses a script file whose archive is gone, and outputs that cannot be", function()
    local d = logged_dir(2)
    local dd = gk.kaldi.data_dir(d)
    write(d .. "/feats.scp", "s-01 " .. d .. "/gone.ark:6\n")
    local ok, err = pcall(gk.features.extract, dd, with{output = "ark,scp:" .. d .. "/feats.ark," .. d .. "/feats.scp"})
    assert.is_false(ok)
    assert.is_truthy(err:find(d .. "/feats.scp line 1: its archive '" .. d .. "/gone.ark' is missing", 1, true), err)
    ok, err = pcall(gk.features.extract, {d .. "/wav/s-01.wav"}, with{output = "ark:" .. d .. "/x.ark"})
    assert.is_truthy(err:find("option 'output' needs a data directory", 1, true), err)
    ok, err = pcall(gk.features.extract, dd, with{output = "ark,scp:" .. d .. "/x.ark"})
    assert.is_truthy(err:find("option 'output'", 1, true), err)
    ok, err = pcall(gk.features.extract, dd, with{compress = true})
    assert.is_truthy(err:find("option 'compress' needs option 'output'", 1, true), err)
    -- output = 'fbank' keeps its meaning (the MFCC option: the feature kind).
    assert.is_true(gk.features.extract(dd, with{output = "fbank"}).matrices[1]:cols() > 13)
  end)
end)

describe("scripts/make-kaldi-dir", function()
  local script = helper.source_dir .. "/scripts/make-kaldi-dir"

  it("makes a valid directory from names with spaces and quotes, pipes quoted for the shell", function()
    local d = helper.tmpdir()
    local wavs = d .. "/my wavs"
    os.execute("mkdir -p " .. q(wavs))
    local names = {"0_al ice_1.wav", "1_o'neil_2.wav", "2_al ice_3.wav", "3_bob_4.wav", "4_b|ob_5.wav"}
    for i, name in ipairs(names) do gk.audio.save(wavs .. "/" .. name, tone(3000 + 200 * i, 8000, 250 + 40 * i)) end
    local out, ok = helper.run(q(script) .. " " .. q(wavs) .. " " .. q(d .. "/data") .. " --pipes 2")
    assert.is_true(ok, out)
    local dd = gk.kaldi.data_dir(d .. "/data")
    assert.same({"al_ice-0_al_ice_1", "al_ice-2_al_ice_3", "b_ob-4_b_ob_5", "bob-3_bob_4", "o_neil-1_o_neil_2"},
                dd.utterances)
    assert.same({}, dd.warnings)
    assert.equal(wavs .. "/0_al ice_1.wav", dd.wav["al_ice-0_al_ice_1"])
    assert.equal("cat " .. q(wavs .. "/1_o'neil_2.wav") .. " |", dd.wav["o_neil-1_o_neil_2"])
    assert.equal("cat " .. q(wavs .. "/3_bob_4.wav") .. " |", dd.wav["bob-3_bob_4"])
    assert.equal(wavs .. "/4_b|ob_5.wav", dd.wav["b_ob-4_b_ob_5"])
    local r = gk.features.extract(dd, {progress = false, strict = true})
    local byp = {}
    for i, name in ipairs(names) do byp[i] = wavs .. "/" .. name end
    local ref = gk.features.extract(byp, {progress = false})
    local order = {1, 3, 5, 4, 2}  -- the files in the order of their utterance ids
    for i, k in ipairs(order) do assert.equal(0, helper.max_abs_diff(ref.matrices[k], r.matrices[i])) end
    out, ok = helper.run(q(script) .. " " .. q(wavs) .. " " .. q(d .. "/seg") .. " --segments")
    assert.is_true(ok, out)
    local ds = gk.kaldi.data_dir(d .. "/seg")
    assert.same({recording = "bob-3_bob_4", start = 0, stop = -1}, ds.segments["bob-3_bob_4-1"])
  end)

  it("names a file without a speaker and takes another pattern", function()
    local d = helper.tmpdir()
    gk.audio.save(d .. "/speech.wav", tone(3000, 8000, 300))
    local out, ok = helper.run(q(script) .. " " .. q(d) .. " " .. q(d .. "/data"))
    assert.is_falsy(ok)
    assert.is_truthy(out:find(d .. "/speech.wav: the name does not match the speaker pattern", 1, true), out)
    out, ok = helper.run(q(script) .. " " .. q(d) .. " " .. q(d .. "/data") .. " --speaker-regex '^(sp)'")
    assert.is_true(ok, out)
    assert.same({"sp-speech"}, gk.kaldi.data_dir(d .. "/data").utterances)
  end)

  it("makes a directory of the spoken-digit corpus that passes the checks", function()
    local data = helper.data_dir("make-kaldi-dir on the spoken-digit corpus")
    if not data then return end
    local d = helper.tmpdir()
    local out, ok = helper.run(q(script) .. " " .. q(data .. "/fsdd/recordings") .. " " .. q(d) .. " --pipes 7")
    assert.is_true(ok, out)
    local dd = gk.kaldi.data_dir(d)
    assert.equal(3000, #dd.utterances)
    assert.same({}, dd.warnings)
    local nspk, npipe = 0, 0
    for _ in pairs(dd.spk2utt) do nspk = nspk + 1 end
    for _, e in pairs(dd.wav) do if e:sub(-1) == "|" then npipe = npipe + 1 end end
    assert.equal(6, nspk)
    assert.equal(3000 // 7, npipe)
    -- Every 100th utterance to an archive, read back.
    local sub = {}
    for k, v in pairs(dd) do sub[k] = v end
    sub.utterances = {}
    for i = 1, 3000, 100 do sub.utterances[#sub.utterances + 1] = dd.utterances[i] end
    local r = gk.features.extract(sub, {preset = "sre8k", progress = false, strict = true,
                                        output = "ark,scp:" .. d .. "/feats.ark," .. d .. "/feats.scp"})
    assert.equal(30, #r.keys)
    assert.same(sub.utterances, gk.kaldi.read_all("scp:" .. d .. "/feats.scp").keys)
  end)
end)

describe("gk.features.extract to an archive, interrupted", function()
  it("commits what Ctrl-C left done, and the next run extracts only the rest", function()
    if not helper.host then return end
    local d = helper.tmpdir()
    os.execute("mkdir -p " .. q(d .. "/wav"))
    local u2s, s2u, wav = {}, {}, {}
    for i = 1, 6 do
      local u = string.format("s-%02d", i)
      gk.audio.save(d .. "/wav/" .. u .. ".wav", tone(4000, 8000, 200 + 37 * i))
      u2s[#u2s + 1] = u .. " s\n"
      s2u[#s2u + 1] = u
      -- Each utterance's command logs it, then takes a while: time for a Ctrl-C in the middle.
      wav[#wav + 1] = u .. " echo " .. u .. " >> " .. q(d .. "/log") .. "; sleep 0.3; cat " ..
                      q(d .. "/wav/" .. u .. ".wav") .. " |\n"
    end
    write(d .. "/utt2spk", table.concat(u2s))
    write(d .. "/spk2utt", "s " .. table.concat(s2u, " ") .. "\n")
    write(d .. "/wav.scp", table.concat(wav))
    write(d .. "/run.lua", [[
local gk = require "gmmkit"
gk.features.extract(gk.kaldi.data_dir(arg[1]), {rate = 8000, progress = false, strict = true, output = arg[2]})
print("done")
]])
    local spec = "ark,scp:" .. d .. "/feats.ark," .. d .. "/feats.scp"
    local cmd = "env GMMKIT_THREADS=1 " .. q(helper.host) .. " " .. q(d .. "/run.lua") .. " " .. q(d) .. " " .. q(spec)
    -- Ctrl-C at a terminal: SIGINT to the process group, the running command included (its
    -- utterance fails, killed by the signal, which strict = true must not turn into a lost run).
    local out = helper.run("(setsid " .. cmd .. " & p=$!; n=0; while [ \"$(cat " .. q(d .. "/log") .. " 2>/dev/null | wc -l)\" -lt 2 ] " ..
                           "&& [ $n -lt 500 ]; do sleep 0.02; n=$((n+1)); done; kill -INT -$p; wait $p; echo \"rc=$?\")")
    assert.is_truthy(out:find("rc=130", 1, true), out)
    assert.is_truthy(out:find("run again to resume", 1, true), out)
    local first = gk.kaldi.read_all("scp:" .. d .. "/feats.scp").keys
    assert.is_true(#first >= 1 and #first < 6, out)
    os.remove(d .. "/log")
    out = helper.run(cmd)
    assert.is_truthy(out:find("done", 1, true), out)
    local f = io.open(d .. "/log")
    local again = {}
    for l in f:lines() do again[#again + 1] = l end
    f:close()
    assert.equal(6 - #first, #again)
    for _, k in ipairs(first) do
      for _, a in ipairs(again) do assert.are_not.equal(k, a) end
    end
    local all = gk.kaldi.read_all("scp:" .. d .. "/feats.scp")
    assert.same(s2u, all.keys)
    local ref = gk.features.extract(gk.kaldi.data_dir(d), {rate = 8000, progress = false})
    for i = 1, 6 do assert.equal(0, helper.max_abs_diff(ref.matrices[i], all.matrices[i])) end
  end)
end)
