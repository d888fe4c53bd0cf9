-- sel:save and gk.gmm.load_selector: a round trip that selects bit for bit as the saved
-- selector, and every bad file the loader must refuse with a message naming the file and the
-- problem. Files are edited here byte by byte (string.pack), with the FNV-1a checksum of the
-- format recomputed by a Lua implementation written here.
local gk = require "gmmkit"
local helper = require "helper"

-- FNV-1a 64 (offset basis 0xcbf29ce484222325, prime 0x100000001b3; Lua integers wrap).
local function fnv1a(s)
  local h = -3750763034362895579  -- 0xcbf29ce484222325 as a signed 64-bit integer
  for i = 1, #s do h = (h ~ s:byte(i)) * 0x100000001b3 end
  return h
end

local HEADER = 48

-- The file with the u64 at payload offset `off` (0-based) replaced, checksum made valid.
local function with_u64(s, off, v)
  local p = s:sub(HEADER + 1)
  p = p:sub(1, off) .. string.pack("<I8", v) .. p:sub(off + 9)
  return s:sub(1, 40) .. string.pack("<i8", fnv1a(p)) .. p
end

local function fails(pattern, fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok, "expected an error: " .. pattern)
  assert.truthy(tostring(err):find(pattern, 1, true), tostring(err))
  return tostring(err)
end

local function ubm_for(k, d, cov, seed)
  local n = 400 * k
  local data = gk.matrix.random(n, d, {seed = seed, dtype = "float32"})
  for i = 1, n do data:set(i, 1, data:get(i, 1) + 4 * (i % k)) end
  return gk.gmm.train(data, {components = k, max_iter = 5, seed = 1, covariance_type = cov})
end

local function same_selection(a, b, X)
  for search = 1, a.clusters do
    local ia, ea = a:select(X, {search = search, top = 3})
    local ib, eb = b:select(X, {search = search, top = 3})
    assert.are.equal(ea, eb)
    for i = 1, X:rows() do
      for t = 1, 3 do assert.are.equal(ia:get(i, t), ib:get(i, t)) end
    end
  end
end

local function same_matrix(a, b)
  assert.are.equal(a:rows(), b:rows())
  assert.are.equal(a:cols(), b:cols())
  for i = 1, a:rows() do
    for j = 1, a:cols() do assert.are.equal(a:get(i, j), b:get(i, j)) end
  end
end

