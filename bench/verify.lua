-- wrk script: POST …/phone-pin/verify for many members with agent tokens. One request in three
-- carries a wrong PIN ("000000" can never be a PIN: four repeated digits), the others the right
-- one, so failures never reach six in a row and no PIN locks.
-- Arguments: <members file: "id pin" per line> <tokens file: one token per line>
local members, tokens = {}, {}
local counter = 0
incorrect, correct, other = 0, 0, 0  -- globals: done() reads them per thread

function init(args)
  for line in io.lines(args[1]) do
    local id, pin = line:match("^(%d+) (%d+)$")
    if id then members[#members + 1] = { id = id, pin = pin } end
  end
  for line in io.lines(args[2]) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16) % 100000)
  counter = math.random(1, #members)
end

function request()
  counter = counter + 1
  local m = members[(counter % #members) + 1]
  local pin = m.pin
  if counter % 3 == 0 then pin = "000000" end
  local token = tokens[(counter % #tokens) + 1]
  return wrk.format("POST", "/v2.0/users/" .. m.id .. "/RAX-AUTH/phone-pin/verify",
    { ["Content-Type"] = "application/json", ["X-Auth-Token"] = token },
    '{"RAX-AUTH:phonePin":{"pin":"' .. pin .. '"}}')
end

function response(status, headers, body)
  if status ~= 200 then other = other + 1
  elseif body:find("PP-003", 1, true) then incorrect = incorrect + 1
  elseif body:find('"authenticated":true', 1, true) then correct = correct + 1
  else other = other + 1 end
end

local threads = {}
function setup(thread) threads[#threads + 1] = thread end

function done(summary, latency, requests)
  local i, c, o = 0, 0, 0
  for _, t in ipairs(threads) do
    i = i + t:get("incorrect"); c = c + t:get("correct"); o = o + t:get("other")
  end
  io.write(string.format("VERIFY_COUNTS incorrect=%d correct=%d other=%d\n", i, c, o))
end
