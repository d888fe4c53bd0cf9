-- speech_ubm.lua: gmmkit's main job. A folder of speech recordings -> MFCC with deltas,
-- CMVN and VAD -> a UBM by EM -> reduced UBMs by every simplification method -> a report
-- (NISE, held-out mean log-likelihood, seconds) next to a UBM trained by EM directly with
-- the smaller number of components, the costly alternative that reduction avoids.
--   gmmkit examples/speech_ubm.lua [--audio DIR] [--out DIR] [--components 64]
--     [--target 16] [--covariance diag|full] [--methods lbfgs,gd,...] [--max-files N]
-- Every 5th file (in name order) is held out for the log-likelihoods.
local gk = require "gmmkit"
local ex = gk.experiment

local smoke = ex.smoke()
local opt = ex.options(arg, {
  audio = "",
  out = os.getenv("GMMKIT_OUT") or "out",
  components = smoke and 16 or 64,
  target = smoke and 4 or 16,
  covariance = "diag",
  methods = {"lbfgs", "gd", "kmeans", "topk", "runnalls", "minise", "gmrc"},
  max_files = smoke and 150 or 0,
  max_iter = smoke and 20 or 50,
  seed = 1,
  plots = true,
}, "speech_ubm.lua: speech folder -> MFCC -> UBM by EM -> reduced UBMs -> report.md")
if opt.target >= opt.components then error("--target must be smaller than --components", 0) end
ex.mkdir(opt.out)
local folder, source = ex.speech_folder(opt.audio, opt.out, arg and arg[0], smoke and 2 or 6)

