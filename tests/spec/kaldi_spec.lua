-- gk.kaldi: Kaldi tables against archives Kaldi wrote (tests/data/kaldi, see its README):
-- binary, text and compressed twins of the same features, byte-identical rewrites, script
-- files with offsets and ranges, pipes, round trips of every kind, and the errors.
local gk = require "gmmkit"
local H = require "spec_helper"

local data = H.source_dir .. "/tests/data/kaldi/"

local function sub(m, r0, r1, c0, c1)  -- 1-based inclusive block of m
  local rows, cols = {}, {}
  for i = r0, r1 do rows[#rows + 1] = i end
  for j = c0, c1 do cols[#cols + 1] = j end
  return m:select_rows(rows):select_cols(cols)
end

local function max_rel(a, b)
  local worst = 0
  for i = 1, a:rows() do
    for j = 1, a:cols() do
      local x, y = a:get(i, j), b:get(i, j)
      local d = math.abs(x - y) / math.max(math.abs(x), math.abs(y), 1e-30)
      if not (d <= worst) then worst = d end
    end
  end
  return worst
end

--- Kaldi's CM error bound for column j of `orig`: half the widest code step of its
--- percentile intervals (p0..p25 in 64 steps, p25..p75 in 128, p75..p100 in 63), plus the
--- 16-bit quantisation of the percentiles themselves on the global range.
local function cm_bound(orig, j)
  local v, lo, hi = {}, math.huge, -math.huge
  for i = 1, orig:rows() do
    v[i] = orig:get(i, j)
  end
  for i = 1, orig:rows() do
    for jj = 1, orig:cols() do
      local x = orig:get(i, jj)
      lo, hi = math.min(lo, x), math.max(hi, x)
    end
  end
  table.sort(v)
  local n, q = #v, #v // 4
  local p0, p25, p75, p100 = v[1], v[q + 1], v[3 * q + 1], v[n]
  local step = math.max((p25 - p0) / 64, (p75 - p25) / 128, (p100 - p75) / 63)
  return step / 2 + 2 * (hi - lo) / 65535 + 1e-5
end

describe("gk.kaldi", function()
  local tmp
  before_each(function() tmp = H.tmpdir() end)
  after_each(function() os.execute("rm -rf '" .. tmp .. "'") end)

  local bin = gk.kaldi.read_all("ark:" .. data .. "feats.ark")

  it("reads Kaldi's binary, text and compressed archives of the same features", function()
    assert.are.same({"AMI_ES2011a_H00_FEE041_0003427_0003714", "AMI_ES2011a_H00_FEE041_0003714_0003915"}, bin.keys)
    assert.are.equal(285, bin.matrices[1]:rows())
    assert.are.equal(13, bin.matrices[1]:cols())
    assert.are.equal("float32", bin.matrices[1]:dtype())
    local txt = gk.kaldi.read_all("ark,t:" .. data .. "feats_ascii.ark")
    local cm = gk.kaldi.read_all("ark:" .. data .. "feats_compressed.ark")
    assert.are.same(bin.keys, txt.keys)
    assert.are.same(bin.keys, cm.keys)
    for k = 1, 2 do
      -- text: 7 significant digits of the same floats
      assert.is_true(max_rel(bin.matrices[k], txt.matrices[k]) <= 6e-7)
      -- compressed: within Kaldi's quantisation of each column
      local a, b = bin.matrices[k], cm.matrices[k]
      for j = 1, a:cols() do
        local bound, worst = cm_bound(a, j), 0
        for i = 1, a:rows() do worst = math.max(worst, math.abs(a:get(i, j) - b:get(i, j))) end
        assert.is_true(worst <= bound, string.format("column %d: %g > %g", j, worst, bound))
      end
    end
  end)

  it("reads Kaldi's float vectors (binary FV and text) as 1 x n", function()
    local b = gk.kaldi.read_all("ark:" .. data .. "conf.ark")
    local t = gk.kaldi.read_all("ark:" .. data .. "conf_ascii.ark")
    assert.are.same(b.keys, t.keys)
    local dims = {}
    for k, m in ipairs(b.matrices) do
      dims[k] = m:cols()
      assert.are.equal(1, m:rows())
      assert.is_true(max_rel(m, t.matrices[k]) <= 6e-7)
    end
    assert.are.same({58, 299, 58}, dims)
  end)

  it("writes what Kaldi writes, byte for byte (CM, text matrices, vectors)", function()
    local w = gk.kaldi.writer("ark:" .. tmp .. "/cm.ark", {compress = true})
    local t = gk.kaldi.writer("ark,t:" .. tmp .. "/t.ark")
    for k, m in gk.kaldi.read("ark:" .. data .. "feats.ark") do
      w:write(k, m)
      t:write(k, m)
    end
    assert.is_true(w:close())
    t:close()
    assert.is_true(H.read_file(tmp .. "/cm.ark") == H.read_file(data .. "feats_compressed.ark"))
    assert.is_true(H.read_file(tmp .. "/t.ark") == H.read_file(data .. "feats_ascii.ark"))
    local vb = gk.kaldi.writer("ark:" .. tmp .. "/v.ark")
    local vt = gk.kaldi.writer("ark,t:" .. tmp .. "/vt.ark")
    for k, m in gk.kaldi.read("ark:" .. data .. "conf.ark") do
      vb:write_vector(k, m)
      vt:write_vector(k, m)
    end
    vb:close()
    vt:close()
    assert.is_true(H.read_file(tmp .. "/v.ark") == H.read_file(data .. "conf.ark"))
    assert.is_true(H.read_file(tmp .. "/vt.ark") == H.read_file(data .. "conf_ascii.ark"))
  end)

  it("reads script files with offsets and ranges, into text, binary and compressed archives", function()
    local m1, m2 = bin.matrices[1], bin.matrices[2]
    local a = data .. "feats_ascii.ark"
    H.write_file(tmp .. "/a.scp", table.concat({
      "u1 " .. a .. ":39",
      "u2 " .. a .. ":35877",
      "all " .. a .. ":35877[:]",
      "rows " .. a .. ":35877[0:5]",
      "cols " .. a .. ":35877[:,7:12]",
      "both " .. a .. ":35877[20:30,7:12]",
      "past " .. a .. ":35877[190:200]",  -- Kaldi's tolerance: 2 rows past the end, clamped
      "",
    }, "\n"))
    local r = gk.kaldi.read_all("scp:" .. tmp .. "/a.scp")
    assert.are.same({"u1", "u2", "all", "rows", "cols", "both", "past"}, r.keys)
    local want = {m1, m2, m2, sub(m2, 1, 6, 1, 13), sub(m2, 1, 199, 8, 13), sub(m2, 21, 31, 8, 13),
                  sub(m2, 191, 199, 1, 13)}
    for k, m in ipairs(r.matrices) do
      assert.are.equal(want[k]:rows(), m:rows())
      assert.are.equal(want[k]:cols(), m:cols())
      assert.is_true(max_rel(want[k], m) <= 6e-7, r.keys[k])
    end
    -- the offsets of an ark,scp writer, into binary and compressed archives
    for _, c in ipairs{false, "cm", "cm2", "cm3"} do
      local w = gk.kaldi.writer("ark,scp:" .. tmp .. "/b.ark," .. tmp .. "/b.scp", {compress = c})
      for k, m in ipairs(bin.matrices) do w:write(bin.keys[k], m) end
      w:close()
      local scp = H.read_file(tmp .. "/b.scp")
      local ark = H.read_file(tmp .. "/b.ark")
      local lines = {}
      for key, path, off in scp:gmatch("(%S+) (%S+):(%d+)\n") do
        assert.are.equal(tmp .. "/b.ark", path)
        assert.are.equal("\0B", ark:sub(off + 1, off + 2))  -- Kaldi's offset: the value, after "KEY "
        assert.are.equal(key .. " ", ark:sub(off + 1 - #key - 1, off))
        lines[#lines + 1] = key .. " " .. path .. ":" .. off .. "[10:19,2:4]"
      end
      assert.are.equal(2, #lines)
      H.write_file(tmp .. "/r.scp", table.concat(lines, "\n") .. "\n")
      local whole = gk.kaldi.read_all("scp:" .. tmp .. "/b.scp")
      local part = gk.kaldi.read_all("scp:" .. tmp .. "/r.scp")
      for k = 1, 2 do
        assert.is_true(H.max_abs_diff(sub(whole.matrices[k], 11, 20, 3, 5), part.matrices[k]) == 0)
        if not c then assert.is_true(H.max_abs_diff(whole.matrices[k], bin.matrices[k]) == 0) end
      end
    end
  end)

  it("round-trips every kind", function()
    local X = gk.matrix.random(40, 7, {seed = 3, dtype = "float32"})
    for i = 1, X:rows() do X:set(i, 1, 10 * X:get(i, 1) + 5) end
    local D = gk.matrix.random(5, 3, {seed = 4, dtype = "float64"})
    local small = gk.matrix.random(8, 4, {seed = 5, dtype = "float32"})
    local range = 0
    do
      local lo, hi = math.huge, -math.huge
      for i = 1, X:rows() do for j = 1, X:cols() do
        lo, hi = math.min(lo, X:get(i, j)), math.max(hi, X:get(i, j))
      end end
      range = hi - lo
    end
    local cases = {
      {false, 0, "FM "}, {"cm", nil, "CM "}, {"cm2", range / 65535, "CM2 "}, {"cm3", range / 255 / 2 + 1e-6, "CM3 "},
    }
    for _, c in ipairs(cases) do
      local path = tmp .. "/x.ark"
      local w = gk.kaldi.writer("ark:" .. path, {compress = c[1]})
      w:write("x", X)
      w:close()
      assert.are.equal("x \0B" .. c[3], H.read_file(path):sub(1, 4 + #c[3]))
      local back = gk.kaldi.read_all("ark:" .. path).matrices[1]
      local tol = c[2]
      for j = 1, X:cols() do
        local worst = 0
        for i = 1, X:rows() do worst = math.max(worst, math.abs(X:get(i, j) - back:get(i, j))) end
        assert.is_true(worst <= (tol or cm_bound(X, j)), tostring(c[1]))
      end
    end
    -- compress = true: CM above 8 rows, CM2 for 8 rows or fewer (kAutomaticMethod)
    local w = gk.kaldi.writer("ark:" .. tmp .. "/auto.ark", {compress = true})
    w:write("small", small)
    w:close()
    assert.are.equal("small \0BCM2 ", H.read_file(tmp .. "/auto.ark"):sub(1, 12))
    -- float64 matrices and vectors stay float64 and exact; text keeps 7 digits
    w = gk.kaldi.writer("ark:" .. tmp .. "/d.ark")
    w:write("d", D)
    w:write_vector("v", D:select_rows({1}))
    w:write_vector("f", X:select_cols({1}))
    w:write("empty", X:select_rows({}))
    w:close()
    local r = gk.kaldi.read_all("ark:" .. tmp .. "/d.ark")
    assert.are.same({"d", "v", "f", "empty"}, r.keys)
    assert.are.equal("float64", r.matrices[1]:dtype())
    assert.are.equal(0, H.max_abs_diff(r.matrices[1], D))
    assert.are.equal("float64", r.matrices[2]:dtype())
    assert.are.equal(3, r.matrices[2]:cols())
    assert.are.equal(40, r.matrices[3]:cols())
    assert.are.equal(0, r.matrices[4]:rows())
    w = gk.kaldi.writer("ark,t:" .. tmp .. "/t.ark")
    w:write("d", D)
    w:write_vector("v", D:select_rows({2}))
    w:close()
    r = gk.kaldi.read_all("ark:" .. tmp .. "/t.ark")
    assert.is_true(max_rel(r.matrices[1], D) <= 6e-7)
    assert.is_true(max_rel(r.matrices[2], D:select_rows({2})) <= 6e-7)
  end)

  it("reads from commands, standard input and script-file pipe entries", function()
    local n = 0
    for k, m in gk.kaldi.read("ark:cat '" .. data .. "feats.ark' |") do
      n = n + 1
      assert.are.equal(bin.keys[n], k)
      assert.are.equal(0, H.max_abs_diff(m, bin.matrices[n]))
    end
    assert.are.equal(2, n)
    -- a script-file entry that is a command printing one value (the archive after "KEY ")
    local key = bin.keys[1]
    H.write_file(tmp .. "/p.scp", "one tail -c +" .. (#key + 2) .. " '" .. data .. "feats.ark' |[0:9]\n")
    local r = gk.kaldi.read_all("scp:" .. tmp .. "/p.scp")
    assert.are.equal(0, H.max_abs_diff(r.matrices[1], sub(bin.matrices[1], 1, 10, 1, 13)))
    local out = H.run("cat '" .. data .. "conf.ark' | " .. H.host .. " -e 'local gk = require\"gmmkit\" " ..
                      "for k, m in gk.kaldi.read(\"ark:-\") do io.write(k, \" \", m:cols(), \";\") end'")
    assert.matches("10033o1_20120208_180820_00672_00732 58;", out, 1, true)
    assert.error_matches(function() gk.kaldi.read_all("ark:exit 3 |") end, "command 'exit 3' failed %(exit status 3%)")
    -- a script-file entry without offset: a file holding one value (no key)
    H.write_file(tmp .. "/one.mat", H.read_file(data .. "feats.ark"):sub(#key + 2, 14874))
    H.write_file(tmp .. "/o.scp", "only " .. tmp .. "/one.mat\n")
    r = gk.kaldi.read_all("scp:" .. tmp .. "/o.scp")
    assert.are.equal(0, H.max_abs_diff(r.matrices[1], bin.matrices[1]))
    -- a writer to standard output gives the file writer's bytes
    local so = H.run(H.host .. " -e 'local gk = require\"gmmkit\" local w = gk.kaldi.writer(\"ark:-\") " ..
                     "for k, m in gk.kaldi.read(\"ark:" .. data .. "conf.ark\") do w:write_vector(k, m) end w:close()'")
    assert.is_true(so == H.read_file(data .. "conf.ark"))
  end)

  it("closes the reader when a loop is left early", function()
    local f, s, c, closing = gk.kaldi.read("ark:" .. data .. "feats.ark")
    for _ in f, s, c, closing do break end
    assert.is_nil(f(s))  -- closed: nothing more
  end)

  it("names the file, the key and the byte offset in errors", function()
    local whole = H.read_file(data .. "feats.ark")
    H.write_file(tmp .. "/cut.ark", whole:sub(1, 20000))
    assert.error_matches(function() gk.kaldi.read_all("ark:" .. tmp .. "/cut.ark") end,
      "cut%.ark: key 'AMI_ES2011a_H00_FEE041_0003714_0003915' at byte 14928: truncated %(expected 10348 bytes of matrix data, the file has 5072 left%)")
    H.write_file(tmp .. "/cut2.ark", whole:sub(1, 14874 + 45))
    assert.error_matches(function() gk.kaldi.read_all("ark:cat " .. tmp .. "/cut2.ark |") end,
      "key 'AMI_ES2011a_H00_FEE041_0003714_0003915' at byte 14918: truncated %(expected the row count%)")
    H.write_file(tmp .. "/bad.ark", whole:sub(1, 14874 + 41) .. "XM " .. whole:sub(14874 + 45))
    assert.error_matches(function() gk.kaldi.read_all("ark:" .. tmp .. "/bad.ark") end,
      "bad%.ark: key 'AMI_ES2011a_H00_FEE041_0003714_0003915' at byte 14915: unknown token 'XM'")
    local cm = H.read_file(data .. "feats_compressed.ark")
    H.write_file(tmp .. "/cm.ark", cm:sub(1, 3000))
    assert.error_matches(function() gk.kaldi.read_all("ark:" .. tmp .. "/cm.ark") end,
      "cm%.ark: key 'AMI_ES2011a_H00_FEE041_0003427_0003714' at byte 60: truncated %(expected 3809 bytes")
    H.write_file(tmp .. "/t.ark", "a  [\n 1 2\n 3 ]\n")
    assert.error_matches(function() gk.kaldi.read_all("ark:" .. tmp .. "/t.ark") end,
      "t%.ark: key 'a' at byte 13: row 2 of a text matrix has 1 values, row 1 has 2")
    H.write_file(tmp .. "/t2.ark", "a  [ 1 2x ]\n")
    assert.error_matches(function() gk.kaldi.read_all("ark:" .. tmp .. "/t2.ark") end, "'2x' is not a number")
    H.write_file(tmp .. "/s.scp", "k " .. data .. "feats.ark:14913[0:400]\n")
    assert.error_matches(function() gk.kaldi.read_all("scp:" .. tmp .. "/s.scp") end,
      "feats%.ark: key 'k' at byte 14913 %(.*s%.scp line 1%): range %[0:400,0:12%] outside the 199 x 13 matrix")
    H.write_file(tmp .. "/s2.scp", "k " .. data .. "feats.ark:14913[3:1]\n")
    assert.error_matches(function() gk.kaldi.read_all("scp:" .. tmp .. "/s2.scp") end, "s2%.scp line 1: bad range '%[3:1%]'")
    H.write_file(tmp .. "/s3.scp", "k " .. tmp .. "/missing.ark:0\n")
    assert.error_matches(function() gk.kaldi.read_all("scp:" .. tmp .. "/s3.scp") end, "missing%.ark: cannot open")
  end)

  it("refuses bad specifiers, keys and FIFOs with messages that say what is accepted", function()
    assert.error_matches(function() gk.kaldi.read("feats.ark") end, "bad rspecifier 'feats%.ark': no ':' %(expected ark:FILE, scp:FILE")
    assert.error_matches(function() gk.kaldi.read("ark,x:f") end, "unknown option 'x'")
    assert.error_matches(function() gk.kaldi.read("ark,scp:f") end, "both ark and scp")
    assert.has_no.errors(function() gk.kaldi.read_all("ark,s,cs:" .. data .. "feats.ark") end)
    assert.error_matches(function() gk.kaldi.writer("scp:x") end, "bad wspecifier 'scp:x'")
    assert.error_matches(function() gk.kaldi.writer("ark:| gzip") end, "writing to a command is not supported")
    assert.error_matches(function() gk.kaldi.writer("ark,scp:a.ark") end, "two file names")
    assert.error_matches(function() gk.kaldi.writer("ark:x", {compress = "cm4"}) end, "'cm4' is unknown")
    assert.error_matches(function() gk.kaldi.writer("ark:x", {compres = true}) end, "did you mean 'compress'")
    local w = gk.kaldi.writer("ark:" .. tmp .. "/k.ark")
    assert.error_matches(function() w:write("two words", bin.matrices[1]) end, "bad key 'two words'")
    assert.error_matches(function() w:write("", bin.matrices[1]) end, "bad key ''")
    w:close()
    local cw = gk.kaldi.writer("ark:" .. tmp .. "/n.ark", {compress = true})
    assert.error_matches(function() cw:write("nan", gk.matrix.new(2, 2, 0 / 0)) end, "cannot compress NaN")
    cw:close()
    os.execute("mkfifo '" .. tmp .. "/fifo'")
    assert.error_matches(function() gk.kaldi.read("ark:" .. tmp .. "/fifo") end, "is a FIFO")
    assert.error_matches(function() gk.kaldi.writer("ark:/dev/null") end, "not a regular file")
  end)

  it("leaves the old archive (or nothing) when a writer is aborted", function()
    local path = tmp .. "/keep.ark"
    H.write_file(path, "old")
    do
      local w <close> = gk.kaldi.writer("ark,scp:" .. path .. "," .. tmp .. "/keep.scp")
      w:write("a", bin.matrices[1])
    end  -- left without close(): aborted
    assert.are.equal("old", H.read_file(path))
    assert.is_nil(io.open(tmp .. "/keep.scp"))
    local ok = pcall(function()
      local w <close> = gk.kaldi.writer("ark:" .. path)
      w:write("a", bin.matrices[1])
      error("interrupted")
    end)
    assert.is_false(ok)
    local w = gk.kaldi.writer("ark:" .. tmp .. "/gc.ark")
    w:write("a", bin.matrices[1])
    w = nil  -- luacheck: ignore
    collectgarbage()
    collectgarbage()
    assert.are.equal("old", H.read_file(path))
    assert.is_nil(io.open(tmp .. "/gc.ark"))
    local names = H.run("ls -A '" .. tmp .. "'")
    assert.are.equal("keep.ark\n", names)  -- no temporary left behind
  end)
  it("reads binary Kaldi GMMs assembled as DiagGmm/FullGmm::Write writes them, and writes them", function()
    local function tok(t) return t .. " " end
    local function i32(n) return string.pack("<bi4", 4, n) end
    local function fv(v) return "FV " .. i32(#v) .. string.pack("<" .. string.rep("f", #v), table.unpack(v)) end
    local function fm(r, c, v) return "FM " .. i32(r) .. i32(c) .. string.pack("<" .. string.rep("f", #v), table.unpack(v)) end
    local function dv(v) return "DV " .. i32(#v) .. string.pack("<" .. string.rep("d", #v), table.unpack(v)) end
    local function dm(r, c, v) return "DM " .. i32(r) .. i32(c) .. string.pack("<" .. string.rep("d", #v), table.unpack(v)) end
    local function dp(n, v) return "DP " .. i32(n) .. string.pack("<" .. string.rep("d", #v), table.unpack(v)) end
    -- diagonal: means (1, 2), (-1, 0.5); variances (1, 4), (0.5, 2); float values (exact)
    H.write_file(tmp .. "/d.bin", "\0B" .. tok("<DiagGMM>") .. tok("<GCONSTS>") .. fv({0, 0}) .. tok("<WEIGHTS>") ..
         fv({0.25, 0.75}) .. tok("<MEANS_INVVARS>") .. fm(2, 2, {1, 0.5, -2, 0.25}) .. tok("<INV_VARS>") ..
         fm(2, 2, {1, 0.25, 2, 0.5}) .. tok("</DiagGMM>"))
    local g = gk.gmm.load_kaldi(tmp .. "/d.bin")
    assert.are.equal("diag", g.covariance_type)
    assert.are.same({0.25, 0.75}, g:weights())
    assert.are.equal(0, H.max_abs_diff(g:means(), gk.matrix.from_table({{1, 2}, {-1, 0.5}})))
    assert.are.equal(0, H.max_abs_diff(g:covariances(), gk.matrix.from_table({{1, 4}, {0.5, 2}})))
    -- full, in doubles: P = [[2, 1], [1, 1]] packed (2; 1 1), P mu = (2, 1): mu = (1, 0), S = [[1, -1], [-1, 2]]
    H.write_file(tmp .. "/f.bin", "\0B" .. tok("<FullGMM>") .. tok("<WEIGHTS>") .. dv({1}) .. tok("<MEANS_INVCOVARS>") ..
         dm(1, 2, {2, 1}) .. tok("<INV_COVARS>") .. dp(2, {2, 1, 1}) .. tok("</FullGMM>"))
    local f = gk.gmm.load_kaldi(tmp .. "/f.bin")
    assert.are.equal("full", f.covariance_type)
    assert.near(1, f:means():get(1, 1), 1e-12)
    assert.near(0, f:means():get(1, 2), 1e-12)
    assert.near(-1, f:covariances()[1]:get(1, 2), 1e-12)
    assert.near(2, f:covariances()[1]:get(2, 2), 1e-12)
    -- written: the same layout, in floats, from the Kaldi-written text models of tests/data/em
    for _, case in ipairs{"diag", "full"} do
      local t = gk.gmm.load_kaldi(H.source_dir .. "/tests/data/em/kaldi_" .. case .. ".txt")
      t:save_kaldi(tmp .. "/w.bin", {binary = true})
      local b = H.read_file(tmp .. "/w.bin")
      local head = case == "diag" and "\0B<DiagGMM> <GCONSTS> FV " or "\0B<FullGMM> <GCONSTS> FV "
      assert.are.equal(head, b:sub(1, #head))
      local k = select(2, string.unpack("<bi4", b, #head + 1))
      assert.are.equal(3, k)
      local p = #head + 6 + 4 * k
      assert.are.equal("<WEIGHTS> FV ", b:sub(p, p + 12))
      local w1 = string.unpack("<f", b, p + 18)
      assert.near(t:weights()[1], w1, 1e-7)
      assert.are.equal(case == "diag" and "</DiagGMM> " or "</FullGMM> ", b:sub(-11))
      local back = gk.gmm.load_kaldi(tmp .. "/w.bin")
      assert.is_true(max_rel(back:means(), t:means()) < 1e-5)
      assert.are.equal(#t:weights(), #back:weights())
    end
    H.write_file(tmp .. "/cut.bin", H.read_file(tmp .. "/d.bin"):sub(1, 60))
    assert.error_matches(function() gk.gmm.load_kaldi(tmp .. "/cut.bin") end,
      "cut%.bin: a binary Kaldi file, at byte %d+: truncated")
    assert.error_matches(function() g:save_kaldi(tmp .. "/x.bin", {binray = true}) end, "did you mean 'binary'")
  end)
end)
