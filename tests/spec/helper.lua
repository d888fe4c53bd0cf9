-- Shared busted helper: loaded before every spec (tests/run_spec passes --helper).
-- Specs that need the speech corpus call data_dir() and skip when it returns nil.
local M = {}

--- The folder holding fsdd/recordings (GMMKIT_DATA), or nil with a printed skip message.
function M.data_dir(why)
  local d = os.getenv("GMMKIT_DATA")
  if d and d ~= "" then return d end
  io.stderr:write("skipped (GMMKIT_DATA is not set): " .. (why or "needs the speech data") .. "\n")
  return nil
end

--- A fresh temporary directory, removed by the caller with os.remove on its files.
function M.tmpdir()
  local p = os.tmpname()
  os.remove(p)
  assert(os.execute("mkdir -p '" .. p .. "'"))
  return p
end

--- Runs a shell command, returns its stdout, and whether it succeeded.
function M.run(cmd)
  local f = assert(io.popen(cmd .. " 2>&1", "r"))
  local out = f:read("a")
  local ok, _, code = f:close()
  return out, ok, code
end

--- The largest |a_ij - b_ij| of two matrices of the same shape (NaN anywhere makes it NaN).
function M.max_abs_diff(a, b)
  if a:rows() ~= b:rows() or a:cols() ~= b:cols() then
    error(string.format("shapes differ: %d x %d and %d x %d", a:rows(), a:cols(), b:rows(), b:cols()), 2)
  end
  local m = 0
  for i = 1, a:rows() do
    for j = 1, a:cols() do
      local d = math.abs(a:get(i, j) - b:get(i, j))
      if not (d <= m) then m = d end
    end
  end
  return m
end

--- Checks that idx (N x C component indices) lists each frame's C best components in order,
-- against the double posteriors `full` (N x K): distinct, and the t-th of a frame the t-th
-- largest posterior up to the float32 rounding of a log-density (1e-3 in log) between near
-- ties; what: a prefix for the messages.
function M.assert_top_ranked(full, idx, C, what)
  for i = 1, full:rows() do
    local p = {}
    for k = 1, full:cols() do p[k] = full:get(i, k) end
    table.sort(p, function(a, b) return a > b end)
    local seen = {}
    for t = 1, C do
      local k = idx:get(i, t)
      local where = string.format("%s, frame %d, place %d: component %d", what, i, t, k)
      assert(not seen[k], where .. " twice")
      seen[k] = true
      local ok = p[t] == 0 and full:get(i, k) == 0  -- both beyond double's range
      ok = ok or math.abs(math.log(full:get(i, k)) - math.log(p[t])) < 1e-3
      assert(ok, where)
    end
  end
end

--- The bytes of the file at path; an error when it cannot be read, or nil with missing_ok.
function M.read_file(path, missing_ok)
  local f, why = io.open(path, "rb")
  if not f then
    if missing_ok then return nil end
    error(why, 2)
  end
  local s = f:read("a")
  f:close()
  return s
end

--- Writes the bytes s to the file at path (replacing it).
function M.write_file(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

--- The build's host and source folders (set by CTest).
M.host = os.getenv("GMMKIT_HOST")
M.source_dir = os.getenv("GMMKIT_SOURCE_DIR") or "."
M.build_dir = os.getenv("GMMKIT_BUILD_DIR") or "build"

package.loaded["spec_helper"] = M
return M
