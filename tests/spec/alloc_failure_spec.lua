-- Allocation failures: with the n-th allocation (the Lua state's or the core's) and every
-- later one failing, each representative call of a module must raise "not enough memory"
-- and nothing else: no crash, no wrong error, no leak (AddressSanitizer's leak check runs
-- at the host's exit in a sanitizer build). n is swept over every allocation point of the
-- call by tests/spec/alloc_sweep.lua, run by a host built with -DGMMKIT_FAULT_INJECTION
-- (scripts/test builds its sanitizer pass that way); against any other build the spec
-- skips with a message.
local helper = require "spec_helper"

local host = helper.host
local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local fault_build = false
if host then
  local _, ok = helper.run(q(host) .. " -e " .. q("require 'gmmkit.faults'"))
  fault_build = ok
end

describe("allocation failures", function()
  if not fault_build then
    pending("needs a host built with -DGMMKIT_FAULT_INJECTION: " .. tostring(host) .. " is not one " ..
      "(cmake -DCMAKE_C_FLAGS=-DGMMKIT_FAULT_INJECTION; scripts/test's sanitizer pass is one)")
    return
  end

  local dir = helper.tmpdir()
  local sweep = helper.source_dir .. "/tests/spec/alloc_sweep.lua"
  -- One thread, so that the n-th allocation is the same in every run; the leak check on.
  local env = "OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 "

  local cases = {
    {"matrix", "gk.matrix.load and m:save"},
    {"htk", "gk.features.write_htk and read_htk"},
    {"kaldi", "gk.kaldi.writer (ark,scp compressed; text) and gk.kaldi.read/read_all"},
    {"audio_mfcc", "gk.audio.load (resampled), load_string and gk.mfcc.compute"},
    {"features", "gk.features.extract with deltas, CMVN and VAD"},
    {"datadir", "gk.kaldi.data_dir and gk.features.extract of its segments and pipe to an archive, resumed"},
    {"gmm_train", "gk.gmm.train (diagonal, k-means++)"},
    {"gmm_train_full_checkpoint", "gk.gmm.train (full, split, checkpointed)"},
    {"gmm_files", "g:save, g:save_kaldi, stats:save and their loaders"},
    {"simplify", "gk.simplify.reduce (lbfgs from runnalls)"},
    {"selector_files", "gk.gmm.selector, sel:save and gk.gmm.load_selector"},
  }
  local total = 0
  for _, c in ipairs(cases) do
    it("every allocation point of " .. c[2] .. " fails cleanly", function()
      local out, ok = helper.run(env .. q(host) .. " " .. q(sweep) .. " " .. c[1] .. " " .. q(dir))
      assert.is_nil(out:find("Sanitizer", 1, true), out)
      assert.is_true(ok, out)
      local points = out:match(c[1] .. ": (%d+) allocation points, 0 wrong outcomes")
      assert.is_not_nil(points, out)
      assert.is_true(tonumber(points) > 0, out)
      total = total + tonumber(points)
    end)
  end

  teardown(function()
    io.stderr:write(("allocation-failure sweep: %d allocation points in %d calls\n"):format(total, #cases))
    os.execute("rm -rf " .. q(dir))
  end)
end)
