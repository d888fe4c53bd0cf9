-- fast_scoring.lua: speaker verification on the spoken-digit corpus with Gaussian selection.
-- A UBM, speakers MAP-adapted (means) on their enrolment files, every test utterance scored
-- against every speaker by top-5 LLR; then the same trials with each reduction method as the
-- selector (clusters x members x search; members by overlap alone, or also by data: the
-- UBM's training frames add each frame's best 2 components to its best cluster, where at
-- least 20 frames put them):
-- EER, minimum DCF (p_target = 0.01), Gaussians evaluated per frame and scoring time
-- against exhaustive top-5 scoring in the same run, each without and with S-norm, the
-- size of the selector's largest cluster and how often the selected components hold each
-- test frame's best UBM component; each method's best configuration
-- at equal budgets of Gaussians per frame; a DET plot of exhaustive scoring against the
-- best selectors.
--
-- Files of each speaker, by their FSDD index (0-49 per digit): index % 5 == 4 are the test
-- utterances (100 a speaker); the rest are background data that trains the UBM, of which
-- index % 25 == 3 (2 a digit, 20 a speaker) form the Z-norm cohort, held out from the
-- speaker models and the tests, and the others (380 a speaker) enrol the speaker.
--
-- S-norm, the symmetric normalisation (gk.eval.snorm: the mean of the Z- and T-normalised
-- score), with the cohorts made the standard way, from impostors only:
--   Z-norm (model side): model i's scores on the Z-norm cohort utterances of the other
--     speakers (100 utterances), scored as the trials are (the same selector and search);
--   T-norm (test side): the test's scores against the other speakers' models (the five
--     models other than the claimed one), which are rows of the trial score matrix itself.
-- The corpus has six speakers, so no cohort can leave out the test's own speaker: on a
-- non-target trial the T-norm cohort holds the model of the speaker who spoke the test
-- (NIST SRE 2012's rules allowed such use of the other target models; an open-set
-- evaluation with outside cohort speakers would not have it), which favours S-norm here.
-- Cohort statistics are plain (top = 0): five cohort models leave nothing to adapt with.
--
-- The scoring time is that of the trial matrix alone (cohort scores are made once per model
-- at enrolment, as in a deployed system), the best of `repeats` runs after a warm-up; the
-- machine's load average is recorded with the timings.
--   gmmkit examples/fast_scoring.lua [--audio DIR] [--out DIR] [--components 256] [--repeats 5]
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
  members = {"overlap", "data"},
  member_top = 2,   -- members by data: each training frame's best member_top components ...
  min_count = smoke and 2 or 20,  -- ... join its best cluster where at least min_count frames put them
  top = 5,
  relevance = 16,
  seed = 4,
  repeats = smoke and 1 or 5,
  budget = smoke and 0.6 or 1 / 3,  -- the DET plot's selectors: the best three at most budget x K Gaussians per frame
}, "fast_scoring.lua: verification with Gaussian selection from each reduction method, with S-norm")
ex.mkdir(opt.out)
local folder, source = ex.speech_folder(opt.audio, opt.out, arg and arg[0], smoke and 5 or 6)

local function loadavg()
  local f = io.open("/proc/loadavg")
  local s = f and f:read("l")
  if f then f:close() end
  return s and s:match("^(%S+ %S+ %S+)") or "unknown"
end

