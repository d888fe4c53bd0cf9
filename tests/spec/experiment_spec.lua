-- gk.experiment: option parsing and tables, the pieces every example script uses.
local gk = require "gmmkit"

describe("gk.experiment.options", function()
  local defaults = {components = 64, out = "out", methods = {"lbfgs", "gd"}, full = false}
  it("keeps defaults and converts by the default's type", function()
    local o = gk.experiment.options({"--components", "8", "--methods=topk,runnalls", "--full"}, defaults)
    assert.are.equal(8, o.components)
    assert.are.same({"topk", "runnalls"}, o.methods)
    assert.is_true(o.full)
    assert.are.equal("out", o.out)
    assert.are.equal(64, defaults.components)
  end)
  it("accepts dashes for underscores", function()
    local o = gk.experiment.options({"--max-iter", "5"}, {max_iter = 100})
    assert.are.equal(5, o.max_iter)
  end)
  it("rejects unknown options with a suggestion and bad values with the option's name", function()
    assert.has_error(function() gk.experiment.options({"--component", "8"}, defaults) end,
      "unknown option --component (did you mean --components?)")
    assert.has_error(function() gk.experiment.options({"--components", "many"}, defaults) end,
      "option --components expects a number, got 'many'")
    assert.has_error(function() gk.experiment.options({"--out"}, defaults) end, "option --out needs a value")
    assert.has_error(function() gk.experiment.options({"stray"}, defaults) end,
      "unexpected argument 'stray' (options are --name value)")
  end)
end)

describe("gk.experiment.markdown_table", function()
  it("formats numbers compactly", function()
    local t = gk.experiment.markdown_table({{m = "gd", nise = 0.000012345, s = 1.5, n = 3}}, {"m", "nise", "s", "n"},
      {"method", "NISE", "seconds", "iterations"})
    assert.are.equal("| method | NISE | seconds | iterations |\n|---|---|---|---|\n| gd | 1.234e-05 | 1.5 | 3 |", t)
  end)
end)

describe("gk.experiment.timed", function()
  it("returns the results and the seconds", function()
    local a, b, s = gk.experiment.timed(function(x) return x, x + 1 end, 1)
    assert.are.same({1, 2}, {a, b})
    assert.is_true(s >= 0 and s < 1)
  end)
end)

describe("gk.experiment.eer", function()
  it("is 0 for separated scores and 0.5 for interleaved ones", function()
    assert.are.equal(0, gk.experiment.eer({5, 6, 7}, {1, 2, 3}))
    -- Targets {1, 3}, non-targets {2, 4}: at any threshold between 2 and 3 one target of two
    -- is missed and one non-target of two accepted: EER 1/2.
    assert.are.equal(0.5, gk.experiment.eer({1, 3}, {2, 4}))
    -- All scores inverted: every target below every non-target.
    assert.are.equal(1, gk.experiment.eer({1, 2}, {3, 4}))
  end)
  it("matches the crossing of the miss and false-alarm rates", function()
    -- 4 targets, 4 non-targets, one of each on the wrong side: miss = fa = 1/4.
    assert.are.equal(0.25, gk.experiment.eer({0.5, 3, 4, 5}, {1, 2, 6, -1}))
  end)
end)
