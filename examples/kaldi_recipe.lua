-- kaldi_recipe.lua: a speaker-recognition UBM made the way Kaldi's sre recipes make one,
-- from a Kaldi data directory, with the data on disk all along:
--   1. a data directory (--data DIR, or made from the corpus by scripts/make-kaldi-dir with
--      every 7th wav.scp entry a pipe), checked by gk.kaldi.data_dir;
--   2. features as in egs/sre16 (20 MFCC + deltas + double deltas, energy VAD, CMVN),
--      written to a compressed archive (copy-feats --compress=true) as they are made;
--   3. a diagonal UBM as train_diag_ubm.sh makes it: the initial model by binary splitting
--      on a sample of the frames, then EM over the archive streamed in chunks, every
--      `subsample`-th frame, each frame's best `gselect` components chosen under the current
--      model and kept between choices;
--   4. a full-covariance UBM from it as train_full_ubm.sh: the diagonal covariances made
--      full, EM over the archive with the components chosen once and kept;
--   5. both saved in Kaldi's binary format (what gmm-global-copy and fgmm-global-copy read)
--      and read back;
--   6. the diagonal UBM reduced (Runnalls) to a Gaussian selector, and a speaker check:
--      speakers MAP-adapted on their utterances, every test utterance against every
--      speaker, EER and minimum DCF with exhaustive top-5 scoring and with the selector.
-- Every 5th utterance of a speaker is a test utterance; the rest train the UBM and enrol.
--   gmmkit examples/kaldi_recipe.lua [--audio DIR | --data DIR] [--out DIR] [--components 2048]
local gk = require "gmmkit"
local ex = gk.experiment

local smoke = ex.smoke()
local opt = ex.options(arg, {
  audio = "",
  data = "",
  out = os.getenv("GMMKIT_OUT") or "out/kaldi_recipe",
  components = smoke and 16 or 2048,
  diag_iters = smoke and 2 or 4,
  full_iters = smoke and 2 or 4,
  subsample = smoke and 1 or 2,
  gselect = smoke and 5 or 20,
  clusters = smoke and 4 or 64,
  reg = 0.05,
  seed = 1,
}, "kaldi_recipe.lua: data directory -> archive -> diagonal and full UBMs (Kaldi's schedule) -> selector -> EER")
ex.mkdir(opt.out)
local t_all = gk.seconds()
local function step(fmt, ...)
  print(string.format("%6.1f s  " .. fmt, gk.seconds() - t_all, ...))
end

