-- The ABI header is the single source for C and LuaJIT: every struct must have the same size
-- and every field the same offset and size on both sides.
local ffi = require("ffi")
local testing = require("silvertine.testing")

describe("ABI layout", function()
  local lib, layout, n
  setup(function()
    testing.new{ strategy = (os.getenv("SV_SOURCE_DIR") or ".") .. "/strategies/sma_cross.lua", symbols = { "X" } }
    lib = testing.lib
    local cnt = ffi.new("uint32_t[1]")
    layout = lib.sv_abi_layout(cnt)
    n = cnt[0]
  end)

  it("reports the version the Lua side was declared with", function()
    assert.are.equal(2, lib.sv_abi_version())
    assert.are.equal(lib.sv_abi_version(), require("silvertine.abi").VERSION)
  end)

  it("agrees with LuaJIT on sizeof and offsetof of every struct and field", function()
    assert.is_true(n > 100)
    local checked = 0
    for i = 0, n - 1 do
      local e = layout[i]
      local t, f = ffi.string(e.type), ffi.string(e.field)
      if f == "" then
        assert.are.equal(e.size, ffi.sizeof(t), "sizeof(" .. t .. ")")
      else
        local off = ffi.offsetof(t, f)
        assert.is_not_nil(off, t .. "." .. f .. " unknown to LuaJIT")
        assert.are.equal(e.offset, off, "offsetof(" .. t .. ", " .. f .. ")")
      end
      checked = checked + 1
    end
    assert.are.equal(n, checked)
  end)

  it("lists every struct that the cdef text declares", function()
    local cdef = ffi.string(lib.sv_abi_cdef())
    local listed = {}
    for i = 0, n - 1 do listed[ffi.string(layout[i].type)] = true end
    local count = 0
    for name in cdef:gmatch("typedef struct [%w_]+ {.-\n} ([%w_]+);") do
      assert.is_true(listed[name] == true, name .. " is not in sv_abi_layout()")
      count = count + 1
    end
    assert.is_true(count >= 18)
  end)

  it("keeps every event the same fixed size", function()
    assert.are.equal(128, ffi.sizeof("sv_event_t"))
    assert.are.equal(40, ffi.sizeof("sv_event_header_t"))
  end)
end)
