-- wrk script: a login storm. Every request is POST /v2.0/tokens with a member's right password,
-- so each costs one argon2id verification, like a login.
-- Arguments: <members file> <password>
local names, password = {}, ""
local counter = 0
function init(args)
  for line in io.lines(args[1]) do
    local id = line:match("^(%d+) ")
    if id then names[#names + 1] = "bench-" .. id end
    if #names >= 200 then break end
  end
  password = args[2]
  counter = math.random(1, #names)
end
function request()
  counter = counter + 1
  local body = '{"auth":{"passwordCredentials":{"username":"' .. names[(counter % #names) + 1] ..
    '","password":"' .. password .. '"}}}'
  return wrk.format("POST", "/v2.0/tokens", { ["Content-Type"] = "application/json" }, body)
end
