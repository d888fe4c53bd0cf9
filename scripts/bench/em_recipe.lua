-- em_recipe.lua: EM at the scale of a speaker-recognition recipe (scripts/bench/em_recipe
-- runs it with the SGEMM rate measured in the same run). Frames with speech-like structure:
-- drawn from a K-component diagonal UBM trained on the spoken-digit corpus's 60-D features
-- (20 MFCC + deltas + double deltas, Kaldi's sre16 configuration); training starts from a
-- disturbed copy of it (means moved by a third of a standard deviation, variances x 1.5,
-- uniform weights), so that EM has work to do. Reported, each the median over iterations:
--   exact diagonal EM, seconds an iteration and GFLOP/s counting the E- and M-steps' GEMM
--     work (4 N D K multiply-adds) against SGEMM's rate;
--   Gaussian selection (gselect): each frame's top-C components chosen (all K searched, or a
--     selector of clusters) once and reused, or chosen every iteration; seconds of a choosing
--     and of a reusing iteration, and the held-out log-likelihood after the same iterations;
--   training streamed from a Kaldi archive (scp) against the same training in memory, and
--     the peak resident memory of a process training from an archive of `stream` frames;
--   full covariances (a smaller N): exact and with gselect.
-- usage: gmmkit em_recipe.lua SGEMM_GFLOPS DATA_DIR TMP [--frames N] [--components K]
--        [--iters I] [--stream N] [--full-frames N] [--quick] [--gselect-only]
-- (--gselect-only: exact EM and the gselect rows, without the streaming and full-covariance
-- parts.)
local gk = require "gmmkit"

local sgemm, data, tmp = tonumber(arg[1]), arg[2], arg[3]
local opt = {frames = 1000000, components = 2048, iters = 4, stream = 5000000, full_frames = 50000, top = 20}
local gselect_only = false
for i = 4, #arg do
  local k, v = arg[i]:match("^%-%-([%w-]+)=?(.*)$")
  if k == "quick" then
    opt.frames, opt.components, opt.stream, opt.full_frames = 100000, 256, 400000, 10000
  elseif k == "gselect-only" then
    gselect_only = true
  elseif k and opt[k:gsub("-", "_")] then
    opt[k:gsub("-", "_")] = tonumber(v)
  else
    error("unknown argument " .. arg[i])
  end
end
local N, K, I, C = opt.frames, opt.components, opt.iters, opt.top