-- enrolment, Z-norm cohort and test files per speaker
local enrol, tests, cohort, speakers = {}, {}, {}, {}
for _, path in ipairs(gk.audio.list(folder)) do
  local spk, _, index = ex.fsdd_name(path)
  if spk then
    if not enrol[spk] then
      enrol[spk] = {}
      speakers[#speakers + 1] = spk
    end
    if index % 5 == 4 then
      tests[#tests + 1] = path
    elseif index % 25 == 3 then
      cohort[#cohort + 1] = path
    else
      enrol[spk][#enrol[spk] + 1] = path
    end
  end
end
table.sort(speakers)
local feat_opts = {preset = "paper", vad = true, cmvn = true}
local function extract(paths)
  local r = gk.features.extract(paths, feat_opts)
  local who = {}
  for i, p in ipairs(r.paths) do who[i] = ex.fsdd_name(p) end
  return r.matrices, who
end
local all, enrol_feats = {}, {}
for _, spk in ipairs(speakers) do
  local e = gk.features.extract(enrol[spk], feat_opts)
  enrol_feats[spk] = gk.matrix.vstack(e.matrices)
  for _, m in ipairs(e.matrices) do all[#all + 1] = m end
end
local test_feats, test_of = extract(tests)
local cohort_feats, cohort_of = extract(cohort)
for _, m in ipairs(cohort_feats) do all[#all + 1] = m end  -- background data for the UBM
print(string.format("%d speakers from %s, %d test utterances, %d Z-norm cohort utterances", #speakers, source,
  #test_feats, #cohort_feats))

local ubm = gk.gmm.train(all, {components = opt.components, init = "split", max_iter = smoke and 8 or 20,
  seed = opt.seed})
-- each test frame's best UBM component (largest w_k N_k), to see how often a selector finds it
local test_frames = gk.matrix.vstack(test_feats)
local best_component = ubm:predict(test_frames)
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

-- S-norm of the trial matrix S (speakers x tests), row by row: model i's Z-norm cohort is
-- its row of E (speakers x cohort utterances) over the other speakers' utterances, its
-- T-norm cohort the other models' rows of S.
local function snorm(S, E)
  local rows = {}
  for i, spk in ipairs(speakers) do
    local e, t = {}, {}
    for j = 1, #cohort_feats do
      if cohort_of[j] ~= spk then e[#e + 1] = E:get(i, j) end
    end
    for k = 1, #speakers do
      if k ~= i then
        local row = {}
        for j = 1, #test_feats do row[j] = S:get(k, j) end
        t[#t + 1] = row
      end
    end
    local s = {}
    for j = 1, #test_feats do s[j] = S:get(i, j) end
    local n = gk.eval.snorm(gk.matrix.from_table({s}), gk.matrix.from_table({e}), gk.matrix.from_table(t))
    rows[i] = {}
    for j = 1, #test_feats do rows[i][j] = n:get(1, j) end
  end
  return gk.matrix.from_table(rows)
end

local function measure(opts)
  local found = 1
  if opts.selector then
    local I = opts.selector:select(test_frames, {search = opts.search, top = 1})
    local hits = 0
    for i = 1, #best_component do
      if I:get(i, 1) == best_component[i] then hits = hits + 1 end
    end
    found = hits / #best_component
  end
  local S, evals = gk.gmm.llr_matrix(models, ubm, test_feats, opts)  -- warm
  local sec = math.huge
  for _ = 1, opt.repeats do
    local t0 = gk.seconds()
    S, evals = gk.gmm.llr_matrix(models, ubm, test_feats, opts)
    sec = math.min(sec, gk.seconds() - t0)
  end
  local tar, non = split_scores(S)
  local ntar, nnon = split_scores(snorm(S, gk.gmm.llr_matrix(models, ubm, cohort_feats, opts)))
  return {eer = gk.eval.eer(tar, non), dcf = gk.eval.min_dcf(tar, non, {p_target = 0.01}),
          eer_s = gk.eval.eer(ntar, nnon), dcf_s = gk.eval.min_dcf(ntar, nnon, {p_target = 0.01}),
          evals = evals, seconds = sec, tar = tar, non = non, found = found}
end

local load_before = loadavg()
local base = measure({top = opt.top})
base.method, base.members, base.clusters, base.search, base.speedup, base.largest = "exhaustive", "-", "-", "-", 1,
  "-"
local rows = {base}
-- A selector's members: by overlap alone, or also by data (the UBM's training frames, each
-- frame's member_top best components added to its best cluster).
local function make_selector(g, members)
  if members == "overlap" then return gk.gmm.selector_from(ubm, g) end
  return gk.gmm.selector_from(ubm, g, {data = all, search = 1, top = opt.member_top, min_count = opt.min_count})
end

local function measure_selector(sel, method, k, members, m)
  -- clusters that no UBM component joined are dropped: the count used, and the largest
  local largest = 0
  for j = 1, sel.clusters do largest = math.max(largest, #sel:members(j)) end
  local r = measure({selector = sel, search = m, top = opt.top})
  r.method, r.members, r.search, r.speedup, r.largest = method, members, m, base.seconds / r.seconds, largest
  r.clusters = sel.clusters == k and tostring(k) or string.format("%d (%d used)", k, sel.clusters)
  rows[#rows + 1] = r
end

for _, method in ipairs(opt.methods) do
  for _, k in ipairs(opt.clusters) do
    local g = gk.simplify.reduce(ubm, k, {method = method, max_iter = smoke and 5 or 50})
    for _, members in ipairs(opt.members) do
      local sel = make_selector(g, members)
      for _, m in ipairs(opt.search) do
        if m <= sel.clusters then measure_selector(sel, method, k, members, m) end
      end
    end
  end
end
local load_after = loadavg()

-- Equal budgets: each method's best configuration (EER, then minDCF) among those that
-- evaluate at most a given share of the UBM's Gaussians per frame.
local function better(a, b) return a.eer < b.eer or (a.eer == b.eer and a.dcf < b.dcf) end
local function best_at(budget, method)
  local best
  for i = 2, #rows do
    local r = rows[i]
    if r.evals <= budget and (method == nil or r.method == method) and (not best or better(r, best)) then best = r end
  end
  return best
end
local budgets = {opt.components / 16, opt.components / 8, opt.components / 6, opt.components / 4, opt.components / 3,
  opt.components / 2}

-- The DET plot: exhaustive scoring and the best three selectors (of different methods) at
-- the budget.
local budget = opt.budget * opt.components
local chosen = {}
for _, method in ipairs(opt.methods) do chosen[#chosen + 1] = best_at(budget, method) end
table.sort(chosen, better)
local systems = {{name = string.format("exhaustive top-%d, %d Gaussians/frame", opt.top, opt.components),
                  tar = base.tar, non = base.non}}
for i = 1, math.min(3, #chosen) do
  local r = chosen[i]
  systems[#systems + 1] = {name = string.format("%s, %s clusters, members by %s, search %d: %.1f Gaussians/frame",
    r.method, r.clusters, r.members, r.search, r.evals), tar = r.tar, non = r.non}
end
local det_file = opt.out .. "/fast_scoring_det.png"
local have_plot, why = pcall(gk.plot.det, systems, {file = det_file, range = {0.02, 40, 0.1, 40},
  title = string.format("Speaker verification, %d-component UBM: exhaustive scoring and Gaussian selection",
    opt.components)})
if not have_plot then print("no DET plot: " .. tostring(why)) end

local function cells(r)
  return {method = r.method, members = r.members, clusters = r.clusters, search = r.search,
          eer = string.format("%.2f%%", 100 * r.eer), dcf = string.format("%.3f", r.dcf),
          eer_s = string.format("%.2f%%", 100 * r.eer_s), dcf_s = string.format("%.3f", r.dcf_s),
          evals = string.format("%.1f", r.evals), reduction = string.format("%.1fx", opt.components / r.evals),
          largest = r.largest, found = string.format("%.1f%%", 100 * r.found),
          seconds = string.format("%.3f", r.seconds), speedup = string.format("%.2fx", r.speedup)}
end
local columns = {"method", "clusters", "members", "search", "eer", "dcf", "eer_s", "dcf_s", "evals", "reduction",
  "seconds", "speedup", "largest", "found"}
local headers = {"selector", "clusters", "members", "search", "EER", "minDCF (0.01)", "EER S-norm", "minDCF S-norm",
  "Gaussians/frame", "fewer Gaussians", "seconds", "speed-up", "largest cluster", "best component found"}
local all_rows = {}
for i, r in ipairs(rows) do all_rows[i] = cells(r) end
local table_md = ex.markdown_table(all_rows, columns, headers)

local budget_rows = {}
for _, b in ipairs(budgets) do
  for _, method in ipairs(opt.methods) do
    local r = best_at(b, method)
    if r then
      local c = cells(r)
      c.budget = string.format("<= %.0f", b)
      budget_rows[#budget_rows + 1] = c
    end
  end
end
local budget_md = ex.markdown_table(budget_rows, {"budget", table.unpack(columns)}, {"Gaussians/frame budget",
  table.unpack(headers)})

print(table_md)
print("\nEach method's best configuration at a budget of Gaussians per frame:\n" .. budget_md)
print(string.format("\nload average (1, 5, 15 min) before the timings: %s, after: %s", load_before, load_after))
if have_plot then print("DET plot: " .. det_file) end
ex.write(opt.out .. "/fast_scoring.md", string.format(
  "# Verification with Gaussian selection\n\n%d speakers (%s), UBM of %d components, %d test utterances x %d " ..
  "speakers, top-%d LLR; S-norm with the other speakers' models (T-norm) and %d held-out utterances (Z-norm, " ..
  "the other speakers' for each model). Seconds: scoring the trial matrix, best of %d; load average before " ..
  "%s, after %s.\n\n%s\n\n## Each method's best configuration at a budget of Gaussians per frame\n\n%s\n%s",
  #speakers, source, opt.components, #test_feats, #speakers, opt.top, #cohort_feats, opt.repeats, load_before,
  load_after, table_md, budget_md, have_plot and ("\nDET plot: " .. det_file .. "\n") or ""))
