-- The first sandbox: a script sees a whitelisted environment; each forbidden thing fails with
-- a clear error naming file:line, and only that script is disabled.
local testing = require("silvertine.testing")
local helpers = require("helpers")

local function run_handler(body)
  local path = helpers.strategy_file(([[
local S = {}
function S.on_bar(ctx, bar)
%s
end
return S
]]):format(body))
  local t = testing.new{ strategy = path, symbols = { "X" } }
  t:bar{ symbol = "X", close = 1 }
  return t, path
end

describe("sandbox", function()
  teardown(helpers.cleanup)

  local forbidden = {
    { "io", "io.open('/etc/passwd')", "attempt to index global 'io'" },
    { "os.execute", "os.execute('true')", "attempt to call field 'execute'" },
    { "os.exit", "os.exit(1)", "attempt to call field 'exit'" },
    { "os.getenv", "os.getenv('HOME')", "attempt to call field 'getenv'" },
    { "debug", "debug.getinfo(1)", "attempt to index global 'debug'" },
    { "ffi via require", "require('ffi')", "require 'ffi' is not allowed" },
    { "jit", "jit.off()", "attempt to index global 'jit'" },
    { "load", "load('return 1')", "attempt to call global 'load'" },
    { "loadstring", "loadstring('return 1')", "attempt to call global 'loadstring'" },
    { "dofile", "dofile('/etc/passwd')", "attempt to call global 'dofile'" },
    { "loadfile", "loadfile('/etc/passwd')", "attempt to call global 'loadfile'" },
    { "string.dump", "string.dump(function() end)", "attempt to call field 'dump'" },
    { "setfenv", "setfenv(1, {})", "attempt to call global 'setfenv'" },
    { "getfenv", "getfenv(1)", "attempt to call global 'getfenv'" },
    { "package", "package.loaded.ffi.C.abort()", "attempt to index global 'package'" },
    { "collectgarbage", "collectgarbage('stop')", "only 'count' is allowed" },
    { "newproxy", "newproxy(true)", "attempt to call global 'newproxy'" },
    { "require of a file", "require('os')", "require 'os' is not allowed" },
  }
  for _, case in ipairs(forbidden) do
    it("refuses " .. case[1] .. " with file:line", function()
      local t, path = run_handler("  " .. case[2])
      assert.is_false(t:enabled())
      local err = t:error()
      assert.is_truthy(err:find(path .. ":3:", 1, true), err)
      assert.is_truthy(err:find(case[3], 1, true), err)
    end)
  end

  it("allows what a strategy needs", function()
    local t = run_handler([[
  local x = math.floor(2.5) + #string.format("%d", 12) + table.concat({1, 2}, ""):len()
  assert(os.time() > 0 and os.clock() >= 0 and os.date("!%Y", 0) == "1970")
  assert(collectgarbage("count") > 0)
  assert(bit.band(6, 3) == 2 and select("#", 1, 2) == 2)
  assert(require("silvertine.ta").sma)
  local co = coroutine.wrap(function() coroutine.yield(x) end)
  assert(co() == x)
  assert(not pcall(error, "caught"))
  ctx:buy(bar.symbol, 1)]])
    assert.is_true(t:enabled(), t:error())
    assert.are.equal(1, #t:signals())
  end)

  it("locks the string metatable", function()
    local t = run_handler([[  assert(getmetatable("") == false, "string metatable visible")
  ctx:buy(bar.symbol, 1)]])
    assert.is_true(t:enabled(), t:error())
  end)

  it("gives each script copies of the libraries", function()
    local a = helpers.strategy_file([[
local S = {}
function S.on_bar(ctx, bar) string.format = nil; math.floor = nil end
return S]])
    local t1 = testing.new{ strategy = a, symbols = { "X" } }
    t1:bar{ symbol = "X", close = 1 }
    assert.is_true(t1:enabled())
    -- the engine's own code in that state still formats and floors
    t1:bar{ symbol = "X", close = 2 }
    assert.is_true(t1:enabled(), t1:error())
  end)

  it("refuses precompiled bytecode", function()
    local path = helpers.strategy_file(string.dump(function() return {} end))
    local t = testing.new{ strategy = path, expect_error = true }
    assert.matches("precompiled bytecode is not accepted", t:error())
  end)

  it("reports a syntax error with file:line and loads nothing", function()
    local path = helpers.strategy_file("local S = {}\nfunction S.on_bar(ctx, bar)\n  x = = 1\nend\nreturn S\n")
    local t = testing.new{ strategy = path, expect_error = true }
    assert.are.equal(path .. ":3: unexpected symbol near '='", t:error())
  end)

  it("requires the script to return a table", function()
    local path = helpers.strategy_file("return 42\n")
    local t = testing.new{ strategy = path, expect_error = true }
    assert.matches("must return a table of handlers, got number", t:error())
  end)

  it("names a missing file", function()
    local t = testing.new{ strategy = "/nonexistent/strategy.lua", expect_error = true }
    assert.are.equal("/nonexistent/strategy.lua: cannot open: No such file or directory", t:error())
  end)
end)
