-- api:pages and api:each against the fake server, over both shapes the vendor
-- returns: the `paginacao` block of /atendimento/todos (pages from 0) and the
-- Laravel paginator of /atendimento/paginado/:n (pages from 1), the latter in
-- its POST and GET forms.
--
-- What a user relies on: every record exactly once and in order, no page
-- requested twice or beyond the last, `break` stops the walk, errors are
-- raised as error tables, a server that does not advance is an error rather
-- than a loop, and next_page_url is never followed as a URL.

local hubsoft = require "hubsoft"
local cjson = require "cjson"
local fake = require "spec.support.server"
local util = require "spec.support.util"

local TODOS = "/api/v1/integracao/atendimento/todos"
local PAGINADO = "/api/v1/integracao/atendimento/paginado/"
local MONTH = { data_inicio = "2025-03-01", data_fim = "2025-03-31" }
local FIRST_ID = 5001 -- the fake server numbers seeded tickets from 5001, by date

local copy, merge, parse_query = util.copy, util.with, util.parse_query

local function range(a, b)
  local t = {}
  for i = a, b do t[#t + 1] = i end
  return t
end

local function ceil_div(a, b) return math.floor((a + b - 1) / b) end

-- The three ways the iterators walk pages. `page_of(record)` reads the page
-- the server was asked for from a recorded request; for the Laravel
-- paginator it is `?page=N`, the only place the vendor's server reads it
-- (page 0 and page 1 are the same page there, so asking for both would be
-- asking twice).
local SHAPES = {
  {
    name = "todos_atendimentos (paginacao block, pages from 0)",
    metodo = "todos_atendimentos",
    prefix = TODOS,
    extra = {},
    first = 0,
    page_of = function(r) return tonumber(parse_query(r.query).pagina) end,
  },
  {
    name = "consultar_atendimentos POST (Laravel paginator, pages from 1)",
    metodo = "consultar_atendimentos",
    prefix = PAGINADO,
    extra = {},
    first = 1,
    page_of = function(r) return tonumber(parse_query(r.query).page) end,
  },
  {
    name = "consultar_atendimentos GET form (Laravel paginator, pages from 1)",
    metodo = "consultar_atendimentos",
    prefix = PAGINADO,
    extra = { metodo_http = "GET" },
    first = 1,
    page_of = function(r) return tonumber(parse_query(r.query).page) end,
  },
}

describe("pagination", function()
  local srv, api

  setup(function() srv = fake.start {} end)
  teardown(function() srv:stop() end)
  -- A new client for each test: reset() forgets the server's tokens, and a
  -- client holding an old one would add a refused request to the record.
  before_each(function()
    srv:reset()
    api = hubsoft.new(merge(srv:config(), { retries = 0 }))
  end)
  after_each(function() api:close() end)

  local function pages_requested(shape)
    local out = {}
    for _, r in ipairs(srv:requests(shape.prefix)) do out[#out + 1] = shape.page_of(r) end
    return out
  end

  local function sorted(t)
    local c = copy(t)
    table.sort(c)
    return c
  end

  -- Walks with api:each; returns the ids in the order yielded and the page
  -- number yielded with each.
  local function collect_each(shape, filtros, opts)
    local ids, pages = {}, {}
    for atendimento, pagina in api:each(shape.metodo, filtros, opts) do
      ids[#ids + 1] = atendimento.id_atendimento
      pages[#pages + 1] = pagina
    end
    return ids, pages
  end

  local function assert_exactly_once(ids, expected)
    local seen, dups = {}, {}
    for _, id in ipairs(ids) do
      if seen[id] then dups[#dups + 1] = id end
      seen[id] = true
    end
    assert.same({}, dups)
    assert.equals(#expected, #ids)
    assert.same(expected, ids) -- in order
  end

  for _, shape in ipairs(SHAPES) do
    describe(shape.name, function()
      local function filtros(per, more)
        return merge(merge(MONTH, shape.extra), merge({ itens_por_pagina = per }, more))
      end

      for _, concurrency in ipairs { 1, 2, 4, 8 } do
        for _, case in ipairs {
          { n = 45, per = 10, what = "not a multiple of the page size" },
          { n = 40, per = 10, what = "an exact multiple of the page size" },
          { n = 7, per = 1, what = "one record per page" },
          { n = 3, per = 500, what = "a single partial page" },
        } do
          it(("each: %d records, %s, concurrency %d: each once, in order, pages requested once up to the last")
            :format(case.n, case.what, concurrency), function()
            srv:seed(merge(MONTH, { tickets = case.n }))
            local last = shape.first + ceil_div(case.n, case.per) - 1
            local ids, yielded_pages = collect_each(shape, filtros(case.per), { concurrency = concurrency })
            assert_exactly_once(ids, range(FIRST_ID, FIRST_ID + case.n - 1))
            -- the page number that comes with each record
            for i, p in ipairs(yielded_pages) do
              assert.equals(shape.first + math.floor((i - 1) / case.per), p)
            end
            local requested = pages_requested(shape)
            -- Nothing is known about the last page before the first answer,
            -- so the first request is for the first page alone.
            assert.equals(shape.first, requested[1])
            -- Pages in flight may reach the server in any order, but each
            -- exactly once and none beyond the last.
            assert.same(range(shape.first, last), sorted(requested))
          end)
        end

        it(("pages: yields each page once with its records, concurrency %d"):format(concurrency), function()
          srv:seed(merge(MONTH, { tickets = 45 }))
          local numbers, ids = {}, {}
          for numero, resposta in api:pages(shape.metodo, filtros(10), { concurrency = concurrency }) do
            numbers[#numbers + 1] = numero
            local recs = resposta.paginacao and resposta.atendimentos or resposta.atendimentos.data
            assert.is_true(#recs > 0) -- never an empty page
            for _, r in ipairs(recs) do ids[#ids + 1] = r.id_atendimento end
          end
          assert.same(range(shape.first, shape.first + 4), numbers)
          assert_exactly_once(ids, range(FIRST_ID, FIRST_ID + 44))
          local requested = pages_requested(shape)
          assert.equals(shape.first, requested[1])
          assert.same(range(shape.first, shape.first + 4), sorted(requested))
        end)
      end

      it("starts from filtros.pagina", function()
        srv:seed(merge(MONTH, { tickets = 45 }))
        local start = shape.first + 2
        local ids = collect_each(shape, filtros(10, { pagina = start }))
        assert_exactly_once(ids, range(FIRST_ID + 20, FIRST_ID + 44))
        local requested = pages_requested(shape)
        assert.equals(start, requested[1])
        assert.same(range(start, shape.first + 4), sorted(requested))
      end)

      it("does not modify the caller's filtros", function()
        srv:seed(merge(MONTH, { tickets = 25 }))
        local f = filtros(10)
        local before = copy(f)
        collect_each(shape, f)
        assert.same(before, f)
        assert.is_nil(f.pagina)
        f = filtros(10, { pagina = shape.first + 1 })
        before = copy(f)
        for _ in api:pages(shape.metodo, f) do end -- luacheck: ignore 512
        assert.same(before, f)
      end)

      for _, concurrency in ipairs { 1, 2, 4, 8 } do
        it(("break after the first record stops the walk, concurrency %d"):format(concurrency), function()
          srv:seed(merge(MONTH, { tickets = 50 }))
          local got
          local opts = { concurrency = concurrency }
          for atendimento in api:each(shape.metodo, filtros(2), opts) do -- luacheck: ignore 512
            got = atendimento.id_atendimento
            break
          end
          assert.equals(FIRST_ID, got)
          -- the client is still usable, and the walk did not go on behind our back
          assert(api:configuracao("status_atendimento"))
          local requested = pages_requested(shape)
          -- 25 pages exist; at most the first one and the pages in flight were asked for
          assert.is_true(#requested >= 1 and #requested <= 1 + concurrency,
            ("%d pages requested"):format(#requested))
          assert.same(range(shape.first, shape.first + #requested - 1), sorted(requested))
          assert(api:configuracao("status_atendimento"))
          assert.equals(#requested, #pages_requested(shape))
        end)
      end

      for _, concurrency in ipairs { 1, 2, 4, 8 } do
        it(("break mid-walk cancels the pages in flight, concurrency %d"):format(concurrency), function()
          srv:seed(merge(MONTH, { tickets = 40 }))
          assert(api:configuracao("status_atendimento"))
          local baseline = srv:stats().open_connections -- the client's own, and this query's
          local opts = { concurrency = concurrency }
          local pages_read = 0
          for _ in api:pages(shape.metodo, filtros(2), opts) do -- 20 pages
            pages_read = pages_read + 1
            if pages_read == 3 then break end
          end
          collectgarbage()
          collectgarbage() -- Lua < 5.4 cancels through the collector
          local requested = sorted(pages_requested(shape))
          -- never beyond the pages allowed in flight past the one being read
          assert.is_true(#requested <= 3 + concurrency, ("%d pages requested"):format(#requested))
          assert.same(range(shape.first, shape.first + #requested - 1), requested)
          -- the transfers in flight are gone: no connection of the walk stays open
          local open = srv:stats().open_connections
          assert.is_true(open <= baseline, ("%d connections open, %d before"):format(open, baseline))
          assert(api:configuracao("status_atendimento"))
          assert.equals(#requested, #pages_requested(shape))
        end)
      end

      it("stops at the announced last page even when a page does not say its number", function()
        -- four pages of one record, each announcing the same last page but no current one
        local last = shape.first + 1
        for i = 1, 4 do
          local body
          if shape.metodo == "todos_atendimentos" then
            body = ('{"status":"success","paginacao":{"primeira_pagina":0,"ultima_pagina":%d,' ..
                    '"total_registros":2},"atendimentos":[{"id_atendimento":%d}]}'):format(last, i)
          else
            body = ('{"status":"success","atendimentos":{"data":[{"id_atendimento":%d}],' ..
                    '"last_page":%d,"next_page_url":"http://outro-host.invalid/x","total":2}}'):format(i, last)
          end
          srv:fault { kind = "body", match = "/atendimento/", body = body, times = 1 }
        end
        local n = 0
        for _ in api:pages(shape.metodo, filtros(1), { concurrency = 1 }) do n = n + 1 end
        assert.is_true(n <= 2, ("%d pages yielded"):format(n))
        assert.is_true(#pages_requested(shape) <= 2)
      end)

      it("break out of pages after the first page, then a new walk starts afresh", function()
        srv:seed(merge(MONTH, { tickets = 30 }))
        for numero in api:pages(shape.metodo, filtros(10), { concurrency = 1 }) do -- luacheck: ignore 512
          assert.equals(shape.first, numero)
          break
        end
        local ids = collect_each(shape, filtros(10))
        assert_exactly_once(ids, range(FIRST_ID, FIRST_ID + 29))
      end)

      it("an empty result yields nothing, after one request", function()
        srv:seed(merge(MONTH, { tickets = 0 }))
        local ids = collect_each(shape, filtros(10))
        assert.same({}, ids)
        local n = 0
        for _ in api:pages(shape.metodo, filtros(10)) do n = n + 1 end
        assert.equals(0, n)
        assert.same({ shape.first, shape.first }, pages_requested(shape))
      end)

      it("a filter that matches nothing in a seeded month yields nothing", function()
        srv:seed(merge(MONTH, { tickets = 30 }))
        local f = filtros(10, { data_inicio = "2025-04-01", data_fim = "2025-04-30" })
        assert.same({}, (collect_each(shape, f)))
      end)
    end)
  end

  describe("the vendor's paginator, which reads the page only from ?page=N", function()
    -- Found against the vendor's docs: the client sent only `pagina`, which
    -- the real server ignores, so every request got page 1 and the walk
    -- stopped at page 2 with "server did not advance".
    for _, form in ipairs { {}, { metodo_http = "GET" } } do
      for _, concurrency in ipairs { 1, 2, 4 } do
        it(("each(\"consultar_atendimentos\") %s walks every page, concurrency %d")
          :format(form.metodo_http and "GET form" or "POST form", concurrency), function()
          srv:seed(merge(MONTH, { tickets = 47 }))
          local ids = {}
          for a in api:each("consultar_atendimentos", merge(merge(MONTH, form), { itens_por_pagina = 10 }),
                            { concurrency = concurrency }) do
            ids[#ids + 1] = a.id_atendimento
          end
          assert.same(range(FIRST_ID, FIRST_ID + 46), ids)
          local pages = {}
          for _, r in ipairs(srv:requests(PAGINADO)) do pages[#pages + 1] = tonumber(parse_query(r.query).page) end
          table.sort(pages)
          assert.same({ 1, 2, 3, 4, 5 }, pages)
        end)
      end
    end
  end)

  describe("errors while walking", function()
    -- A first page served by a fault (so it does not depend on timing or on
    -- how many pages are in flight), then the failure on the second page.
    local FIRST_PAGE = {
      status = "success",
      paginacao = { primeira_pagina = 0, ultima_pagina = 2, pagina_atual = 0, total_registros = 6 },
      atendimentos = { { id_atendimento = 1 }, { id_atendimento = 2 } },
    }

    for _, case in ipairs {
      { fault = "html500", kind = "http", status = 500 },
      { fault = "error", kind = "api", status = 200 },
      { fault = "truncate_json", kind = "decode", status = 200 },
      { fault = "drop_before", kind = "network" },
    } do
      it(("a %s fault on the second page raises an error table of kind %s"):format(case.fault, case.kind), function()
        srv:fault { kind = "body", match = TODOS, body = cjson.encode(FIRST_PAGE) }
        srv:fault { kind = case.fault, match = TODOS, times = 5 }
        local ids = {}
        local ok, err = pcall(function()
          for a in api:each("todos_atendimentos", { itens_por_pagina = 2 }) do ids[#ids + 1] = a.id_atendimento end
        end)
        assert.is_false(ok)
        assert.is_table(err)
        assert.equals(case.kind, err.kind)
        assert.equals(case.status, err.status)
        assert.matches("^hubsoft " .. case.kind .. " error", tostring(err))
        assert.same({ 1, 2 }, ids) -- the first page came through before the failure
      end)
    end

    it("the same failure through pages, for the Laravel paginator", function()
      srv:seed(merge(MONTH, { tickets = 30 }))
      srv:fault { kind = "body", match = PAGINADO, body = cjson.encode {
        status = "success",
        atendimentos = { current_page = 1, last_page = 3, per_page = 10, total = 30,
                         next_page_url = srv.url .. PAGINADO .. "10?page=2",
                         data = { { id_atendimento = 7 } } },
      } }
      srv:fault { kind = "html502", match = PAGINADO, times = 5 }
      local seen = {}
      local ok, err = pcall(function()
        for n in api:pages("consultar_atendimentos", merge(MONTH, { itens_por_pagina = 10 })) do
          seen[#seen + 1] = n
        end
      end)
      assert.is_false(ok)
      assert.equals("http", err.kind)
      assert.equals(502, err.status)
      assert.same({ 1 }, seen)
    end)

    for _, concurrency in ipairs { 1, 2, 4, 8 } do
      it(("a token revoked mid-walk: logs in again and still yields each record once, concurrency %d")
        :format(concurrency), function()
        srv:seed(merge(MONTH, { tickets = 45 }))
        -- the first page as usual (a zero-second delay), then every token revoked
        srv:fault { kind = "delay", seconds = 0, match = TODOS }
        srv:fault { kind = "revoke", match = TODOS }
        local ids = {}
        for a in api:each("todos_atendimentos", merge(MONTH, { itens_por_pagina = 10 }),
                          { concurrency = concurrency }) do
          ids[#ids + 1] = a.id_atendimento
        end
        assert.same(range(FIRST_ID, FIRST_ID + 44), ids)
        assert.is_true(srv:stats().logins >= 2)
      end)

      it(("a 502 on a later page is retried and the walk goes on, concurrency %d"):format(concurrency), function()
        srv:seed(merge(MONTH, { tickets = 45 }))
        local retrying = hubsoft.new(merge(srv:config(), { retries = 2, retry_delay = 0.01 }))
        srv:fault { kind = "delay", seconds = 0, match = TODOS, times = 2 }
        srv:fault { kind = "html502", match = TODOS }
        local ids = {}
        for a in retrying:each("todos_atendimentos", merge(MONTH, { itens_por_pagina = 10 }),
                               { concurrency = concurrency }) do
          ids[#ids + 1] = a.id_atendimento
        end
        retrying:close()
        assert.same(range(FIRST_ID, FIRST_ID + 44), ids)
        -- five pages, one of them sent twice
        assert.equals(6, #srv:requests(TODOS))
      end)
    end

    it("a validation error of the filtros is raised before anything is sent", function()
      local ok, err = pcall(function()
        for _ in api:each("todos_atendimentos", { itens_por_pagina = 501 }) do end -- luacheck: ignore 512
      end)
      assert.is_false(ok)
      assert.equals("validation", err.kind)
      assert.equals("itens_por_pagina", err.field)
      assert.same({}, srv:requests("/api/"))
    end)
  end)

  describe("a server that misbehaves", function()
    it("raises instead of looping when the paginacao block does not advance", function()
      local same_page = cjson.encode {
        status = "success",
        paginacao = { primeira_pagina = 0, ultima_pagina = 9, pagina_atual = 0, total_registros = 10 },
        atendimentos = { { id_atendimento = 1 } },
      }
      -- the same answer for every request: a walk that loops would see it 50 times
      srv:fault { kind = "body", match = TODOS, body = same_page, times = 50 }
      local ids = {}
      local ok, err = pcall(function()
        for a in api:each("todos_atendimentos", { itens_por_pagina = 1 }) do ids[#ids + 1] = a.id_atendimento end
      end)
      assert.is_false(ok)
      assert.is_table(err)
      assert.equals("api", err.kind)
      assert.matches("did not advance", err.message)
      assert.same({ 1 }, ids)
      -- the first page, the repeat, and at most the default 2 pages in flight
      local n = #srv:requests(TODOS)
      assert.is_true(n >= 2 and n <= 4, n .. " requests")
    end)

    it("raises instead of looping when the Laravel paginator does not advance", function()
      local same_page = cjson.encode {
        status = "success",
        atendimentos = { current_page = 1, last_page = 9, per_page = 1, total = 9,
                         next_page_url = "http://127.0.0.1/?page=2",
                         data = { { id_atendimento = 1 } } },
      }
      srv:fault { kind = "body", match = PAGINADO, body = same_page, times = 50 }
      local ok, err = pcall(function()
        local f = merge(MONTH, { itens_por_pagina = 1 })
        for _ in api:pages("consultar_atendimentos", f) do end -- luacheck: ignore 512
      end)
      assert.is_false(ok)
      assert.equals("api", err.kind)
      assert.matches("did not advance", err.message)
      local n = #srv:requests(PAGINADO)
      assert.is_true(n >= 2 and n <= 4, n .. " requests")
    end)

    it("stops on an empty page whatever the metadata announces", function()
      srv:fault { kind = "body", match = TODOS, body = cjson.encode {
        status = "success",
        paginacao = { primeira_pagina = 0, ultima_pagina = 5, pagina_atual = 0, total_registros = 50 },
        atendimentos = hubsoft.array {},
      } }
      local n = 0
      for _ in api:each("todos_atendimentos", { itens_por_pagina = 10 }) do n = n + 1 end
      assert.equals(0, n)
      assert.equals(1, #srv:requests(TODOS))
    end)

    it("never requests next_page_url: every request goes to the method's own path on 127.0.0.1", function()
      srv:seed(merge(MONTH, { tickets = 15 }))
      -- next_page_url names the fake server itself, under a trap path: if it
      -- were followed, the server would record the trap.
      srv:fault { kind = "body", match = PAGINADO, body = cjson.encode {
        status = "success",
        atendimentos = { current_page = 1, last_page = 2, per_page = 10, total = 15,
                         next_page_url = srv.url .. "/api/v1/integracao/armadilha?page=2",
                         data = range(FIRST_ID, FIRST_ID + 9) },
      } }
      local urls = {}
      local traced = hubsoft.new(merge(srv:config(), {
        on_request = function(info) urls[#urls + 1] = info.url end,
      }))
      local pages = {}
      for n in traced:pages("consultar_atendimentos", merge(MONTH, { itens_por_pagina = 10 })) do
        pages[#pages + 1] = n
      end
      traced:close()
      assert.same({ 1, 2 }, pages)
      for _, r in ipairs(srv:requests()) do
        assert.is_nil(r.path:find("armadilha", 1, true))
        assert.matches("^127%.0%.0%.1:", r.headers.host)
      end
      local recorded = srv:requests(PAGINADO)
      assert.equals(2, #recorded)
      assert.equals(2, cjson.decode(recorded[2].body).pagina)
      assert.equals("2", parse_query(recorded[2].query).page)
      for _, u in ipairs(urls) do
        assert.equals(srv.url, u:sub(1, #srv.url))
        assert.is_nil(u:find("armadilha", 1, true))
      end
    end)

    it("the real fake server's next_page_url (another host) is not followed either", function()
      srv:seed(merge(MONTH, { tickets = 25 }))
      local r = assert(api:consultar_atendimentos(merge(MONTH, { itens_por_pagina = 10 })))
      assert.matches("^http://outro%-host%.invalid/", r.atendimentos.next_page_url)
      local urls = {}
      local traced = hubsoft.new(merge(srv:config(), {
        on_request = function(info) urls[#urls + 1] = info.url end,
      }))
      local n = 0
      for _ in traced:each("consultar_atendimentos", merge(MONTH, { itens_por_pagina = 10 })) do n = n + 1 end
      traced:close()
      assert.equals(25, n)
      for _, u in ipairs(urls) do
        assert.equals(srv.url, u:sub(1, #srv.url))
      end
    end)
  end)
end)