-- 1. the data directory
local dd_path = opt.data
if dd_path == "" then
  local folder = ex.speech_folder(opt.audio, opt.out, arg and arg[0], smoke and 2 or 6)
  dd_path = opt.out .. "/data"
  local script = (os.getenv("GMMKIT_SOURCE_DIR") or ".") .. "/scripts/make-kaldi-dir"
  local q = function(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
  if not os.execute(table.concat({q(script), q(folder), q(dd_path), "--pipes", "7"}, " ") .. " >/dev/null") then
    error("scripts/make-kaldi-dir failed on " .. folder, 0)
  end
end
local dd = gk.kaldi.data_dir(dd_path)
local spk_of, tests, train = dd.utt2spk, {}, {}
local count = {}
for _, utt in ipairs(dd.utterances) do
  local spk = spk_of[utt]
  count[spk] = (count[spk] or 0) + 1
  if count[spk] % 5 == 0 then tests[utt] = true else train[utt] = true end
end
step("data directory %s: %d utterances of %d speakers", dd_path, #dd.utterances, #(function()
  local s = {} for spk in pairs(dd.spk2utt) do s[#s + 1] = spk end return s end)())

-- 2. features to a compressed archive (resumed when it is there already)
local feats = opt.out .. "/feats"
local r = gk.features.extract(dd, {preset = "sre8k", num_ceps = 20, deltas = true, vad = true, cmvn = true,
  output = "ark,scp:" .. feats .. ".ark," .. feats .. ".scp", compress = true})
local failures = ex.report_failures(r)
step("features: %d utterances written to %s.ark (%d already there)", #r.keys, feats, r.skipped or 0)
if failures then io.stderr:write(failures) end

-- the training and test utterances as script files (lines of feats.scp)
local function subset_scp(keep, path)
  local out = {}
  for line in io.lines(feats .. ".scp") do
    if keep[line:match("^(%S+)")] then out[#out + 1] = line end
  end
  gk.core.write_file(path, table.concat(out, "\n") .. "\n")
  return "scp:" .. path
end
local train_scp, test_scp = subset_scp(train, opt.out .. "/train.scp"), subset_scp(tests, opt.out .. "/test.scp")

-- 3. the diagonal UBM (train_diag_ubm.sh: initial model from a sample, splitting; EM with gselect)
local t0 = gk.seconds()
local diag, info = gk.gmm.train(train_scp, {components = opt.components, init = "split", max_iter = opt.diag_iters,
  tol = 0, subsample = opt.subsample, gselect = {top = opt.gselect, clusters = 0, refresh = 1}, seed = opt.seed,
  min_weight = 1e-4, chunk_frames = 100000})
step("diagonal UBM: %d components, %d frames a pass, %.1f s; mean log-likelihood %.3f", diag.components, info.frames,
  gk.seconds() - t0, info.history[#info.history])

-- 4. the full-covariance UBM (train_full_ubm.sh: the components chosen once, from the start)
local means, vars = diag:means(), diag:covariances()
local covs, w = {}, diag:weights()
for k = 1, diag.components do
  local c = gk.matrix.new(diag.dim, diag.dim)
  for j = 1, diag.dim do c:set(j, j, vars:get(k, j)) end
  covs[k] = c
end
local full0 = gk.gmm.new{weights = w, means = means, covariances = covs, covariance_type = "full"}
t0 = gk.seconds()
-- A ridge on every covariance (reg): this corpus gives a component tens of frames, too few
-- for a 60 x 60 covariance (a recipe's hundreds of hours give it thousands); without it the
-- covariances collapse and their inverses no longer fit Kaldi's float format.
local full, finfo = gk.gmm.train(train_scp, {init = full0, max_iter = opt.full_iters, tol = 0,
  subsample = opt.subsample, gselect = {top = opt.gselect, clusters = 0, refresh = opt.full_iters},
  min_weight = 1e-4, reg = opt.reg, chunk_frames = 100000})
step("full-covariance UBM: %d iterations in %.1f s; mean log-likelihood %.3f (diagonal %.3f), held out %.3f " ..
  "(diagonal %.3f)", opt.full_iters, gk.seconds() - t0, finfo.history[#finfo.history], diag:log_likelihood(train_scp),
  full:log_likelihood(test_scp), diag:log_likelihood(test_scp))

-- 5. Kaldi's binary models, both ways
diag:save_kaldi(opt.out .. "/final.dubm", {binary = true})
full:save_kaldi(opt.out .. "/final.ubm", {binary = true})
local back = gk.gmm.load_kaldi(opt.out .. "/final.ubm")
step("saved final.dubm and final.ubm (Kaldi binary); read back: %d %s components",
  back.components, back.covariance_type)

-- 6. a selector from the diagonal UBM, and speaker verification with and without it
local sel = gk.gmm.selector(diag, {clusters = opt.clusters, method = "runnalls", overlap = 2})
local enrol, speakers = {}, {}
for key, m in gk.kaldi.read(train_scp) do
  local spk = spk_of[key]
  if not enrol[spk] then
    enrol[spk] = {}
    speakers[#speakers + 1] = spk
  end
  enrol[spk][#enrol[spk] + 1] = m
end
table.sort(speakers)
local models = {}
for i, spk in ipairs(speakers) do models[i] = diag:map_adapt(enrol[spk], {relevance = 16, means = true}) end
local test = gk.kaldi.read_all(test_scp)
local function evaluate(opts)
  local t = gk.seconds()
  local S = gk.gmm.llr_matrix(models, diag, test.matrices, opts)
  t = gk.seconds() - t
  local tar, non = {}, {}
  for i, spk in ipairs(speakers) do
    for j, key in ipairs(test.keys) do
      local list = spk_of[key] == spk and tar or non
      list[#list + 1] = S:get(i, j)
    end
  end
  return gk.eval.eer(tar, non), gk.eval.min_dcf(tar, non), t, #tar, #non
end
local eer, dcf, secs, ntar, nnon = evaluate({top = 5})
step("verification, %d target and %d non-target trials, exhaustive top-5: EER %.2f%%, minDCF %.3f, %.2f s", ntar,
  nnon, 100 * eer, dcf, secs)
for _, search in ipairs({2, 4}) do
  if search > sel.clusters then break end
  eer, dcf, secs = evaluate({top = 5, selector = sel, search = search})
  step("  with the selector (%d clusters, overlap 2, search %d): EER %.2f%%, minDCF %.3f, %.2f s", sel.clusters,
    search, 100 * eer, dcf, secs)
end
