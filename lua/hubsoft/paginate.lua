--- Iterators over the pages of the paginated listings.
--
-- Two response shapes are understood:
--
-- 1. a `paginacao` block `{primeira_pagina, ultima_pagina, pagina_atual,
--    total_registros}` with the records in a list beside it (pages from 0);
-- 2. a Laravel paginator `{current_page, data, last_page, next_page_url,
--    per_page, total}` under the records' key (pages from 1).
--
-- Which methods are paginated, which key holds their records and which
-- parameter chooses the page is data in their endpoint rows (`paging`).
-- The page number always goes through that parameter: `next_page_url` is
-- never requested (it may name another host). A page is never requested
-- twice; a server that does not advance is an error, not a loop.
-- @module hubsoft.paginate

local endpoints = require "hubsoft.endpoints"

local M = {}

-- metodo -> the row's paging block, and the names for messages
local PAGINATED, NAMES = {}, {}
for _, row in ipairs(endpoints.rows) do
  if row.paging then
    PAGINATED[row.name] = row.paging
    NAMES[#NAMES + 1] = '"' .. row.name .. '"'
  end
end
local NAMES_TEXT = table.concat(NAMES, ", ")

local MAX_CONCURRENCY = 8
local DEFAULT_CONCURRENCY = 2

local function copy(t)
  local out = {}
  if t then
    for k, v in pairs(t) do
      out[k] = v
    end
  end
  return out
end

-- A number from the metadata: numbers may come as strings, and null as
-- core.null (keep_nulls) or nil.
local function num(v)
  if type(v) == "number" then
    return v
  elseif type(v) == "string" then
    return tonumber(v)
  end
  return nil
end

--- Read one page of either shape (internal: used by the iterators).
-- @local
-- @param resp decoded response
-- @param null the JSON null sentinel
-- @param key the key holding the records (default "atendimentos")
-- @return records, current page number (or nil), whether the metadata
--   announces a further page, the last page number (or nil), the number
--   of the shape's first page (0 or 1) and the total of records the metadata
--   announces (or nil); or nil when the shape is not recognized
function M.read_page(resp, null, key)
  key = key or "atendimentos"
  if type(resp) ~= "table" then
    return nil
  end
  local pag = resp.paginacao
  if type(pag) == "table" then
    local records = resp[key]
    if type(records) ~= "table" then
      return nil
    end
    local current, last = num(pag.pagina_atual), num(pag.ultima_pagina)
    return records, current, last == nil or current == nil or current < last, last, 0,
      num(pag.total_registros)
  end
  local lp = resp[key]
  if type(lp) == "table" and type(lp.data) == "table" then
    local current, last = num(lp.current_page), num(lp.last_page)
    local more = (last == nil or current == nil or current < last)
      and lp.next_page_url ~= nil and lp.next_page_url ~= null
    return lp.data, current, more, last, 1, num(lp.total)
  end
  if type(lp) == "table" and next(lp) == nil then
    return lp, nil, false -- no records and no metadata: nothing more to read
  end
  return nil
end

--- The "fetch page k" step with pages in flight (internal: used by the iterators).
-- @local
-- Up to `concurrency` pages download at once: while the caller works on page
-- k, up to `concurrency - 1` of the following pages (never beyond the last
-- page the metadata announced) are already downloading through the C core's
-- multi handle (`api:_prefetch`); 1 reads page after page. Pages still come
-- back in order, each requested once.
-- @param api the client
-- @param metodo the method name
-- @param base the caller's filtros (a private copy)
-- @param concurrency how many pages may be downloading at once
-- @param core the C core module
-- @param rows the endpoint table module (builds each page's request)
-- @return function(k, last) -> response (raises the error table on failure),
--   and a function that cancels whatever is still in flight
function M.prefetching_fetcher(api, metodo, base, concurrency, core, rows)
  local pf
  local inflight = {} -- page number -> transfer id
  local page = PAGINATED[metodo].page

  local function cancel()
    if pf then
      pf:close()
      pf = nil
    end
    inflight = {}
  end

  local function start(k)
    local filtros = copy(base)
    filtros[page] = k
    local req, err = rows.prepare(core, metodo, filtros)
    if not req then
      cancel()
      error(err, 0)
    end
    if not pf then
      -- one slot more than pages downloading: the page that arrived and is decoded
      local p, perr = api:_prefetch(concurrency > 1 and concurrency + 1 or 1)
      if not p then
        cancel()
        error(perr, 0) -- a closed client: its error table, as from any method
      end
      pf = p
    end
    local id, err2 = pf:add(req.method, req.path, req.opts)
    if not id then
      cancel()
      error(err2, 0)
    end
    inflight[k] = id
  end

  local function fetch(k, last)
    if not inflight[k] then
      start(k)
    end
    if last then -- only once the metadata has said where the pages end
      for j = k + 1, math.min(k + concurrency - 1, last) do
        if not inflight[j] then
          start(j)
        end
      end
    end
    local id = inflight[k]
    inflight[k] = nil
    if last and concurrency > 1 and k + concurrency <= last and not inflight[k + concurrency] then
      -- page k has arrived: start the next one before spending time decoding it
      pf:await(id)
      start(k + concurrency)
    end
    local resp, err = pf:wait(id)
    if resp == nil then
      cancel()
      error(err, 0)
    end
    return resp
  end

  return fetch, cancel
end

local function check_args(api, metodo, filtros, opts, who)
  if type(api) ~= "userdata" then
    error("hubsoft: call it with a colon: api:" .. who .. "(...)", 3)
  end
  if not PAGINATED[metodo] then
    error("hubsoft: " .. who .. ": metodo must be a paginated method: " .. NAMES_TEXT, 3)
  end
  if filtros ~= nil and type(filtros) ~= "table" then
    error("hubsoft: " .. who .. ": filtros must be a table", 3)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error("hubsoft: " .. who .. ": opts must be a table", 3)
  end
  local concurrency = DEFAULT_CONCURRENCY
  if opts then
    for k in pairs(opts) do
      if k ~= "concurrency" then
        error("hubsoft: " .. who .. ": unknown option " .. tostring(k) .. " (allowed: concurrency)", 3)
      end
    end
    if opts.concurrency ~= nil then
      concurrency = opts.concurrency
      if type(concurrency) ~= "number" or math.floor(concurrency) ~= concurrency
        or concurrency < 1 or concurrency > MAX_CONCURRENCY then
        error("hubsoft: " .. who .. ": opts.concurrency must be an integer from 1 to "
          .. MAX_CONCURRENCY, 3)
      end
    end
  end
  return concurrency
end

-- The walk shared by pages and each: returns a function giving
-- page_number, response, records for each non-empty page, then nil.
local function walker(core, api, metodo, filtros, concurrency)
  local base = copy(filtros)
  local paging = PAGINATED[metodo]
  local fetch, cancel = M.prefetching_fetcher(api, metodo, base, concurrency, core, endpoints)
  local next_page = base[paging.page] or 0
  local requested = {}
  local previous -- page number the server reported for the previous page
  local last -- last page number the metadata announced, if any
  local done = false

  local row = endpoints.by_name[metodo]
  local function fail(kind, message)
    done = true
    cancel()
    error(core.error {
      kind = kind,
      message = metodo .. ": " .. message,
      method = row.method,
      url = row.path,
      retryable = false,
      attempts = 1,
    }, 0)
  end

  return function()
    if done then
      return nil
    end
    local k = next_page
    requested[k] = true
    done = true -- until this page proves there is another
    local resp = fetch(k, last)
    local records, current, more, last_page, first = M.read_page(resp, core.null, paging.records)
    last = last_page or last
    if records == nil then
      fail("decode", "page " .. tostring(k) .. " has neither a paginacao block nor a paginator in "
        .. paging.records)
    end
    -- a page that does not say its number is the one asked for (a paginator
    -- counts from 1, so our first request, 0, is its page 1)
    current = current or (num(k) and math.max(num(k), first or 0))
    if last and current and current >= last then
      more = false -- whatever else the metadata says, the last page was announced
    end
    if previous ~= nil and current ~= nil and current <= previous then
      fail("api", ("server did not advance: asked for page %s after page %s and got page %s")
        :format(tostring(k), tostring(previous), tostring(current)))
    end
    previous = current
    if #records == 0 then
      cancel()
      return nil
    end
    if more and current then
      next_page = current + 1
      if requested[next_page] then
        fail("api", "server did not advance: page " .. tostring(next_page) .. " would be requested twice")
      end
      done = false
    end
    if done then
      cancel()
    end
    return current, resp, records
  end, cancel
end

-- The fourth value of a generic for: Lua 5.4 closes it when the loop ends
-- early (break, error), which cancels the pages still in flight at once.
-- Elsewhere the garbage collector does the same later.
local function closer(cancel)
  return setmetatable({}, {__close = function() cancel() end})
end

--- Iterate over the pages of a paginated method (installed as `api:pages`).
-- Starts at `filtros.pagina` (default 0) and follows the metadata of either
-- shape; `filtros` is not modified. Yields the page number the server
-- reports (`pagina_atual`, or `current_page` counting from 1 for a Laravel
-- paginator) and the whole response; never yields an empty page. A failed
-- request raises its error table (`error(err, 0)`), since a generic `for` has
-- no place for a second value. `break` is always safe. A bad `metodo` or
-- `opts` raises a Lua error at once.
-- @function pages
-- @tparam string metodo a paginated method: "consultar_atendimentos",
--   "todos_atendimentos", "todos_clientes" or "todas_ordens_servico"
-- @tparam table filtros the method's parameters (`pagina`: the first page to read)
-- @tparam[opt] table opts `{concurrency = N}`: pages downloading at once, 1..8,
--   default 2 (the next page arrives while the caller works on this one)
-- @return an iterator yielding page_number, response
-- @usage for pagina, resposta in api:pages("todos_atendimentos", {itens_por_pagina = 100}) do
--   print(pagina, #resposta.atendimentos)
-- end

--- Iterate over every record of every page (installed as `api:each`).
-- Same walk as `pages`; yields each record (an atendimento, a cliente, an
-- ordem de serviço) in order, and the page number
-- as a second value.
-- @function each
-- @tparam string metodo a paginated method: "consultar_atendimentos",
--   "todos_atendimentos", "todos_clientes" or "todas_ordens_servico"
-- @tparam table filtros the method's parameters
-- @tparam[opt] table opts `{concurrency = N}`, 1..8, default 2
-- @return an iterator yielding record, page_number
-- @usage for atendimento in api:each("todos_atendimentos",
--     {data_inicio = "2025-01-01", data_fim = "2025-01-31"}) do
--   print(atendimento.protocolo)
-- end

local function pages(core, api, metodo, filtros, concurrency)
  local walk, cancel = walker(core, api, metodo, filtros, concurrency)
  return function()
    local n, resp = walk()
    return n, resp
  end, nil, nil, closer(cancel)
end

local function each(core, api, metodo, filtros, concurrency)
  local walk, cancel = walker(core, api, metodo, filtros, concurrency)
  local records, count, i, page = nil, 0, 0, nil
  return function()
    while true do
      while i < count do
        i = i + 1
        local record = records[i]
        if record ~= nil then -- a JSON null item without keep_nulls
          return record, page
        end
      end
      records = nil -- the page just read is garbage while the next one is decoded
      local n, _, recs = walk()
      if n == nil then
        return nil
      end
      page, records, count, i = n, recs, #recs, 0
    end
  end, nil, nil, closer(cancel)
end

--- Install `pages` and `each` on the client's method table (called once by
-- `hubsoft`; internal, not part of the API).
-- @local
-- @param methods the client's method table (`core.methods`)
-- @param core the C core module
function M.install(methods, core)
  methods.pages = function(api, metodo, filtros, opts)
    local concurrency = check_args(api, metodo, filtros, opts, "pages")
    return pages(core, api, metodo, filtros, concurrency)
  end
  methods.each = function(api, metodo, filtros, opts)
    local concurrency = check_args(api, metodo, filtros, opts, "each")
    return each(core, api, metodo, filtros, concurrency)
  end
end

return M
