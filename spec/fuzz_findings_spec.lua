-- C-core defects the Lua-level fuzzer found (fuzz/lua/FINDINGS.md on the
-- issue-13 branch), one block each. F7 is a memory defect: without its fix
-- the process crashes under scripts/check-sanitize.sh (and often without it).
local hubsoft = require "hubsoft"
local fake = require "spec.support.server"
local util = require "spec.support.util"

local API = "/api/v1/integracao"
local merge = util.with

-- A value whose finalizer runs fn: a userdata on Lua 5.1 / LuaJIT (no
-- table __gc there), a table elsewhere.
local function finalized(fn)
  if newproxy then
    local u = newproxy(true)
    getmetatable(u).__gc = fn
    return u
  end
  return setmetatable({}, { __gc = fn })
end

-- Runs fn with the collector running at every allocation: a finalizer then
-- lands anywhere inside a call.
local function with_aggressive_gc(fn)
  local pause = collectgarbage("setpause", 0)
  local stepmul = collectgarbage("setstepmul", 1000)
  local ok, err = pcall(fn)
  collectgarbage("setpause", pause)
  collectgarbage("setstepmul", stepmul)
  assert(ok, err)
end

describe("fuzz findings", function()
  local srv

  setup(function() srv = fake.start { seed_tickets = 30 } end)
  teardown(function() srv:stop() end)
  before_each(function() srv:reset() end)

  describe("F7: a finalizer that closes the client while one of its calls runs", function()
    -- token_store.save returns a value whose finalizer closes the client:
    -- the collector runs it somewhere in the rest of the call (after the
    -- login, in the API request, while decoding). The close is deferred: the
    -- call ends with its result or kind "closed", and the client is closed
    -- afterwards.
    local function closing_store(get_api)
      return {
        load = function() return nil end,
        save = function() return finalized(function() get_api():close() end) end,
      }
    end

    local function assert_clean(r, err, api)
      if r == nil then
        assert.is_table(err)
        assert.equal("closed", err.kind)
      end
      collectgarbage()
      collectgarbage()
      assert.is_true(api:is_closed())
      local r2, err2 = api:configuracao("status_atendimento")
      assert.is_nil(r2)
      assert.equal("closed", err2.kind)
    end

    it("api:request / a method: the result or kind closed, never a crash", function()
      with_aggressive_gc(function()
        for _ = 1, 15 do
          local api
          api = hubsoft.new(merge(srv:config(), { token_store = closing_store(function() return api end) }))
          local r, err = api:todos_atendimentos { itens_por_pagina = 500 }
          assert_clean(r, err, api)
        end
      end)
    end)

    it("pages in flight: a close from the hook ends the walk with kind closed", function()
      srv:seed { tickets = 40, data_inicio = "2025-03-01", data_fim = "2025-03-31" }
      local api, calls = nil, 0
      api = hubsoft.new(merge(srv:config(), {
        on_request = function(info)
          if info.url:find("/atendimento/todos", 1, true) then
            calls = calls + 1
            if calls == 2 then api:close() end
          end
        end,
      }))
      local pages = 0
      local ok, err = pcall(function()
        for _ in api:pages("todos_atendimentos", { itens_por_pagina = 5 }, { concurrency = 3 }) do
          pages = pages + 1
        end
      end)
      assert.is_false(ok)
      assert.equal("closed", err.kind)
      assert.equal(1, pages) -- the page whose hook closed the client is not yielded
      assert.is_true(api:is_closed())
    end)

    it("a finalizer that closes the page set while it waits leaves it closed", function()
      with_aggressive_gc(function()
        for _ = 1, 15 do
          local api = hubsoft.new(srv:config())
          local pf = api:_prefetch(2)
          local id = assert(pf:add("GET", API .. "/atendimento/todos",
            { query = { itens_por_pagina = "500", pagina = "0" } }))
          -- garbage now: its finalizer runs at some allocation of wait
          finalized(function() pf:close() end)
          local r, err = pf:wait(id)
          if r == nil then assert.equal("closed", err.kind) end
          collectgarbage()
          local r2, err2 = pf:wait(id)
          assert.is_nil(r2)
          assert.equal("closed", err2.kind)
          assert(api:configuracao("status_atendimento")) -- the client itself is fine
          api:close()
        end
      end)
    end)

    it("close() from the client's own hook ends the call with kind closed", function()
      local api
      api = hubsoft.new(merge(srv:config(), { on_request = function() api:close() end }))
      local r, err = api:configuracao("status_atendimento")
      assert.is_nil(r)
      assert.equal("closed", err.kind)
      assert.is_true(api:is_closed())
    end)
  end)

  describe("F3: pages in flight re-send only reads", function()
    it("an unmarked POST added to a page set is a write: sent once after a dropped connection", function()
      local api = hubsoft.new(srv:config())
      local path = API .. "/atendimento/adicionar_anexo/5448"
      srv:fault { kind = "drop_after", match = API .. "/atendimento", times = 1 }
      local pf = api:_prefetch(2)
      local id = assert(pf:add("POST", path))
      local r, err = pf:wait(id)
      assert.equal(1, #srv:requests(path)) -- not sent again
      assert.is_nil(r)
      assert.equal("network", err.kind)
      assert.is_false(err.retryable)
      pf:close()
      api:close()
    end)

    it("a POST marked idempotent (a paginated read) is still re-sent", function()
      local api = hubsoft.new(srv:config())
      srv:fault { kind = "drop_after", match = API .. "/atendimento/paginado", times = 1 }
      local n = 0
      for _ in api:pages("consultar_atendimentos",
        { itens_por_pagina = 10, data_inicio = "2025-03-01", data_fim = "2025-03-31" },
        { concurrency = 2 }) do
        n = n + 1
      end
      assert.is_true(n > 0)
      assert.equal(1, #srv:requests(API .. "/atendimento/paginado/10") - n)
      api:close()
    end)
  end)
end)
