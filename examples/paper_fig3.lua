-- paper_fig3.lua: the speech experiment of "Local Gradient Descent Methods for GMM
-- Simplification": a 10-component GMM on the first two MFCC dimensions of real speech,
-- reduced to 5. Speech from --audio, or $GMMKIT_DATA/fsdd/recordings, or an espeak-ng corpus.
-- Writes fig3_<method>.png, fig3_convergence.png and fig3.md.
--   gmmkit examples/paper_fig3.lua [--audio DIR] [--out DIR] [--max-files N]
local gk = require "gmmkit"
local ex = gk.experiment

local smoke = ex.smoke()
local opt = ex.options(arg, {
  audio = "",
  out = os.getenv("GMMKIT_OUT") or "out/paper_fig3",
  max_files = smoke and 100 or 600,
  fit = 10,
  target = 5,
  seed = 3,
  methods = {"gd", "kmeans", "lbfgs", "topk", "runnalls", "minise", "gmrc", "brute"},
  plots = not smoke,
}, "paper_fig3.lua: speech, first two MFCC dimensions, 10 -> 5 components (the paper's figure 3)")
ex.mkdir(opt.out)
local folder, source = ex.speech_folder(opt.audio, opt.out, arg and arg[0], 1)
local files = gk.audio.list(folder)
files = ex.spread(files, opt.max_files)
-- The paper's front-end, without energy: cepstra c1 and c2 of voiced frames.
local feats = gk.features.extract(files, {preset = "paper", vad = true, cmvn = true, stack = true})
ex.report_failures(feats)  -- each skipped file and its reason on stderr
local X = feats.stacked:select_cols({2, 3})
print(string.format("speech: %d frames of [c1, c2] from %d files of %s", X:rows(), #feats.paths, source))

local f, em = gk.gmm.train(X, {components = opt.fit, covariance_type = "full", seed = opt.seed, max_iter = 300, tol = 1e-7})
print(string.format("EM: %d components, %d iterations", opt.fit, em.iterations))
local rows = ex.reduce_all(f, opt.target, opt.methods, {seed = opt.seed})
local by = ex.by_method(rows)
for _, r in ipairs(rows) do
  r.loglik = r.model:log_likelihood(X)
end
local tbl = ex.markdown_table(rows, {"method", "nise", "loglik", "iterations", "seconds"},
  {"method", "NISE", "mean log-lik of the frames", "iterations", "seconds"})
print(tbl)
if by.kmeans and by.kmeans.info.oscillating then print("kmeans: assignments oscillated (as the paper reports on speech)") end
ex.check_best(by, "lbfgs", {"gd", "kmeans", "topk", "runnalls", "minise"})
if by.brute and by.lbfgs then
  print(string.format("brute force (best moment-preserving partition, refined): NISE %.4g; lbfgs %.4g", by.brute.nise, by.lbfgs.nise))
end
if opt.plots then
  for _, m in ipairs({"gd", "kmeans", "lbfgs"}) do
    gk.plot.mixtures{mixtures = {f, by[m].model}, labels = {"f (10)", m .. " (5)"}, points = X,
      file = opt.out .. "/fig3_" .. m .. ".png", title = string.format("speech [c1, c2], 10 -> 5 by %s: NISE %.3g", m, by[m].nise)}
  end
  gk.plot.convergence({{label = "gd", info = by.gd.info}, {label = "kmeans", info = by.kmeans.info},
    {label = "lbfgs", info = by.lbfgs.info}}, {file = opt.out .. "/fig3_convergence.png", title = "speech, 10 -> 5: ISE against time"})
end
ex.write(opt.out .. "/fig3.md", "# Figure 3: speech [c1, c2], 10 -> 5\n\nData: " .. source .. "\n\n" .. tbl .. "\n")
print("wrote " .. opt.out .. "/fig3.md")