-- Files, in name order; every 5th held out.
local files = gk.audio.list(folder)
if #files == 0 then error("no audio files in " .. folder, 0) end
files = ex.spread(files, opt.max_files)
local train_files, test_files = {}, {}
for i, f in ipairs(files) do
  if i % 5 == 0 then test_files[#test_files + 1] = f else train_files[#train_files + 1] = f end
end
print(string.format("speech: %d files from %s (%d for training, %d held out)", #files, source,
  #train_files, #test_files))

-- Features: the paper's front-end (19 cepstra with log energy, 30 ms frames) with deltas,
-- energy VAD and sliding CMVN.
local feat_opts = {preset = "paper", vad = true, cmvn = true}
local train, t_feat = ex.timed(gk.features.extract, train_files, feat_opts)
local test = gk.features.extract(test_files, feat_opts)
local audio_seconds = 0
for _, f in ipairs(train_files) do audio_seconds = audio_seconds + gk.audio.info(f).duration end
local dim = train.matrices[1]:cols()
print(string.format("features: %d x %d training frames in %.2f s (%.0fx real time), %d held-out frames, %d failed files",
  train.frames, dim, t_feat, audio_seconds / t_feat, test.frames, #train.failed + #test.failed))

local function heldout_loglik(g)
  local sum, n = 0, 0
  for _, X in ipairs(test.matrices) do
    sum = sum + g:log_likelihood(X) * X:rows()
    n = n + X:rows()
  end
  return sum / n
end

-- The UBM, by binary splitting as in the speaker-recognition recipes.
local last_k = 0
local function progress(p)
  if p.splitting then
    if p.components ~= last_k then
      io.stderr:write(string.format("  EM splitting: %d components, log-likelihood %.4f\n", p.components, p.log_likelihood))
      last_k = p.components
    end
  elseif p.iteration % 5 == 0 then
    io.stderr:write(string.format("  EM iteration %d: log-likelihood %.4f (%.2f s for the iteration)\n", p.iteration, p.log_likelihood, p.seconds))
  end
end
local em_opts = {covariance_type = opt.covariance, init = "split", max_iter = opt.max_iter, seed = opt.seed,
  tol = 1e-4, progress = progress}
em_opts.components = opt.components
local ubm, ubm_info = gk.gmm.train(train.matrices, em_opts)
print(string.format("UBM: %d components (%s), %d iterations, %.2f s", opt.components, opt.covariance,
  ubm_info.iterations, ubm_info.seconds))
em_opts.components = opt.target
local direct, direct_info = gk.gmm.train(train.matrices, em_opts)
ubm:save(opt.out .. "/ubm.gmm")

local rows = {
  {method = "EM, " .. opt.components .. " components (the UBM)", components = opt.components,
   loglik = heldout_loglik(ubm), seconds = ubm_info.seconds},
  {method = "EM, " .. opt.target .. " components directly", components = opt.target,
   nise = gk.simplify.nise(ubm, direct), loglik = heldout_loglik(direct), seconds = direct_info.seconds},
}
-- KL(UBM || g) by Monte Carlo: the likelihood-side distance, next to the NISE (in 38-D the
-- ISE is dominated by the sharpest components; see the README's limits).
local kl_samples = smoke and 2000 or 20000
local function kl(g) return (gk.simplify.kl(ubm, g, {samples = kl_samples, seed = opt.seed})) end
rows[2].kl = kl(direct)
local reduced = ex.reduce_all(ubm, opt.target, opt.methods, {seed = opt.seed})
local by = ex.by_method(reduced)
for _, r in ipairs(reduced) do
  r.components = opt.target
  r.loglik = heldout_loglik(r.model)
  r.kl = kl(r.model)
  rows[#rows + 1] = r
  r.model:save(opt.out .. "/ubm_" .. opt.target .. "_" .. r.method .. ".gmm")
end
local tbl = ex.markdown_table(rows, {"method", "components", "nise", "kl", "loglik", "seconds"},
  {"model", "components", "NISE to the UBM", "KL(UBM ‖ model), nats", "held-out log-lik / frame", "seconds"})
print(tbl)

-- Checks that make the run a test: EM improved on its start, and the exact optimiser is
-- at least as close to the UBM as the paper's methods and the greedy baselines.
assert(ubm_info.history[#ubm_info.history] > ubm_info.history[1], "EM did not raise the log-likelihood")
ex.check_best(by, "lbfgs", {"gd", "kmeans", "topk", "runnalls", "minise"})

local figures = {}
if opt.plots then
  local ok, err = pcall(function()
    gk.plot.em(ubm_info, {file = opt.out .. "/em.png", title = "UBM training: log-likelihood per iteration"})
    figures[#figures + 1] = {"em.png", "EM log-likelihood per frame at each iteration of the UBM after binary splitting reached all its components"}
    local runs = {}
    for _, m in ipairs({"gd", "kmeans", "lbfgs", "gmrc"}) do
      if by[m] then runs[#runs + 1] = {label = m, info = by[m].info} end
    end
    gk.plot.convergence(runs, {file = opt.out .. "/convergence.png",
      title = string.format("%d -> %d components: ISE against time", opt.components, opt.target)})
    figures[#figures + 1] = {"convergence.png", "the ISE (the objective F) against seconds for the iterative reduction methods"}
    local best = by.lbfgs or reduced[1]
    if best and best.model then
      local pts = gk.matrix.vstack(test.matrices)
      gk.plot.mixtures{mixtures = {ubm, best.model}, labels = {"UBM", best.method}, points = pts,
        file = opt.out .. "/ubm_slice.png", contours = true, ellipses = false,
        title = "UBM and its reduction, dimensions 1-2 (log energy, c1), held-out frames"}
      figures[#figures + 1] = {"ubm_slice.png", "the UBM and its " .. best.method .. " reduction on the first two feature dimensions"}
    end
    local s = gk.audio.load(test_files[1])
    gk.plot.image(gk.mfcc.compute(s, {preset = "paper"}), {file = opt.out .. "/mfcc.png", frame_shift = 0.01,
      title = "log energy, 18 MFCC and their deltas: " .. test_files[1]:match("[^/]*$")})
    figures[#figures + 1] = {"mfcc.png", "the static and delta coefficients of one held-out utterance"}
  end)
  if not ok then print("plots skipped: " .. tostring(err)) end
end

local report = {
  "# gmmkit speech UBM report", "",
  string.format("Speech: %d files from %s; %d training frames (%d-dimensional: 19 MFCC with log energy and their deltas, after VAD and CMVN), %d held-out frames from every 5th file.",
    #files, source, train.frames, dim, test.frames), "",
  string.format("Feature extraction: %.2f s for %.0f s of audio (%.0fx real time, %d threads).", t_feat,
    audio_seconds, audio_seconds / t_feat, gk.threads()), "",
  string.format("## %d -> %d components (%s covariances)", opt.components, opt.target, opt.covariance), "",
  tbl, "",
  "NISE is the normalised integral squared error to the UBM (0: identical), the objective the reductions minimise; " ..
  "KL is KL(UBM ‖ model) estimated from " .. kl_samples .. " draws of the UBM, the loss in log-likelihood on data " ..
  "drawn from the UBM. The two can disagree: in high dimension the ISE is dominated by the sharpest components. " ..
  "The direct EM row is the costly alternative: a second EM run on all the data.", "",
}
for _, fig in ipairs(figures) do
  report[#report + 1] = string.format("![%s](%s)\n\n*%s*\n", fig[2], fig[1], fig[2])
end
ex.write(opt.out .. "/report.md", table.concat(report, "\n"))
print("wrote " .. opt.out .. "/report.md")
