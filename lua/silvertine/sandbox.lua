-- silvertine.sandbox: the whitelisted environment a strategy or rule script runs in.
--
-- A script sees plain Lua (base functions, string, table, math, bit, coroutine) and
-- os.time/clock/date. It never sees io, os.execute/exit/getenv, debug, ffi, jit, package,
-- load/loadstring/dofile/loadfile, string.dump, setfenv/getfenv, newproxy, or require beyond
-- the engine's own allowed modules; collectgarbage answers only "count". Library tables are
-- copies, so replacing string.format in a script changes nothing outside it, and the string
-- metatable is locked so getmetatable("") cannot reach the shared string library.
local M = {}

local real_require = require
local format, tostring, error, pairs = string.format, tostring, error, pairs
local collectgarbage = collectgarbage

M.allowed_modules = { ["silvertine.ta"] = true }

local function copy(t, except)
  local c = {}
  for k, v in pairs(t) do
    if not (except and except[k]) then
      c[k] = v
    end
  end
  return c
end

getmetatable("").__metatable = false
-- ("").dump reaches the state's own string table through the string metatable's __index:
-- nothing in the engine dumps bytecode, so the function goes from the state altogether
string.dump = nil

local function safe_require(name)
  if M.allowed_modules[name] then
    return real_require(name)
  end
  error(format("require '%s' is not allowed in a script (allowed: silvertine.ta)", tostring(name)), 2)
end

local function safe_collectgarbage(opt)
  if opt == "count" then
    return collectgarbage("count")
  end
  error("collectgarbage: only 'count' is allowed in a script", 2)
end

-- Returns a fresh environment table for one script.
function M.env()
  local env = {
    assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs,
    pcall = pcall, xpcall = xpcall, select = select, tonumber = tonumber,
    tostring = tostring, type = type, unpack = unpack, rawequal = rawequal,
    rawget = rawget, rawset = rawset, setmetatable = setmetatable,
    getmetatable = getmetatable, _VERSION = _VERSION,
    math = copy(math),
    string = copy(string, { dump = true }),
    table = copy(table),
    coroutine = copy(coroutine),
    bit = copy(bit),
    os = { time = os.time, clock = os.clock, date = os.date },
    collectgarbage = safe_collectgarbage,
    require = safe_require,
    print = function() end, -- the strategy binding routes it to the engine log
  }
  env._G = env
  return env
end

return M
