-- speaker_id.lua: speaker identification and verification on the spoken-digit corpus
-- (six speakers): per-speaker models MAP-adapted (means, relevance 16) from a UBM and from
-- each reduced UBM; identification accuracy and verification equal error rate on held-out
-- utterances. Split by a fixed rule: recordings with index % 5 == 4 are held out.
-- Files must be named {digit}_{speaker}_{index}.wav (FSDD; the espeak-ng corpus too).
--   gmmkit examples/speaker_id.lua [--audio DIR] [--out DIR] [--components 64] [--targets 16,8]
local gk = require "gmmkit"
local ex = gk.experiment

local smoke = ex.smoke()
local opt = ex.options(arg, {
  audio = "",
  out = os.getenv("GMMKIT_OUT") or "out/speaker_id",
  components = smoke and 16 or 64,
  targets = smoke and {4} or {16, 8},
  methods = {"lbfgs", "runnalls", "topk"},
  relevance = 16,
  max_per_speaker = smoke and 40 or 0,
  min_accuracy = 0,
  seed = 4,
}, "speaker_id.lua: MAP speaker models from a UBM and from reduced UBMs; accuracy and EER")
ex.mkdir(opt.out)
local folder, source = ex.speech_folder(opt.audio, opt.out, arg and arg[0], smoke and 5 or 6)

local enrol, test, speakers, count = {}, {}, {}, {}
for _, path in ipairs(gk.audio.list(folder)) do
  local spk, _, index = ex.fsdd_name(path)
  if spk then
    count[spk] = (count[spk] or 0) + 1
    if opt.max_per_speaker == 0 or count[spk] <= opt.max_per_speaker then
      if not enrol[spk] then
        enrol[spk], test[spk] = {}, {}
        speakers[#speakers + 1] = spk
      end
      local list = index % 5 == 4 and test[spk] or enrol[spk]
      list[#list + 1] = path
    end
  end
end
table.sort(speakers)
if #speakers < 2 then error("need recordings of at least two speakers named {digit}_{speaker}_{index}.wav in " .. folder, 0) end

local feat_opts = {preset = "paper", vad = true, cmvn = true}
local enrol_feats, test_feats, all_enrol = {}, {}, {}
local n_test = 0
local extracted = {}
for _, spk in ipairs(speakers) do
  local e = gk.features.extract(enrol[spk], feat_opts)
  local t = gk.features.extract(test[spk], feat_opts)
  extracted[#extracted + 1], extracted[#extracted + 2] = e, t
  if #e.matrices == 0 then
    error(string.format("no enrolment file of speaker %s could be read (first reason: %s)", spk,
      e.failed[1] and e.failed[1].error or "none listed"), 0)
  end
  enrol_feats[spk] = gk.matrix.vstack(e.matrices)
  test_feats[spk] = t.matrices
  n_test = n_test + #t.matrices
  for _, m in ipairs(e.matrices) do all_enrol[#all_enrol + 1] = m end
end
ex.report_failures(extracted)  -- each skipped file and its reason on stderr
print(string.format("%d speakers from %s; %d enrolment files, %d test utterances", #speakers, source, #all_enrol, n_test))

local ubm = gk.gmm.train(all_enrol, {components = opt.components, init = "split", max_iter = smoke and 15 or 40,
  seed = opt.seed, tol = 1e-4})

local function evaluate(base, label, reduce_seconds)
  local models = {}
  for _, spk in ipairs(speakers) do
    models[spk] = base:map_adapt(enrol_feats[spk], {relevance = opt.relevance, means = true})
  end
  local correct, total, targets, nontargets = 0, 0, {}, {}
  local t0 = gk.seconds()
  for _, truth in ipairs(speakers) do
    for _, X in ipairs(test_feats[truth]) do
      local best, best_score = nil, -math.huge
      for _, spk in ipairs(speakers) do
        local s = gk.gmm.llr(models[spk], base, X)
        if s > best_score then best, best_score = spk, s end
        if spk == truth then targets[#targets + 1] = s else nontargets[#nontargets + 1] = s end
      end
      total = total + 1
      if best == truth then correct = correct + 1 end
    end
  end
  return {model = label, components = base.components, accuracy = correct / total, eer = ex.eer(targets, nontargets),
    scoring = gk.seconds() - t0, reduce = reduce_seconds}
end

local rows = {evaluate(ubm, "UBM (EM)", nil)}
for _, k in ipairs(opt.targets) do
  for _, r in ipairs(ex.reduce_all(ubm, k, opt.methods, {seed = opt.seed})) do
    if r.error then error(r.method .. ": " .. r.error) end
    rows[#rows + 1] = evaluate(r.model, r.method, r.seconds)
  end
end
for _, r in ipairs(rows) do
  r.speedup = rows[1].scoring / r.scoring
end
local tbl = ex.markdown_table(rows, {"model", "components", "accuracy", "eer", "scoring", "speedup", "reduce"},
  {"UBM", "components", "identification accuracy", "verification EER", "scoring seconds", "scoring speed-up", "reduction seconds"})
print(tbl)
local floor = opt.min_accuracy
if floor == 0 and os.getenv("GMMKIT_DATA") and opt.audio == "" then floor = smoke and 0.8 or 0.9 end
assert(rows[1].accuracy >= floor, string.format("identification accuracy %.3f below the floor %.2f", rows[1].accuracy, floor))
assert(rows[1].accuracy > 1 / #speakers, "identification no better than chance")
ex.write(opt.out .. "/speaker_id.md", string.format(
  "# Speaker identification\n\n%d speakers from %s; %d test utterances; MAP (means, relevance %g) from each UBM.\n\n%s\n",
  #speakers, source, n_test, opt.relevance, tbl))
print("wrote " .. opt.out .. "/speaker_id.md")
