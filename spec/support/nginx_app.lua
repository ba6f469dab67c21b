--- Runs inside nginx for spec/nginx_spec.lua: each `/run/NAME` location calls
-- `hubsoft.nginx` and answers JSON the spec compares with the blocking client.
--
-- POST /run/call  {"config": {...}, "opts": {...}, "method": "name", "args": [...],
--                  "n": count, "hooks": true}
--   -> {"r": result, "err": {fields..., "text": tostring(err), "is_error": bool},
--       "hooks": [records], "nulls": count of hubsoft.null in r, "ms": elapsed}
-- Other names are scenarios (see below). The HubSoft URL and credentials come
-- from the environment (HUBSOFT_URL, ...).

local hubsoft = require "hubsoft"
local hn = require "hubsoft.nginx"
local core = require "hubsoft.core"
local cjson = require "cjson.safe"

local M = {}

local function base_config(extra)
  local c = {
    base_url = os.getenv("HUBSOFT_URL"),
    client_id = os.getenv("HUBSOFT_CLIENT_ID"),
    client_secret = os.getenv("HUBSOFT_CLIENT_SECRET"),
    username = os.getenv("HUBSOFT_USERNAME"),
    password = os.getenv("HUBSOFT_PASSWORD"),
    retry_delay = 0.01, retry_max_delay = 0.05, timeout = 5, connect_timeout = 2,
  }
  for k, v in pairs(extra or {}) do c[k] = v end
  return c
end

local function err_view(err)
  if err == nil then return nil end
  if type(err) ~= "table" then return { text = tostring(err) } end
  local v = { text = tostring(err), is_error = core.is_error(err) }
  for k, x in pairs(err) do v[k] = x end
  return v
end

local function count_nulls(t)
  if t == hubsoft.null then return 1 end
  if type(t) ~= "table" then return 0 end
  local n = 0
  for _, v in pairs(t) do n = n + count_nulls(v) end
  return n
end

local function reply(t)
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode(t))
end

local function body()
  ngx.req.read_body()
  local data = ngx.req.get_body_data()
  return data and cjson.decode(data) or {}
end