local function median(t)
  local s = {}
  for i, v in ipairs(t) do s[i] = v end
  table.sort(s)
  local n = #s
  return n % 2 == 1 and s[(n + 1) // 2] or (s[n // 2] + s[n // 2 + 1]) / 2
end

-- the UBM the frames come from, trained once and kept in TMP
local ubm_path = string.format("%s/ubm%d.gmm", tmp, K)
local f = io.open(ubm_path)
local ubm
if f then
  f:close()
  ubm = gk.gmm.load(ubm_path)
else
  local r = gk.features.extract(data .. "/fsdd/recordings", {preset = "sre8k", num_ceps = 20, deltas = true,
    vad = true, cmvn = true, progress = false})
  ubm = gk.gmm.train(r.matrices, {components = K, init = "split", max_iter = 10, seed = 1})
  ubm:save(ubm_path)
end
local D = ubm.dim
local X, H = ubm:sample(N, {seed = 1}), ubm:sample(100000, {seed = 2})

-- the disturbed start
local mu, var = ubm:means(), ubm:covariances()
local noise = gk.matrix.random(K, D, {seed = 3})
local w = {}
for k = 1, K do
  w[k] = 1 / K
  for j = 1, D do
    mu:set(k, j, mu:get(k, j) + (noise:get(k, j) - 0.5) * 0.66 * math.sqrt(var:get(k, j)))
    var:set(k, j, var:get(k, j) * 1.5)
  end
end
local g0 = gk.gmm.new{weights = w, means = mu, covariances = var}

-- I iterations from g0; per-iteration seconds and the held-out log-likelihood at the end
local function run(data_, opts)
  local o = {init = opts.init or g0, max_iter = I, tol = 0}
  for k, v in pairs(opts) do if k ~= "init" and k ~= "heldout" then o[k] = v end end
  local t = gk.gmm.trainer(data_, o)
  local secs = {}
  for i = 1, I do
    local t0 = gk.seconds()
    assert(t:step())
    secs[i] = gk.seconds() - t0
  end
  return secs, t:model():log_likelihood(opts.heldout or H)
end

print(string.format("EM at recipe scale: N = %d frames, D = %d, K = %d; %d iterations from a disturbed UBM; " ..
  "%d threads; SGEMM %.1f GFLOP/s (same run); load %s", N, D, K, I, gk.threads(), sgemm,
  io.open("/proc/loadavg"):read("l"):match("^(%S+ %S+ %S+)")))
print()
print("| case | s/iteration (median) | vs exact | GFLOP/s (4NDK MACs) | % of SGEMM | held-out ll/frame |")
print("|---|---|---|---|---|---|")
local flops = 8 * N * D * K
local secs, ll_exact = run(X, {})
local exact = median(secs)
local function row(name, s, ll)
  print(string.format("| %s | %.3f | %.2fx | %.1f | %.0f%% | %.4f (%+.4f) |", name, s, exact / s, flops / s / 1e9,
    100 * flops / s / 1e9 / sgemm, ll, ll - ll_exact))
end
row("exact, in memory", exact, ll_exact)

for _, gs in ipairs({{top = C, clusters = 0, refresh = I, name = "all K once, reused"},
                     {top = C, clusters = 0, refresh = 1, name = "all K every iteration"},
                     {top = C, clusters = 64, search = 4, refresh = I, name = "64 runnalls clusters, search 4, once"},
                     {top = C, clusters = 64, search = 2, members = "data", refresh = I,
                      name = "64 runnalls clusters with members by data, search 2, once"}}) do
  local name = gs.name
  gs.name = nil
  local s, ll = run(X, {gselect = gs})
  local rest = {}
  for i = 2, #s do rest[#rest + 1] = s[i] end
  if gs.refresh == 1 then
    row(string.format("gselect top %d, %s", C, name), median(s), ll)
  else
    row(string.format("gselect top %d, %s: choosing iteration", C, name), s[1], ll)
    row(string.format("gselect top %d, %s: reusing iterations", C, name), median(rest), ll)
  end
end

if gselect_only then return end

-- streamed from an archive of X in utterances of 300 frames
local scp = tmp .. "/x.scp"
local wr = gk.kaldi.writer("ark,scp:" .. tmp .. "/x.ark," .. scp)
local idx = {}
for u = 0, N // 300 - 1 do
  for i = 1, 300 do idx[i] = u * 300 + i end
  wr:write(string.format("u%07d", u), X:select_rows(idx))
end
wr:close()
local Xs = X:select_rows((function() local t = {} for i = 1, (N // 300) * 300 do t[i] = i end return t end)())
local s_mem = median((run(Xs, {})))
local s_str, ll_str = run("scp:" .. scp, {})
row("exact, in memory, whole utterances", s_mem, ll_exact)
row("exact, streamed from the scp", median(s_str), ll_str)
print(string.format("\nstreamed / in-memory speed: %.0f%%", 100 * s_mem / median(s_str)))
X, Xs = nil, nil
collectgarbage()

-- full covariances on fewer frames, from the UBM's variances
local covs = {}
for k = 1, K do
  local c = gk.matrix.new(D, D)
  for j = 1, D do c:set(j, j, var:get(k, j)) end
  covs[k] = c
end
local gf = gk.gmm.new{weights = w, means = mu, covariances = covs, covariance_type = "full"}
local Xf = ubm:sample(opt.full_frames, {seed = 4})
local Hf = ubm:sample(20000, {seed = 5})
local save_I = I
I = 2
local sf, llf = run(Xf, {init = gf, heldout = Hf})
local sg, llg = run(Xf, {init = gf, heldout = Hf, gselect = {top = C, clusters = 0, refresh = 2}})
I = save_I
print(string.format("\nfull covariances, N = %d, K = %d, D = %d: exact %.2f s an iteration (held-out %.4f); " ..
  "gselect top %d: choosing %.2f s, reusing %.2f s (%.1fx) (held-out %.4f)", opt.full_frames, K, D, median(sf), llf, C,
  sg[1], sg[2], median(sf) / sg[2], llg))

-- peak resident memory of a process training from an archive of opt.stream frames
local big = tmp .. "/big"
wr = gk.kaldi.writer("ark,scp:" .. big .. ".ark," .. big .. ".scp")
local made, u = 0, 0
while made < opt.stream do
  local piece = ubm:sample(math.min(300000, opt.stream - made), {seed = 100 + u})
  for first = 1, piece:rows(), 300 do
    local rows = {}
    for i = first, math.min(first + 299, piece:rows()) do rows[#rows + 1] = i end
    wr:write(string.format("b%08d", u), piece:select_rows(rows))
    u = u + 1
  end
  made = made + piece:rows()
  piece = nil
  collectgarbage()
end
wr:close()
local script = tmp .. "/peak.lua"
local sf_ = assert(io.open(script, "w"))
sf_:write(string.format([[
local gk = require "gmmkit"
local t0 = gk.seconds()
local g, info = gk.gmm.train(%q, {init = gk.gmm.load(%q), max_iter = 1, tol = 0})
io.write(string.format("%%d frames, 1 iteration in %%.1f s (the sample pass included)\n", info.frames, gk.seconds() - t0))
]], "scp:" .. big .. ".scp", ubm_path))
sf_:close()
local size = io.popen("du -m " .. big .. ".ark"):read("l"):match("^(%d+)")
local host = os.getenv("GMMKIT_HOST") or "gmmkit"
local out = io.popen(string.format("/usr/bin/time -f 'peak %%M kB' %s %s 2>&1", host, script)):read("a")
print(string.format("\nstreamed from a %s MB archive (%d frames of %d): %s", size, opt.stream, D, out:gsub("\n", "; ")))
os.remove(big .. ".ark")
