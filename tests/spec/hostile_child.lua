-- The process that makes hostile calls for hostile_spec.lua:
--   lua5.4 hostile_child.lua DIR LIST FROM COUNT
-- makes the calls whose numbers (in the table of hostile.lua) are on the lines of the file
-- LIST, COUNT of them from its line FROM on, with the context files in DIR (and DIR/cwd as the working
-- folder), and prints for each
-- "N <n> <what it calls>" and "S <n>" before it and "D <n> ok|err <kind> <message>" after it,
-- flushed, so that the judge knows which call a crash or hang happened in.
local dir, list, from, count = arg[1], arg[2], tonumber(arg[3]), tonumber(arg[4])
local gk = require "gmmkit"
local H = require "hostile"

local c = H.context(gk, dir)
local targets = H.targets(gk, c)
local values = H.values(c)
local calls = H.calls(targets, values)

local function flat(s)
  return (tostring(s):gsub("[\r\n]", "\\n"))
end

-- A number among the results that is NaN although no NaN was given: a silent wrong result.
local function nan_result(call, ok, ...)
  if not ok then return false end
  if values[call[3]][1]:find("NaN") then return false end
  for i = 1, select("#", ...) do
    local r = select(i, ...)
    if type(r) == "number" and r ~= r then return true end
  end
  return false
end

io.stdout:setvbuf("line")
local todo = {}
for line in io.lines(list) do todo[#todo + 1] = tonumber(line) end
for q = from, math.min(#todo, from + count - 1) do
  local n = todo[q]
  local call = calls[n]
  io.stdout:write("N ", n, " ", flat(H.describe(targets, values, call)), "\n")
  io.stdout:write("S ", n, "\n")
  local res = table.pack(H.run(c, targets, values, call))
  if res[1] then
    io.stdout:write("D ", n, " ok", nan_result(call, table.unpack(res, 1, res.n)) and " nan" or "", "\n")
  else
    io.stdout:write("D ", n, " err ", type(res[2]), " ", flat(res[2]), "\n")
  end
  collectgarbage("step", 0)
end
io.stdout:write("END\n")
