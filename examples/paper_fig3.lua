-- paper_fig3.lua: the speech experiment of "Local Gradient Descent Methods for GMM
-- Simplification": a 10-component GMM on the first two MFCC dimensions of real speech,
-- reduced to 5. Speech from --audio, or $GMMKIT_DATA/fsdd/recordings, or an espeak-ng corpus.
-- Writes fig3_<method>.png, fig3_convergence.png and fig3.md.
--   gmmkit examples/paper_fig3.lua [--audio DIR] [--out DIR] [--max-files N]
local gk = require "gmmkit"
local ex = gk.experiment

local opt = ex.setup(arg, "paper_fig3", {
  audio = "",
  max_files = ex.smoke() and 100 or 600,
  fit = 10,
  target = 5,
  seed = 3,
  methods = {"gd", "kmeans", "lbfgs", "topk", "runnalls", "minise", "gmrc", "brute"},
}, "paper_fig3.lua: speech, first two MFCC dimensions, 10 -> 5 components (the paper's figure 3)")
local folder, source = ex.speech_folder(opt.audio, opt.out, arg and arg[0], 1)
local files = gk.audio.list(folder)
files = ex.spread(files, opt.max_files)
-- The paper's front-end, without energy: cepstra c1 and c2 of voiced frames.
local feats = gk.features.extract(files, {preset = "paper", vad = true, cmvn = true, stack = true})
ex.report_failures(feats)  -- each skipped file and its reason on stderr
local X = feats.stacked:select_cols({2, 3})
print(string.format("speech: %d frames of [c1, c2] from %d files of %s", X:rows(), #feats.paths, source))

-- The EM fit.
local f, em = gk.gmm.train(X, {components = opt.fit, covariance_type = "full", seed = opt.seed, max_iter = 300, tol = 1e-7})
print(string.format("EM: %d components, %d iterations", opt.fit, em.iterations))

-- Compare: the table, two remarks on kmeans and brute force, f against the gd, kmeans
-- and lbfgs reductions over the frames, the convergence, fig3.md.
local function remarks(r)
  local by = r.by
  if by.kmeans and by.kmeans.info.oscillating then print("kmeans: assignments oscillated (as the paper reports on speech)") end
  if by.brute and by.lbfgs then
    print(string.format("brute force (best moment-preserving partition, refined): NISE %.4g; lbfgs %.4g", by.brute.nise, by.lbfgs.nise))
  end
end
ex.compare(f, opt.target, opt.methods, {data = X, data_name = "frames", seed = opt.seed, out = opt.out, name = "fig3",
  title = "Figure 3: speech [c1, c2], 10 -> 5", intro = "Data: " .. source, notes = remarks, plots = opt.plots,
  mixtures = {"gd", "kmeans", "lbfgs"}, what = "speech [c1, c2]", convergence = "speech, 10 -> 5: ISE against time"})
