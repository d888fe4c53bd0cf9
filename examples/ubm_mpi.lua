-- ubm_mpi.lua: a UBM trained over MPI. Every rank extracts the features of its share of a
-- speech folder (gk.mpi.deal: contiguous runs of the sorted file list), EM sums the ranks'
-- sufficient statistics in rank order every iteration and every rank applies the same
-- update; rank 0 writes the checkpoint, the model and the report. Nothing else is
-- gathered: the held-out log-likelihood is a sum over the ranks. The same script runs on
-- one process (gk.mpi.size() is then 1) and gives the same model within 1e-12.
--   mpirun -np 4 gmmkit examples/ubm_mpi.lua [--audio DIR] [--out DIR] [--components 64]
--     [--covariance diag|full] [--max-iter 20] [--max-files N] [--resume]
--   mpirun --hostfile hosts -np 32 gmmkit examples/ubm_mpi.lua --audio /shared/speech --out /shared/ubm
-- --resume continues from OUT/ubm.ckpt (after a failure, with any number of ranks). The
-- output folder must be on a file system every rank sees (the checkpoint is read by all).
-- Every 5th file (in name order) is held out.
local gk = require "gmmkit"
local ex = gk.experiment

local smoke = ex.smoke()
local rank, size = gk.mpi.rank(), gk.mpi.size()
local opt = ex.options(arg, {
  audio = "",
  out = os.getenv("GMMKIT_OUT") or "out",
  components = smoke and 8 or 64,
  covariance = "diag",
  max_iter = smoke and 6 or 20,
  max_files = smoke and 120 or 0,
  seed = 1,
  resume = false,
}, "ubm_mpi.lua: speech folder -> MFCC on every rank -> UBM by EM over MPI -> ubm.gmm, report.md")

local function say(fmt, ...)
  if rank == 0 then print(string.format(fmt, ...)) end
end

-- Rank 0 makes the folders (and, without speech data, the small espeak-ng corpus) first.
if rank == 0 then
  ex.mkdir(opt.out)
  ex.speech_folder(opt.audio, opt.out, arg and arg[0], smoke and 2 or 6)
end
gk.mpi.barrier()
local folder, source = ex.speech_folder(opt.audio, opt.out, arg and arg[0], smoke and 2 or 6)

