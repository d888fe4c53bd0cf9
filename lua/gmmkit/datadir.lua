--- gmmkit.datadir: Kaldi data directories (wav.scp, utt2spk, spk2utt, segments), read and
-- checked as Kaldi's utils/validate_data_dir.sh checks them. init.lua installs data_dir
-- into gk.kaldi; gk.features.extract takes its result.
--
-- Every error names the file and line, says what is wrong and how to fix it. Files are read
-- through gk.core.read_text (a FIFO or device is refused, never blocked on).
local core = require "gmmkit.core"

local M = {}

-- Raised errors are tables {msg}, so that data_dir rethrows them once at its caller's line.
local function fail(fmt, ...)
  error({string.format(fmt, ...)}, 0)
end

--- Kaldi sorts with LC_ALL=C: byte order. Lua's `<` follows the collation locale, which a
-- script may have changed: then bytes are compared one by one.
local function byte_less(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = a:byte(i), b:byte(i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

local function c_less_fn()
  local coll = os.setlocale(nil, "collate")
  if coll == "C" or coll == "POSIX" then return function(a, b) return a < b end end
  return byte_less
end

--- The lines of `name` in folder `dir` as {no=, key=, rest=, fields=}: no empty lines, no
--- carriage returns. nil when the file is missing and `optional`.
local function read_lines(dir, name, optional)
  local file = dir .. "/" .. name
  local text = core.read_text(file, optional)
  if text == nil then return nil end
  if text == "" then fail("%s: the file is empty (a data directory lists at least one utterance)", file) end
  if text:sub(-1) ~= "\n" then text = text .. "\n" end  -- a last line without its newline counts
  local lines, no = {}, 0
  for line in text:gmatch("([^\n]*)\n") do
    no = no + 1
    if line:find("\r", 1, true) then
      fail("%s line %d: carriage return (DOS line endings): convert the file with dos2unix", file, no)
    end
    if line:find("^%s*$") then fail("%s line %d: empty line: remove it", file, no) end
    if line:find("^%s") then fail("%s line %d: starts with white space: the key must come first", file, no) end
    local fields = {}
    for f in line:gmatch("%S+") do fields[#fields + 1] = f end
    lines[#lines + 1] = {no = no, key = fields[1], rest = line:match("^%S+%s+(.-)%s*$") or "", fields = fields}
  end
  return lines, file
end

--- Checks that the keys of `lines` are unique and in C sort order; a map key -> line.
local function check_sorted(lines, file, less)
  local seen = {}
  for i, l in ipairs(lines) do
    local first = seen[l.key]
    if first then
      fail("%s line %d: '%s' appears again (first on line %d): keys must be unique; remove one of the lines",
           file, l.no, l.key, first.no)
    end
    local prev = lines[i - 1]
    if prev and less(l.key, prev.key) then
      fail("%s line %d: '%s' comes before '%s' on line %d: sort the file with LC_ALL=C sort", file, prev.no,
           prev.key, l.key, l.no)
    end
    seen[l.key] = l
  end
  return seen
end

--- utt2spk: two fields a line; utterances sorted and unique.
local function read_utt2spk(dir, less)
  local lines, file = read_lines(dir, "utt2spk", true)
  if not lines then
    fail("%s/utt2spk: missing: a Kaldi data directory has utt2spk (utterance speaker), spk2utt and wav.scp", dir)
  end
  for _, l in ipairs(lines) do
    if #l.fields ~= 2 then
      fail("%s line %d: %d fields, expected 2 (utterance speaker)", file, l.no, #l.fields)
    end
  end
  check_sorted(lines, file, less)
  local utts, utt2spk = {}, {}
  for i, l in ipairs(lines) do
    utts[i] = l.key
    utt2spk[l.key] = l.fields[2]
  end
  return utts, utt2spk, lines
end

--- spk2utt: must be what utils/utt2spk_to_spk2utt.pl makes of utt2spk (speakers sorted,
--- each speaker's utterances in utt2spk order, each utterance once).
local function read_spk2utt(dir, utts, utt2spk, less)
  local fix = "make it from utt2spk with utils/utt2spk_to_spk2utt.pl utt2spk > spk2utt"
  local lines, file = read_lines(dir, "spk2utt", true)
  if not lines then fail("%s/spk2utt: missing: %s", dir, fix) end
  check_sorted(lines, file, less)
  local spk2utt, where = {}, {}
  for _, l in ipairs(lines) do
    if #l.fields < 2 then fail("%s line %d: speaker '%s' has no utterances: %s", file, l.no, l.key, fix) end
    local list = {}
    for k = 2, #l.fields do
      local u = l.fields[k]
      if where[u] then
        fail("%s line %d: utterance '%s' is listed again (first on line %d): %s", file, l.no, u, where[u], fix)
      end
      where[u] = l.no
      if utt2spk[u] == nil then
        fail("%s line %d: utterance '%s' is not in utt2spk: %s", file, l.no, u, fix)
      end
      if utt2spk[u] ~= l.key then
        fail("%s line %d: utterance '%s' is under speaker '%s', utt2spk says '%s': %s", file, l.no, u, l.key,
             utt2spk[u], fix)
      end
      if k > 2 and less(u, l.fields[k - 1]) then
        fail("%s line %d: utterance '%s' comes after '%s' (utterances in utt2spk order): %s", file, l.no, u,
             l.fields[k - 1], fix)
      end
      list[#list + 1] = u
    end
    spk2utt[l.key] = list
  end
  for _, u in ipairs(utts) do
    if not where[u] then fail("%s: utterance '%s' of utt2spk is under no speaker: %s", file, u, fix) end
  end
  return spk2utt
end

--- wav.scp: recording -> the rest of the line (a path, or a command ending in '|').
local function read_wav(dir, less)
  local lines, file = read_lines(dir, "wav.scp", true)
  if not lines then fail("%s/wav.scp: missing: it lists each recording's file or command (recording path)", dir) end
  for _, l in ipairs(lines) do
    if l.rest == "" then fail("%s line %d: recording '%s' has no file or command", file, l.no, l.key) end
    if l.rest:sub(1, 1) == "|" then
      fail("%s line %d: '%s' starts with '|': a command comes first and ends with '|' (\"sox f.wav -t wav - |\")",
           file, l.no, l.rest)
    end
  end
  check_sorted(lines, file, less)
  local wav = {}
  for _, l in ipairs(lines) do wav[l.key] = l.rest end
  return wav, lines, file
end

--- segments: utterance recording start stop, in seconds (stop -1: to the end).
local function read_segments(dir, wav, less)
  local lines, file = read_lines(dir, "segments", true)
  if not lines then return nil end
  check_sorted(lines, file, less)
  local segs = {}
  for _, l in ipairs(lines) do
    local f = l.fields
    if #f ~= 4 then fail("%s line %d: %d fields, expected 4 (utterance recording start stop)", file, l.no, #f) end
    local start, stop = tonumber(f[3]), tonumber(f[4])
    if not start or start ~= start or start < 0 or start == math.huge then
      fail("%s line %d: start '%s' is not a time >= 0 in seconds", file, l.no, f[3])
    end
    if not stop or stop ~= stop or stop == math.huge or (stop ~= -1 and stop <= start) then
      fail("%s line %d: stop '%s' must be a time in seconds after the start %s (or -1: to the end)", file, l.no,
           f[4], f[3])
    end
    if wav[f[2]] == nil then
      fail("%s line %d: recording '%s' is not in wav.scp: add it there or remove the segment", file, l.no, f[2])
    end
    segs[l.key] = {recording = f[2], start = start, stop = stop}
  end
  return segs, lines, file
end

--- The utterances with their audio: every utterance has a wav.scp entry (its own, or its
--- segment's recording), and every wav.scp entry is used, as validate_data_dir.sh wants.
local function check_cover(dir, utts, utt2spk, u2s_lines, wav, wav_lines, wav_file, segs, seg_lines, seg_file)
  local fix = "add or remove lines, or run utils/fix_data_dir.sh"
  local audio_of = segs or wav
  local audio_file = segs and seg_file or wav_file
  for _, l in ipairs(u2s_lines) do
    if audio_of[l.key] == nil then
      fail("%s/utt2spk line %d: utterance '%s' has no line in %s: %s", dir, l.no, l.key, audio_file, fix)
    end
  end
  for _, l in ipairs(segs and seg_lines or wav_lines) do
    if utt2spk[l.key] == nil then
      fail("%s line %d: utterance '%s' is not in utt2spk: %s", audio_file, l.no, l.key, fix)
    end
  end
  if segs then
    local used = {}
    for _, u in ipairs(utts) do used[segs[u].recording] = true end
    for _, l in ipairs(wav_lines) do
      if not used[l.key] then
        fail("%s line %d: recording '%s' has no segment (with a segments file wav.scp lists the recordings " ..
             "it cuts): %s", wav_file, l.no, l.key, fix)
      end
    end
  end
end

--- Warnings that Kaldi gives but that do not stop it: utt2spk sorted by speaker too
--- (speaker ids as prefixes of utterance ids).
local function warnings_of(dir, utts, utt2spk, less)
  local w = {}
  for i = 2, #utts do
    local a, b = utt2spk[utts[i - 1]], utt2spk[utts[i]]
    if less(b, a) then
      w[#w + 1] = string.format("%s/utt2spk: utterance '%s' of speaker '%s' follows one of speaker '%s': not " ..
                                "sorted by speaker as well (Kaldi's scripts want speaker ids as prefixes of " ..
                                "utterance ids; validate_data_dir.sh --no-spk-sort accepts it)", dir, utts[i], b, a)
      break
    end
  end
  return w
end

function M.data_dir(path)
  if type(path) ~= "string" then
    error("bad argument #1 to 'data_dir' (path of a Kaldi data directory expected, got " .. type(path) .. ")", 3)
  end
  if path:find("\0", 1, true) then
    error("bad argument #1 to 'data_dir' (a path without NUL bytes expected)", 3)
  end
  local ok, res = pcall(function()
    local dir = path:gsub("(.)/+$", "%1")
    local less = c_less_fn()
    local utts, utt2spk, u2s_lines = read_utt2spk(dir, less)
    local spk2utt = read_spk2utt(dir, utts, utt2spk, less)
    local wav, wav_lines, wav_file = read_wav(dir, less)
    local segs, seg_lines, seg_file = read_segments(dir, wav, less)
    check_cover(dir, utts, utt2spk, u2s_lines, wav, wav_lines, wav_file, segs, seg_lines, seg_file)
    return {utterances = utts, wav = wav, utt2spk = utt2spk, spk2utt = spk2utt, segments = segs, path = path,
            warnings = warnings_of(dir, utts, utt2spk, less)}
  end)
  if ok then return res end
  if type(res) == "table" then error(res[1], 3) end
  error(res, 0)
end

core.setdoc(M.data_dir,
  "gk.kaldi.data_dir(path) -> {utterances=, wav=, utt2spk=, spk2utt=, segments=, path=, warnings=}\n" ..
  "A Kaldi data directory read and checked as utils/validate_data_dir.sh checks it: utt2spk, spk2utt, " ..
  "wav.scp and the optional segments, each sorted in C byte order (LC_ALL=C sort) with unique keys and no " ..
  "empty lines; spk2utt exactly what utils/utt2spk_to_spk2utt.pl makes of utt2spk; without segments, wav.scp " ..
  "has one line per utterance; with segments (utterance recording start stop, seconds, stop -1 for the end of " ..
  "the recording), one segment per utterance, each on a recording of wav.scp, and every recording used. An " ..
  "error names the file and line and says how to fix it. utterances: the ids in order; wav: recording -> " ..
  "path, or command ending in '|' whose output is the audio; segments: utterance -> {recording=, start=, " ..
  "stop=} or nil; warnings: what Kaldi warns of (utt2spk not sorted by speaker too). gk.features.extract " ..
  "takes the result.")

return M