-- One client per configuration, kept in the worker (as an application would).
local clients = {}
local function client(b)
  local hooks = {}
  local extra = b.config or {}
  local key = cjson.encode(extra) .. cjson.encode(b.opts or {})
  local entry = clients[key]
  if not entry then
    entry = { hooks = hooks }
    local cfg = base_config(extra)
    cfg.on_request = function(info) entry.hooks[#entry.hooks + 1] = info end
    entry.api = hn.new(cfg, b.opts)
    clients[key] = entry
  end
  entry.hooks = hooks
  return entry.api, hooks
end

local scenarios = {}

function scenarios.call()
  local b = body()
  local api, hooks = client(b)
  local t0 = ngx.now()
  local args = b.args or {}
  local r, err = api[b.method](api, unpack(args, 1, b.n or #args))
  ngx.update_time()
  reply { r = r, err = err_view(err), hooks = hooks, nulls = count_nulls(r), ms = (ngx.now() - t0) * 1000 }
end

-- a value that cannot cross to the thread pool, in a block the rules accept as is
function scenarios.uncrossable()
  local api = client {}
  local r, err = api:request("POST", "/api/v1/integracao/atendimento", { json = { parametros = { f = print } } })
  reply { r = r, err = err_view(err) }
end

-- marks (hubsoft.array / hubsoft.object) and hubsoft.null cross to the thread
function scenarios.marks()
  local api = client {}
  local r, err = api:request("POST", "/api/v1/integracao/atendimento", { json = {
    id_cliente_servico = 12345, descricao = "Marcas vazias", nome = "Bia", telefone = "81987654321",
    id_usuario_responsavel = hubsoft.null, lista = hubsoft.array {}, bloco = hubsoft.object {},
  } })
  reply { r = r, err = err_view(err) }
end

function scenarios.attachments()
  local b = body()
  local api = client {}
  local r, err = api:adicionar_anexos(b.id, { b.path, { data = b.data, filename = "log.txt" } })
  reply { r = r, err = err_view(err) }
end

-- a hook that fails, quoting the password, raw and URL-encoded (as in a URL):
-- reported in the error log, scrubbed
function scenarios.hook_error()
  local cfg = base_config { user_agent = "hook-error-client" }
  local encoded = cfg.password:gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end)
  cfg.on_request = function() error("hook saw " .. cfg.password .. " in ?senha=" .. encoded) end
  local api = hn.new(cfg)
  local r, err = api:configuracao("status_atendimento")
  reply { r = r, err = err_view(err) }
end

-- a client closed, then called: the closed error of a request and of a page walk
function scenarios.closed()
  local api = hn.new(base_config())
  api:close()
  local r, err = api:configuracao("status_atendimento")
  local walked, werr = pcall(function()
    for _ in api:each("todos_atendimentos", {}) do end
  end)
  reply { r = r, err = err_view(err), closed = api:is_closed(), walked = walked, walk_err = err_view(werr) }
end

-- clients whose on_request refers to them, one of them used, then dropped:
-- how many the collector could not free (made in a function of their own, so
-- that no slot of this one's stack still holds one)
local function self_referring_clients(alive)
  for i = 1, 20 do
    local api
    api = hn.new(base_config { on_request = function() return api end })
    if i == 1 then assert(api:configuracao("status_atendimento")) end
    alive[i] = api
  end
end

function scenarios.self_referring()
  local alive = setmetatable({}, { __mode = "v" })
  self_referring_clients(alive)
  for _ = 1, 4 do
    if next(alive) == nil then break end
    collectgarbage()
  end
  local n = 0
  for _ in pairs(alive) do n = n + 1 end
  reply { alive = n }
end

-- a missing directive: the error message
function scenarios.missing()
  local b = body()
  local ok, msg = pcall(function()
    local api = hn.new(base_config(), b.opts)
    return api:configuracao("status_atendimento")
  end)
  reply { ok = ok, message = tostring(msg) }
end

-- the pages of a walk, in order; `stop_after` records then break
function scenarios.each()
  local b = body()
  local api = client(b)
  local ids = {}
  local ok, err = pcall(function()
    for at in api:each(b.method, b.filtros, b.iter) do
      ids[#ids + 1] = at.id_atendimento
      if b.stop_after and #ids >= b.stop_after then break end
    end
  end)
  if b.collect then
    collectgarbage()
    collectgarbage()
  end
  reply { ids = ids, ok = ok, err = err_view(err) }
end

-- a walk in an ngx.timer job; the ids land in the `results` dict
function scenarios.timer_walk()
  local b = body()
  local api = client(b)
  local results = ngx.shared.results
  results:delete(b.tag)
  local ok, err = ngx.timer.at(0, function(premature)
    if premature then return end
    local ids = {}
    local walked, werr = pcall(function()
      for at in api:each(b.method, b.filtros, b.iter) do ids[#ids + 1] = at.id_atendimento end
    end)
    results:set(b.tag, cjson.encode { ids = ids, ok = walked, err = err_view(werr) })
  end)
  reply { started = ok, err = err }
end

function scenarios.result()
  local b = body()
  local s = ngx.shared.results:get(b.tag)
  reply { done = s ~= nil, result = s and cjson.decode(s) }
end

-- access phase: a call works there (the content phase prints what it got)
function M.access()
  local api = client {}
  local r, err = api:configuracao("status_atendimento")
  ngx.ctx.access = r and type(r.status_atendimento) == "table" and "status_atendimento" or tostring(err)
end

-- header filter: ngx_lua cannot wait there, so the call raises naming the phase
function M.header_filter()
  local api = client {}
  local ok, msg = pcall(api.configuracao, api, "status_atendimento")
  ngx.header["X-Hubsoft-Error"] = ok and "none" or tostring(msg)
end

function M.run()
  local name = ngx.var.uri:match("^/run/([%w_]+)$")
  local f = name and scenarios[name]
  if not f then
    ngx.status = 404
    return reply { error = "no scenario " .. tostring(name) }
  end
  return f()
end

return M