-- The same sorted list on every rank, then each rank's share of it.
local files = ex.spread(gk.audio.list(folder), opt.max_files)
if #files == 0 then error("no audio files in " .. folder, 0) end
local train_files, test_files = {}, {}
for i, f in ipairs(files) do
  if i % 5 == 0 then test_files[#test_files + 1] = f else train_files[#train_files + 1] = f end
end
local my_train = gk.mpi.deal(train_files)
local my_test = gk.mpi.deal(test_files)
say("speech: %d files from %s (%d for training, %d held out), %d rank%s", #files, source, #train_files,
  #test_files, size, size > 1 and "s" or "")

-- Features of this rank's files only (strict: a bad file ends the job, naming the rank).
local feat_opts = {preset = "paper", vad = true, cmvn = true, strict = true, progress = false}
local train, t_feat = ex.timed(gk.features.extract, my_train, feat_opts)
local test = gk.features.extract(my_test, feat_opts)
local frames = gk.mpi.allreduce(train.frames)
say("features: %d training frames, %.2f s of extraction summed over the ranks (rank 0: %d files)", frames,
  gk.mpi.allreduce(t_feat), #my_train)

-- The UBM by binary splitting, statistics summed over the ranks every iteration.
local iters = {}
local ubm, info = gk.gmm.train(train.matrices, {
  components = opt.components, covariance_type = opt.covariance, init = "split", max_iter = opt.max_iter,
  tol = 0, seed = opt.seed, checkpoint = opt.out .. "/ubm.ckpt", resume = opt.resume,
  progress = function(p)
    iters[#iters + 1] = p
    if rank == 0 and (p.iteration % 5 == 0 or smoke) and not p.splitting then
      io.stderr:write(string.format("  EM iteration %d: log-likelihood %.4f, %.3f s (%.3f s in the reduction)\n",
        p.iteration, p.log_likelihood, p.seconds, p.comm_seconds))
    end
  end})
if rank == 0 then ubm:save(opt.out .. "/ubm.gmm") end

-- What one iteration sends: each rank's statistics to rank 0 (frames, log-likelihood,
-- zeroth, first and second order and the shift: 8 (2 + K (1 + 2 D + C)) bytes, C = D
-- diagonal or D^2 full), then rank 0's sum to every rank.
local K, D = ubm.components, ubm.dim
local C = ubm.covariance_type == "diag" and D or D * D
local stats_bytes = 8 * (2 + K * (1 + 2 * D + C))
local per_iter = 2 * (size - 1) * stats_bytes
local n_it = #iters
local step_s, comm_s = 0, 0
for _, p in ipairs(iters) do
  step_s, comm_s = step_s + p.seconds, comm_s + p.comm_seconds
end
say("UBM: %d components (%s) on %d frames, %d EM iterations after the splits, %.2f s (%.3f s per iteration, %.1f%% in the reduction on rank 0)",
  K, ubm.covariance_type, info.frames, info.iterations, info.seconds, n_it > 0 and step_s / n_it or 0,
  step_s > 0 and 100 * comm_s / step_s or 0)
say("communication: %d bytes of statistics per rank, %d bytes moved per iteration over %d ranks", stats_bytes,
  per_iter, size)

-- Held-out log-likelihood per frame: sums over the ranks, nothing gathered ...
local ll_sum, n_test = 0, 0
for _, X in ipairs(test.matrices) do
  ll_sum = ll_sum + ubm:log_likelihood(X) * X:rows()
  n_test = n_test + X:rows()
end
local heldout = gk.mpi.allreduce(ll_sum) / gk.mpi.allreduce(n_test)
say("held-out log-likelihood per frame: %.6f on %d frames", heldout, gk.mpi.allreduce(n_test))

-- ... and, as a check, the same number from the features gathered on rank 0.
local gathered = gk.mpi.gather(test.matrices)

-- Checks that make the run a test (on rank 0; any failure ends the job with its rank).
if rank == 0 then
  assert(info.frames == frames, "training frames differ from the sum of the ranks' frames")
  assert(info.ranks == size, "train used another number of ranks")
  local h = info.history
  assert(#h >= 2 and h[#h] > h[1], "EM did not raise the log-likelihood")
  if info.component_events == 0 then
    for i = 2, #h do
      assert(h[i] >= h[i - 1] - 1e-4 * math.abs(h[i - 1]), "EM lowered the log-likelihood at iteration " .. i)
    end
  end
  local ref = ubm:log_likelihood(gathered)
  assert(math.abs(ref - heldout) <= 1e-12 * math.abs(ref),
    string.format("held-out log-likelihood %.17g over the ranks, %.17g gathered", heldout, ref))
  local back = gk.gmm.load(opt.out .. "/ubm.gmm")
  assert(back:log_likelihood(gathered) == ref, "the saved model does not score as the trained one")
  ex.write(opt.out .. "/report.md", table.concat({
    "# UBM over MPI",
    "",
    string.format("%d ranks, %d training files (%d frames, dimension %d), %d held out.", size, #train_files,
      frames, D, #test_files),
    string.format("UBM: %d %s components, %d EM iterations after the splits, %.2f s.", K, ubm.covariance_type,
      info.iterations, info.seconds),
    string.format("Per iteration: %.3f s, %.1f%% of it in the reduction; %d bytes of statistics per rank, %d bytes moved.",
      n_it > 0 and step_s / n_it or 0, step_s > 0 and 100 * comm_s / step_s or 0, stats_bytes, per_iter),
    string.format("Held-out log-likelihood per frame: %.6f.", heldout),
    "",
  }, "\n"))
  print("ubm_mpi: checks passed; wrote " .. opt.out .. "/ubm.gmm and report.md")
end
