--- gmmkit.training: gk.gmm.train, the EM loop written over gk.gmm.trainer (the C core
-- does one iteration per t:step(); the loop, its progress lines, the checkpoint after
-- every iteration and the stop asked by a progress function are here). init.lua installs
-- it as gk.gmm.train.
local core = require "gmmkit.core"

local M = {}

-- An error raised by a call made for our caller, as if our caller had made it: without
-- this file's position, and naming gk.gmm.train where the core named itself.
local function caller_error(err, name)
  if type(err) ~= "string" then return err end
  local msg = err:gsub("^[^\n]-:%d+: ", "", 1)
  return (msg:gsub("^bad argument #(%d+) to '[^']*'", "bad argument #%1 to '" .. name .. "'", 1))
end

local function progress_line(t, r)
  local line
  if r.splitting then
    line = string.format("gmm.train: split stage %d (%d components), iteration %d: log-likelihood %.6f %.2f s\n",
                         r.stage, r.components, r.stage_iteration, r.log_likelihood, r.seconds)
  else
    local h = t.history
    if #h >= 2 then
      line = string.format("gmm.train: iteration %d: log-likelihood %.6f (change %+.3g) %.2f s\n", r.iteration,
                           r.log_likelihood, r.log_likelihood - h[#h - 1], r.seconds)
    else
      line = string.format("gmm.train: iteration %d: log-likelihood %.6f %.2f s\n", r.iteration, r.log_likelihood,
                           r.seconds)
    end
  end
  io.stderr:write(line)
  io.stderr:flush()
end

-- The progress function's answer: false stops. Every rank calls it; rank 0's answer decides.
local function asked_to_stop(t, f, r)
  local stop = f({iteration = r.iteration, log_likelihood = r.log_likelihood, seconds = r.seconds,
                  comm_seconds = r.comm_seconds, components = r.components, splitting = r.splitting}) == false
  if t.ranks > 1 then
    stop = core.mpi.allreduce((core.mpi.rank() == 0 and stop) and 1 or 0) > 0
  end
  return stop
end

function M.train(X, opts)
  local ok, t = pcall(core.gmm.trainer, X, opts)
  if not ok then error(caller_error(t, "train"), 3) end  -- 3: past the C entry (init.lua)
  local checkpoint = type(opts) == "table" and opts.checkpoint or nil
  local progress, rank = t.progress, core.mpi.rank()
  local t0, comm_seconds = core.seconds(), 0.0
  while true do
    -- Not under pcall: an error (Ctrl-C's "interrupted" among them) goes straight to our
    -- caller, at its line (the binding skips this file's frames), so that the host's
    -- interrupt still ends a script whose own pcall surrounds gk.gmm.train; the trainer
    -- is then freed by the collector.
    local r = t:step()
    if not r then break end
    comm_seconds = comm_seconds + r.comm_seconds
    if checkpoint then t:save(checkpoint) end
    if progress == true and rank == 0 then
      progress_line(t, r)
    elseif type(progress) == "function" and asked_to_stop(t, progress, r) then
      break
    end
  end
  local seconds = core.seconds() - t0
  local g = t:model()
  local info = {iterations = t.iteration, converged = t.converged, history = t.history,
                component_events = t.events, resumed = t.resumed, seconds = seconds, frames = t.frames,
                ranks = t.ranks, comm_seconds = comm_seconds}
  t:close()
  return g, info
end

core.setdoc(M.train,
  "gk.gmm.train(X, {components=1, covariance_type=\"diag\", init=\"kmeans++\", max_iter=100, " ..
  "tol=1e-3, seed=0, var_floor=0, var_floor_relative=1e-3, min_weight=1e-5, " ..
  "min_weight_action=\"resplit\", reg=1e-6, subsample=1, threads=, progress=, checkpoint=, " ..
  "resume=false, init_frames=, comm=, gselect=, chunk_frames=}) -> Gmm, info\n" ..
  "Trains a GMM by EM on X (a Matrix or a list of matrices, one per file, never stacked; or data " ..
  "on disk read in chunks every iteration: a Kaldi rspecifier or a list of .npy, HTK and .ark files, see " ..
  "help(gk.gmm.trainer) for chunk_frames and the initial model's sample). " ..
  "init: \"kmeans++\", \"kmeans\", \"random\", \"split\" (binary splitting from one component, " ..
  "4 EM iterations per stage, as UBM recipes) or a Gmm to start from. tol: stop when the mean " ..
  "log-likelihood per frame changes by less. Variances are floored at max(var_floor, " ..
  "var_floor_relative * global variance); reg is added to every variance. A component whose " ..
  "weight falls under min_weight is re-split from the heaviest one or removed. subsample=n " ..
  "uses every n-th frame. progress=true prints a line per iteration on stderr; a function " ..
  "receives {iteration=, log_likelihood=, seconds=, comm_seconds=, components=, splitting=} after " ..
  "each iteration (returning false stops). checkpoint=path saves the model and state atomically " ..
  "after every iteration; resume=true continues from it (or starts afresh when it does not " ..
  "exist) and ends with the model an uninterrupted run gives; a checkpoint of other data " ..
  "or options is refused. comm=true (the default when gk.mpi.size() > 1) trains on the data of " ..
  "all MPI ranks together: X is this rank's share (gk.mpi.deal; it may be empty), statistics are " ..
  "summed over the ranks in rank order every iteration and every rank applies the same update, so " ..
  "every rank returns the same model, that of one process on the ranks' shares concatenated in rank " ..
  "order (within 1e-12 relative); rank 0 initialises and broadcasts the initial model and alone " ..
  "writes the checkpoint (on a file system all ranks read), which resumes with any number of " ..
  "ranks; progress lines come from rank 0, a progress function runs on every rank and rank 0's " ..
  "answer decides. info: iterations, converged, history (mean log-likelihood per iteration, " ..
  "before its M-step), component_events, resumed, seconds, frames (of all ranks), ranks, " ..
  "comm_seconds (this rank's seconds in the reductions, waiting for slower ranks included). " ..
  "gselect = {top=, search=, clusters=, method=, refresh=, members=, min_count=}: Gaussian selection " ..
  "in the E-step (see help(gk.gmm.trainer)). " ..
  "The loop is written in Lua over gk.gmm.trainer, for experiments that want it in their hands.")

return M
