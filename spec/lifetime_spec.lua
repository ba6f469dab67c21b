-- Lifetime: creating and dropping many clients leaks neither file
-- descriptors nor memory, whether they are closed or left to the garbage
-- collector, with or without a live connection; a closed client answers
-- kind "closed" everywhere; `<close>` (Lua 5.4) closes it.
local hubsoft = require "hubsoft"
local fake = require "spec.support.server"
local util = require "spec.support.util"

local API = "/api/v1/integracao"

local with, rss_kb = util.with, util.rss_kb

-- This Lua process's pid (io.popen would show the child's /proc/self).
local PID = util.pid()

local function open_fds()
  local p = assert(io.popen("ls /proc/" .. PID .. "/fd | wc -l"))
  local n = tonumber(p:read("*a"))
  p:close()
  return n
end

local function full_gc()
  collectgarbage()
  collectgarbage()
end

describe("lifetime", function()
  local srv

  setup(function() srv = fake.start { seed_tickets = 12 } end)
  teardown(function() srv:stop() end)
  before_each(function() srv:reset() end)

  describe("10,000 clients created and dropped", function()
    it("leave open file descriptors and memory flat", function()
      local cfg = srv:config()
      local token = srv:login()
      local light = { base_url = srv.url, access_token = token }
      -- warm up: libcurl's global state, the module, one connection
      do
        local api = hubsoft.new(light)
        assert(api:configuracao("status_atendimento"))
        api:close()
      end
      full_gc()
      local fds0, kb0 = open_fds(), collectgarbage("count")
      local rss2000
      local with_request = 0
      for i = 1, 10000 do
        local api
        if i % 200 == 0 then
          -- one real request (a live keep-alive connection), some with a login
          api = hubsoft.new(i % 400 == 0 and cfg or light)
          assert(api:configuracao("status_atendimento"))
          with_request = with_request + 1
        else
          api = hubsoft.new(i % 3 == 0 and cfg or light)
        end
        if i % 2 == 0 then
          assert.is_true(api:close())
        end
        -- odd ones are left to the garbage collector
        if i == 2000 then
          full_gc()
          rss2000 = rss_kb()
        end
      end
      full_gc()
      local fds1, kb1, rss10000 = open_fds(), collectgarbage("count"), rss_kb()
      assert.equals(50, with_request)
      assert.is_true(math.abs(fds1 - fds0) <= 2, ("open fds: %d before, %d after"):format(fds0, fds1))
      assert.is_true(kb1 - kb0 < 1024, ("Lua heap: %.0f KB before, %.0f KB after"):format(kb0, kb1))
      -- AddressSanitizer keeps freed memory in quarantine (256 MB): RSS means
      -- nothing there (scripts/check-sanitize.sh); valgrind is fine
      local asan = (os.getenv("LD_PRELOAD") or ""):find("asan", 1, true) or os.getenv("ASAN_OPTIONS")
      if not asan then
        assert.is_true(rss10000 - rss2000 < 20 * 1024,
          ("VmRSS: %d KB at 2,000 clients, %d KB at 10,000"):format(rss2000, rss10000))
      end
    end)

    it("a client left to the collector with a live connection frees it", function()
      local cfg = srv:config()
      full_gc()
      local fds0 = open_fds()
      local apis = {}
      for i = 1, 20 do
        apis[i] = hubsoft.new(cfg)
        assert(apis[i]:configuracao("status_atendimento"))
      end
      assert.is_true(open_fds() >= fds0 + 20, "20 clients with a request hold 20 connections")
      apis = nil -- luacheck: ignore
      full_gc()
      assert.is_true(math.abs(open_fds() - fds0) <= 2)
    end)

    -- A hook or token_store that refers to its own client (a bot logging
    -- through its client, a store that re-logs in) made a cycle through the
    -- registry: such clients were never collected.
    it("a client whose on_request and token_store refer to it is still collected", function()
      local cfg = srv:config()
      local gone = setmetatable({}, { __mode = "v" })
      for i = 1, 50 do
        local api
        local store = {
          load = function() return api and nil end,
          save = function() return api ~= nil end,
        }
        api = hubsoft.new(with(cfg, {
          token_store = store,
          on_request = function() assert(api) end,
        }))
        if i % 10 == 0 then assert(api:configuracao("status_atendimento")) end
        gone[i] = api
      end
      full_gc()
      assert.is_nil(next(gone), "every client is collected")
      -- a walk left half done, whose pages in flight hold the client, and a
      -- hook that refers to the walk
      for i = 1, 20 do
        local api, walk
        api = hubsoft.new(with(cfg, { on_request = function() return walk end }))
        walk = api:each("todos_atendimentos", { itens_por_pagina = 2 }, { concurrency = 2 })
        assert.is_table(walk())
        gone[i] = api
      end
      full_gc()
      assert.is_nil(next(gone), "every client with a walk half done is collected")
      -- and a client the hook keeps is still usable once its twin is gone
      local api
      api = hubsoft.new(with(cfg, { on_request = function() assert(api) end }))
      full_gc()
      assert(api:configuracao("status_atendimento"))
    end)
  end)

  describe("a closed client", function()
    local function closed(res, err, label)
      assert.is_nil(res, label)
      assert.is_table(err, label)
      assert.equals("closed", err.kind, label .. ": " .. tostring(err))
      assert.matches("^hubsoft closed error: ", tostring(err))
    end

    local function every_method(api)
      return {
        { "request", function() return api:request("GET", API .. "/configuracao/status_atendimento") end },
        { "authenticate", function() return api:authenticate() end },
        { "consultar_atendimentos", function() return api:consultar_atendimentos { itens_por_pagina = 10 } end },
        { "todos_atendimentos", function() return api:todos_atendimentos { itens_por_pagina = 10 } end },
        { "abrir_atendimento", function()
          return api:abrir_atendimento { id_cliente_servico = 17812, descricao = "x", nome = "y",
                                         telefone = "11987654321" }
        end },
        { "editar_atendimento", function() return api:editar_atendimento(5001, { descricao = "x" }) end },
        { "fechar_atendimento", function() return api:fechar_atendimento(5001, {}) end },
        { "adicionar_mensagem", function() return api:adicionar_mensagem(5001, "oi") end },
        { "adicionar_anexos", function()
          return api:adicionar_anexos(5001, { { data = "x", filename = "a.txt" } })
        end },
        { "atendimentos_do_cliente", function() return api:atendimentos_do_cliente("codigo_cliente", "1864") end },
        { "configuracao", function() return api:configuracao("status_atendimento") end },
      }
    end

    local function check_methods(api)
      local before = #srv:requests()
      for _, m in ipairs(every_method(api)) do
        local res, err = m[2]()
        closed(res, err, m[1])
      end
      assert.equals(before, #srv:requests()) -- nothing was sent
    end

    local function check_iterators(api)
      local before = #srv:requests()
      for _, fn in ipairs { "pages", "each" } do
        for _, metodo in ipairs { "todos_atendimentos", "consultar_atendimentos" } do
          local ok, err = pcall(function()
            for _ in api[fn](api, metodo, { itens_por_pagina = 5 }) do
              error("the iterator yielded on a closed client")
            end
          end)
          assert.is_false(ok, fn)
          assert.is_table(err, fn .. " raised " .. tostring(err))
          assert.equals("closed", err.kind, fn .. ": " .. tostring(err))
        end
      end
      assert.equals(before, #srv:requests())
    end

    it("answers kind closed for every method, sending nothing", function()
      local api = hubsoft.new(srv:config())
      assert(api:configuracao("status_atendimento")) -- a token and a live connection
      assert.is_true(api:close())
      check_methods(api)
    end)

    it("never used before close answers kind closed too", function()
      local api = hubsoft.new(srv:config())
      assert.is_true(api:close())
      check_methods(api)
    end)

    it("close is idempotent and tostring still works", function()
      local api = hubsoft.new(srv:config())
      for _ = 1, 3 do assert.is_true(api:close()) end
      assert.matches("closed", tostring(api))
      check_methods(api)
    end)

    it("makes pages() and each() raise the kind closed error table", function()
      local api = hubsoft.new(srv:config())
      assert(api:configuracao("status_atendimento"))
      assert.is_true(api:close())
      check_iterators(api)
    end)

    it("closing inside an each() loop makes the next step raise kind closed", function()
      srv:seed { tickets = 40 }
      local api = hubsoft.new(srv:config())
      local seen = 0
      local ok, err = pcall(function()
        for _ in api:each("todos_atendimentos", { itens_por_pagina = 5 }) do
          seen = seen + 1
          if seen == 3 then api:close() end
        end
      end)
      -- either the loop stops with kind closed, or it only finished the page in hand
      if not ok then
        assert.is_table(err, tostring(err))
        assert.equals("closed", err.kind, tostring(err))
      end
      assert.is_true(seen >= 3 and seen <= 5, "records after close: " .. seen)
      check_methods(api)
      full_gc()
    end)

    it("a client freed by the collector mid-iteration does not crash", function()
      srv:seed { tickets = 40 }
      for _ = 1, 20 do
        local api = hubsoft.new(srv:config())
        local it = api:each("todos_atendimentos", { itens_por_pagina = 5 })
        assert.is_table(it())
        api, it = nil, nil -- luacheck: ignore
        full_gc()
      end
      local api = hubsoft.new(srv:config())
      assert(api:configuracao("status_atendimento"))
    end)
  end)

  -- only where the syntax exists (the snippets are strings, so this file parses everywhere)
  local describe54 = _VERSION == "Lua 5.4" and describe or function() end
  describe54("<close> (Lua 5.4)", function()
    local it54 = it

    it54("closes the client at the end of the block", function()
      -- loaded from a string so this file still parses on Lua 5.1
      local chunk = assert(load([[
        local hubsoft, cfg = ...
        local kept
        do
          local api <close> = hubsoft.new(cfg)
          kept = api
          assert(api:configuracao("status_atendimento"))
        end
        return kept
      ]]))
      local api = chunk(hubsoft, srv:config())
      local res, err = api:configuracao("status_atendimento")
      assert.is_nil(res)
      assert.equals("closed", err.kind)
      assert.is_true(api:close()) -- still idempotent
    end)

    it54("closes the client when the block is left by an error", function()
      local chunk = assert(load([[
        local hubsoft, cfg, box = ...
        local api <close> = hubsoft.new(cfg)
        box.api = api
        assert(api:configuracao("status_atendimento"))
        error("boom")
      ]]))
      local box = {}
      local ok, e = pcall(chunk, hubsoft, srv:config(), box)
      assert.is_false(ok)
      assert.matches("boom", e)
      local res, err = box.api:configuracao("status_atendimento")
      assert.is_nil(res)
      assert.equals("closed", err.kind)
    end)

    it54("many <close> clients leave the file descriptors flat", function()
      local chunk = assert(load([[
        local hubsoft, cfg = ...
        for i = 1, 30 do
          local api <close> = hubsoft.new(cfg)
          assert(api:configuracao("status_atendimento"))
        end
      ]]))
      full_gc()
      local fds0 = open_fds()
      chunk(hubsoft, with(srv:config()))
      -- no collection: <close> released each connection at once
      assert.is_true(math.abs(open_fds() - fds0) <= 2)
    end)
  end)
end)
