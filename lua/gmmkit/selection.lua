--- gmmkit.selection: gk.gmm.selector, a reduction of the UBM (any gk.simplify.reduce
-- method) turned into a Gaussian selector by the core (gk.gmm.selector_from). init.lua
-- installs it as gk.gmm.selector.
local core = require "gmmkit.core"

local M = {}

local OWN = {clusters = true, overlap = true}

function M.selector(ubm, opts)
  if opts ~= nil and type(opts) ~= "table" then
    error("bad argument #2 to 'selector' (table expected, got " .. type(opts) .. ")", 3)
  end
  opts = opts or {}
  local ok, k = pcall(function() return ubm.components end)
  if not ok or type(k) ~= "number" then
    error("bad argument #1 to 'selector' (an open gmmkit.Gmm expected, got " .. (ok and type(ubm) or tostring(k)) .. ")", 3)
  end
  local clusters = opts.clusters or math.min(64, k // 2)
  if math.type(clusters) ~= "integer" or clusters < 1 or clusters >= k then
    error(string.format("bad argument #2 to 'selector' (option 'clusters' must be an integer in [1, %d], got %s)",
                        k - 1, tostring(opts.clusters)), 3)
  end
  local ropts = {method = "runnalls"}
  for key, v in pairs(opts) do
    if not OWN[key] then ropts[key] = v end
  end
  local rok, g, info = pcall(core.simplify.reduce, ubm, clusters, ropts)
  if not rok then error((tostring(g):gsub("^[^\n]-:%d+: ", "", 1):gsub("to '[^']*'", "to 'selector'", 1)), 3) end
  local sok, sel = pcall(core.gmm.selector_from, ubm, g, {overlap = opts.overlap})
  if not sok then error((tostring(sel):gsub("^[^\n]-:%d+: ", "", 1):gsub("to '[^']*'", "to 'selector'", 1)), 3) end
  return sel, info
end

core.setdoc(M.selector,
  "gk.gmm.selector(ubm[, {clusters=min(64, K/2), method=\"runnalls\", overlap=1, ...}]) -> Selector, info\n" ..
  "Gaussian selection for a UBM: the UBM reduced to `clusters` components by gk.simplify.reduce (any " ..
  "method and its options; info is the reduction's), each UBM component assigned to its `overlap` " ..
  "clusters of largest overlap w_j N(mu_i; mu_j, S_i + S_j). sel:select(X, {search=, top=}) gives each " ..
  "frame's best UBM components among the members of its best clusters; gk.gmm.llr and llr_matrix take " ..
  "{selector = sel, search = M, top = C}. Cost per frame: clusters + members of the searched clusters " ..
  "Gaussians instead of K.")

return M
