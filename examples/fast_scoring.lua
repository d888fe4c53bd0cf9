-- fast_scoring.lua: speaker verification on the spoken-digit corpus with Gaussian selection.
-- A UBM, speakers MAP-adapted (means) on their enrolment files (index % 5 ~= 4), every
-- held-out utterance scored against every speaker by top-5 LLR; then the same trials with
-- each reduction method as the selector (clusters x search): EER, minimum DCF, Gaussians
-- evaluated per frame and scoring time against exhaustive top-5 scoring in the same run.
--   gmmkit examples/fast_scoring.lua [--audio DIR] [--out DIR] [--components 256]
local gk = require "gmmkit"
local ex = gk.experiment

local smoke = ex.smoke()
local opt = ex.options(arg, {
  audio = "",
  out = os.getenv("GMMKIT_OUT") or "out/fast_scoring",
  components = smoke and 32 or 256,
  clusters = smoke and {4, 8} or {16, 32, 64},
  search = smoke and {1, 2} or {1, 2, 4},
  methods = smoke and {"runnalls", "topk"} or {"runnalls", "gmrc", "topk", "minise", "lbfgs", "kmeans", "gd"},
  top = 5,
  relevance = 16,
  seed = 4,
}, "fast_scoring.lua: verification with Gaussian selection from each reduction method")
ex.mkdir(opt.out)
local folder, source = ex.speech_folder(opt.audio, opt.out, arg and arg[0], smoke and 5 or 6)

-- enrolment and test files per speaker
local enrol, tests, speakers = {}, {}, {}
for _, path in ipairs(gk.audio.list(folder)) do
  local spk, _, index = ex.fsdd_name(path)
  if spk then
    if not enrol[spk] then
      enrol[spk] = {}
      speakers[#speakers + 1] = spk
    end
    if index % 5 == 4 then
      tests[#tests + 1] = path
    else
      enrol[spk][#enrol[spk] + 1] = path
    end
  end
end
table.sort(speakers)
local feat_opts = {preset = "paper", vad = true, cmvn = true}
local all, enrol_feats = {}, {}
for _, spk in ipairs(speakers) do
  local e = gk.features.extract(enrol[spk], feat_opts)
  enrol_feats[spk] = gk.matrix.vstack(e.matrices)
  for _, m in ipairs(e.matrices) do all[#all + 1] = m end
end
local t = gk.features.extract(tests, feat_opts)
local test_feats = t.matrices
local test_of = {}
for i, p in ipairs(t.paths) do test_of[i] = ex.fsdd_name(p) end
print(string.format("%d speakers from %s, %d test utterances", #speakers, source, #test_feats))

local ubm = gk.gmm.train(all, {components = opt.components, init = "split", max_iter = smoke and 8 or 20,
  seed = opt.seed})
local models = {}
for i, spk in ipairs(speakers) do
  models[i] = ubm:map_adapt(enrol_feats[spk], {relevance = opt.relevance, means = true})
end

-- target and non-target scores of a score matrix (speakers x tests)
local function split_scores(S)
  local tar, non = {}, {}
  for i, spk in ipairs(speakers) do
    for j = 1, #test_feats do
      local list = test_of[j] == spk and tar or non
      list[#list + 1] = S:get(i, j)
    end
  end
  return tar, non
end

local function measure(opts)
  local S, evals = gk.gmm.llr_matrix(models, ubm, test_feats, opts)  -- warm
  local t0 = gk.seconds()
  S, evals = gk.gmm.llr_matrix(models, ubm, test_feats, opts)
  local sec = gk.seconds() - t0
  local tar, non = split_scores(S)
  return {eer = gk.eval.eer(tar, non), dcf = gk.eval.min_dcf(tar, non, {p_target = 0.01}), evals = evals,
          seconds = sec}
end

local base = measure({top = opt.top})
local rows = {{method = "exhaustive", clusters = "-", search = "-", eer = base.eer, dcf = base.dcf,
               evals = base.evals, seconds = base.seconds, speedup = 1}}
for _, method in ipairs(opt.methods) do
  for _, k in ipairs(opt.clusters) do
    local sel = gk.gmm.selector(ubm, {clusters = k, method = method, max_iter = smoke and 5 or 50})
    for _, m in ipairs(opt.search) do
      if m <= k then
        local r = measure({selector = sel, search = m, top = opt.top})
        rows[#rows + 1] = {method = method, clusters = k, search = m, eer = r.eer, dcf = r.dcf, evals = r.evals,
                           seconds = r.seconds, speedup = base.seconds / r.seconds}
      end
    end
  end
end

for _, r in ipairs(rows) do
  r.eer = string.format("%.2f%%", 100 * r.eer)
  r.dcf = string.format("%.3f", r.dcf)
  r.evals = string.format("%.1f", r.evals)
  r.seconds = string.format("%.3f", r.seconds)
  r.speedup = string.format("%.2fx", r.speedup)
end
local table_md = ex.markdown_table(rows, {"method", "clusters", "search", "eer", "dcf", "evals", "seconds", "speedup"},
  {"selector", "clusters", "search", "EER", "minDCF (0.01)", "Gaussians/frame", "seconds", "speed-up"})
print(table_md)
ex.write(opt.out .. "/fast_scoring.md", string.format(
  "# Verification with Gaussian selection\n\n%d speakers (%s), UBM of %d components, %d test utterances x %d " ..
  "speakers, top-%d LLR.\n\n%s\n", #speakers, source, opt.components, #test_feats, #speakers, opt.top, table_md))