describe("selector files", function()
  local dir
  setup(function() dir = helper.tmpdir() end)
  teardown(function() os.execute("rm -rf '" .. dir .. "'") end)

  local function frames_for(k)
    local X = gk.matrix.random(300, 3, {seed = 9, dtype = "float32"})
    for i = 1, 300 do X:set(i, 1, X:get(i, 1) + 4 * (i % k)) end
    return X
  end

  for _, case in ipairs{{"diag", "overlap"}, {"full", "overlap"}, {"diag", "data"}} do
    local cov, by = case[1], case[2]
    it("round trip: the same mixture, members and selections bit for bit (" .. cov .. ", members by " .. by .. ")", function()
      local ubm = ubm_for(12, 3, cov, 3)
      local sel = by == "data" and gk.gmm.selector(ubm, {clusters = 4, data = frames_for(12), search = 2, top = 3})
                  or gk.gmm.selector(ubm, {clusters = 4, overlap = 2})
      local slots = 0
      for j = 1, sel.clusters do slots = slots + #sel:members(j) end
      if by == "data" then assert.is_true(slots > 12, "the data added no member") end
      local path = dir .. "/sel_" .. cov .. by .. ".gks"
      sel:save(path)
      local back = gk.gmm.load_selector(path, ubm)
      assert.are.equal(sel.clusters, back.clusters)
      assert.are.equal(sel.components, back.components)
      assert.are.equal(sel.overlap, back.overlap)
      assert.are.equal(sel.dim, back.dim)
      for j = 1, sel.clusters do assert.are.same(sel:members(j), back:members(j)) end
      local g, h = sel:mixture(), back:mixture()
      assert.are.same(g:weights(), h:weights())
      same_matrix(g:means(), h:means())
      if cov == "diag" then same_matrix(g:covariances(), h:covariances())
      else for j = 1, g.components do same_matrix(g:covariances()[j], h:covariances()[j]) end end
      same_selection(sel, back, frames_for(12))
      -- a second save of the loaded selector is the same file
      back:save(path .. "2")
      assert.are.equal(helper.read_file(path), helper.read_file(path .. "2"))
    end)
  end

  describe("refuses", function()
    local ubm, path, good
    setup(function()
      ubm = ubm_for(4, 2, "diag", 5)
      path = dir .. "/small.gks"
      gk.gmm.selector(ubm, {clusters = 2}):save(path)
      good = helper.read_file(path)
    end)

    -- The file's layout: header 48 bytes; payload: fingerprint, M, overlap (u64 each), the
    -- 2-cluster diagonal mixture (8 * (2 + 4 + 4) bytes), 2 counts, then 4 members.
    local OFF_M, OFF_O, OFF_COUNT, OFF_MEMBER = 8, 16, 24 + 80, 24 + 80 + 16

    it("a file truncated at any length, naming the file", function()
      assert.are.equal(HEADER + OFF_MEMBER + 32, #good)
      local bad = dir .. "/cut.gks"
      for n = 0, #good - 1 do
        helper.write_file(bad, good:sub(1, n))
        local msg = fails(bad, gk.gmm.load_selector, bad, ubm)
        assert.truthy(msg:find("truncated", 1, true), msg)
      end
    end)

    it("a wrong magic, a bad checksum, another kind of file", function()
      local bad = dir .. "/bad.gks"
      helper.write_file(bad, "X" .. good:sub(2))
      fails(bad .. ": not a gmmkit file (bad magic)", gk.gmm.load_selector, bad, ubm)
      helper.write_file(bad, good:sub(1, HEADER + 30) .. string.char((good:byte(HEADER + 31) + 1) % 256) .. good:sub(HEADER + 32))
      fails(bad .. ": checksum mismatch", gk.gmm.load_selector, bad, ubm)
      ubm:save(bad)
      fails("holds a gmmkit model, not a gmmkit Gaussian selector; read it with gk.gmm.load", gk.gmm.load_selector, bad, ubm)
      fails("holds a gmmkit Gaussian selector, not a gmmkit model; read it with gk.gmm.load_selector", gk.gmm.load, path)
    end)

    it("counts beyond the limits or the file, member indices >= K, broken partitions", function()
      local bad = dir .. "/counts.gks"
      local cases = {
        {OFF_M, 1 << 40, "1099511627776 clusters with overlap 1: outside the limits"},
        {OFF_M, 0, "0 clusters"},
        {OFF_M, 3, "is too short for 3 clusters"},
        {OFF_O, 3, "overlap 3: outside the limits"},
        {OFF_O, 2, "is too short for 2 clusters over 4 components in dimension 2 with overlap 2"},
        {OFF_COUNT, 1 << 62, "cluster 1 has 4611686018427387904 members, more than the 4 components"},
        {OFF_COUNT, string.unpack("<I8", good, HEADER + OFF_COUNT + 1) + 1, "counts sum to 5 members but the payload holds 4"},
        {OFF_MEMBER, 4, "a member index >= the 4 components"},
        {OFF_MEMBER + 24, -1, "a member index >= the 4 components"},
        {OFF_MEMBER + 8, string.unpack("<I8", good, HEADER + OFF_MEMBER + 1), "not in increasing order"},
      }
      for _, c in ipairs(cases) do
        helper.write_file(bad, with_u64(good, c[1], c[2]))
        fails(bad, gk.gmm.load_selector, bad, ubm)
        fails(c[3], gk.gmm.load_selector, bad, ubm)
      end
    end)

    it("a FIFO, a directory, a missing file, without blocking", function()
      local fifo = dir .. "/fifo.gks"
      assert(os.execute("mkfifo '" .. fifo .. "'"))
      fails(fifo .. ": is a FIFO, not a regular file", gk.gmm.load_selector, fifo, ubm)
      fails(dir .. ": is a directory", gk.gmm.load_selector, dir, ubm)
      fails(dir .. "/none.gks: cannot open", gk.gmm.load_selector, dir .. "/none.gks", ubm)
    end)

    it("another UBM, by its size or its parameters", function()
      local other = ubm_for(6, 2, "diag", 5)
      local msg = fails(path .. " was built for a UBM of 4 components in dimension 2 (fingerprint ", gk.gmm.load_selector,
                        path, other)
      assert.truthy(msg:find("not this one of 6 components in dimension 2", 1, true), msg)
      local w = ubm:weights()
      w[1], w[2] = w[2], w[1]
      local same_size = gk.gmm.new{weights = w, means = ubm:means(), covariances = ubm:covariances()}
      fails("not this one of 4 components in dimension 2", gk.gmm.load_selector, path, same_size)
    end)

    it("bad arguments", function()
      fails("bad argument #2 to 'gmmkit.gmm.load_selector' (gmmkit.Gmm expected, got number)", gk.gmm.load_selector, path, 42)
      fails("bad argument #1 to 'gmmkit.gmm.load_selector' (string expected, got table)", gk.gmm.load_selector, {}, ubm)
      local sel = gk.gmm.selector(ubm, {clusters = 2})
      sel:close()
      fails("closed", sel.save, sel, dir .. "/x.gks")
    end)
  end)
end)
