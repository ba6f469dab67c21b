--- The Lua-level fuzzer's engine: cases as plain data, generated from a seed,
-- turned into hostile Lua values, run against the client, checked, shrunk.
--
-- A case is a tree of plain tables (no functions, no metatables), so it can
-- be printed as a Lua literal, pasted into a regression file and replayed:
--
--   { entry = "method", name = "abrir_atendimento", gc = "aggressive",
--     cfg = <node>, args = { <node>, ... }, fault = {kind=, match=, times=} }
--
-- A node is `{tag, ...}`: {"nil"}, {"bool", b}, {"int", "123"}, {"num", "1e300"},
-- {"str", s}, {"rep", unit, count}, {"null"}, {"client"}, {"thread"}, {"udata"},
-- {"tab", {{knode, vnode}, ...}, meta = {event = act}, mark = "array"|"object"|"weak"},
-- {"cycle", up}, {"deep", n, leaf}, {"fn", act}, {"proxy", act} (a userdata
-- whose __gc runs act), {"hook", act} (on_request that records, then acts),
-- {"store", load_act, save_act}.
-- An action is {"ret", node}, {"raise", node}, {"close"}, {"reenter"}, {"gc"},
-- {"yield"} or {"seq", act, act}.
--
-- Works on Lua 5.1-5.4 and LuaJIT and is deterministic from the seed: it
-- uses its own generator, never math.random.

local hubsoft = require "hubsoft"
local core = require "hubsoft.core"
local endpoints = require "hubsoft.endpoints"
local cjson = require "cjson"
local http = require "socket.http"
local ltn12 = require "ltn12"
local socket = require "socket"

local M = {}

local unpack = table.unpack or unpack -- luacheck: ignore 143
local pack = function(...) return { n = select("#", ...), ... } end
local IS54 = _VERSION == "Lua 5.4"
local HAS_INT = math.type ~= nil

-- A case that runs longer is a finding (HUBSOFT_FUZZ_CASE_SECONDS in run.lua).
M.CASE_SECONDS = 60

M.KINDS = {
  validation = true, auth = true, api = true, http = true, timeout = true,
  network = true, tls = true, decode = true, closed = true,
}

---------------------------------------------------------------- random

-- Park-Miller: exact in doubles, the same on every interpreter.
local Rng = {}
Rng.__index = Rng
function M.rng(seed)
  local s = math.floor(tonumber(seed) or 1) % 2147483646 + 1
  return setmetatable({ s = s }, Rng)
end
function Rng:next()
  self.s = (self.s * 16807) % 2147483647
  return self.s
end
function Rng:int(a, b) -- a..b inclusive
  return a + self:next() % (b - a + 1)
end
function Rng:chance(p) return self:next() / 2147483647 < p end
function Rng:pick(t) return t[self:int(1, #t)] end

---------------------------------------------------------------- the grammar

--- The file the cases attach: a fixed path, so a printed case replays anywhere.
function M.attachment_file()
  local path = (os.getenv("TMPDIR") or "/tmp") .. "/hubsoft-fuzz-anexo.txt"
  local f = io.open(path, "rb")
  if f then f:close() return path end
  f = assert(io.open(path, "wb"))
  f:write("um anexo\n")
  f:close()
  return path
end

local EDGE_INTS = { "0", "1", "-1", "2", "255", "256", "65536", "2147483647", "2147483648", "4294967296",
  "9007199254740992", "9007199254740993", "9223372036854775807", "-9223372036854775808" }
local EDGE_NUMS = { "nan", "inf", "-inf", "-0.0", "0.5", "1e300", "-1e300", "1e-300", "9007199254740992.0",
  "9223372036854775808.0", "18446744073709551616.0", "3.0", "1e15", "4.9e-324", "2147483648.0" }
local ODD_STRS = { "", "\0", "a\0b", "\r\n", "x\r\nX-Injected: 1", "\255\254", "\192\128", "\237\160\128",
  "%00", "%2e%2e", "/../", "..", "%2E%2E%2F", "?a=b#c", "é", "\27[31m", "null", "{}", "[]", "true",
  "1e300", " 1 ", "0x10", "١٢٣", "http://evil.example/", "//evil.example/x", "\\", "\"", "'", "%",
  "%s%n%p", "2025-02-30", "2025-13-01", "9999-12-31", "11987654321", "sim", "nao" }
local META_EVENTS = { "__index", "__newindex", "__len", "__pairs", "__tostring", "__eq", "__lt", "__le",
  "__gc", "__close", "__call", "__concat", "__ipairs", "__name", "__metatable" }
local MARKS = { "array", "object", "weak" }
local FAULTS = { "status", "html500", "html502", "truncate", "truncate_json", "drop_before", "drop_after",
  "delay", "slow_body", "revoke", "error", "body", "big", "stack" }

-- Values the rules of a parameter may accept; each parameter keeps those
-- its rules really accept (so new rows and rules need no change here).
local CANDIDATES
local function candidates(tmpfile)
  if CANDIDATES then return CANDIDATES end
  local c = {
    0, 1, 2, 3, 5, 10, 30, 50, 100, 500, 1234, 5448, "1", "2", "5448", "123",
    "2025-01-01", "2025-03-31", "2025-06-15", "2025-12-31", true, false, "sim", "nao",
    "11987654321", "1133334444", "joao@provedor.com.br", "Sem conexão desde ontem à noite",
    "Cliente retornou a ligação", "GET", "POST", "asc", "desc", "data_cadastro", "data_fechamento",
    "status_atendimento", "disponibilidade", "tipo_atendimento", "motivo_fechamento_atendimento",
    "codigo_cliente", "cpf_cnpj", "id_cliente_servico", "protocolo", "12345678901",
    { 1, 2 }, "1,2", { "cliente_servico" }, "cliente_servico,checklists", { chave = "valor", n = 1 },
    { { chave = "valor" } }, { id_tipo_ordem_servico = 15, ids_tecnicos = { 5, 10 } },
    { { id_tipo_ordem_servico = 15 } }, { id_motivo_fechamento = 108, descricao_fechamento = "Resolvido" },
    { id_motivo_fechamento_atendimento = 108, descricao_fechamento = "Resolvido" },
    { { data = "log de ping", filename = "ping.txt", content_type = "text/plain" } },
    { tmpfile, { data = "x", filename = "a.bin" } },
  }
  CANDIDATES = c
  return c
end

-- Plain Lua value -> node.
local function node_of(v)
  local t = type(v)
  if t == "nil" then return { "nil" } end
  if t == "boolean" then return { "bool", v } end
  if t == "number" then
    if HAS_INT and math.type(v) == "integer" then return { "int", tostring(v) } end
    if v == math.floor(v) and math.abs(v) < 2 ^ 53 then return { "int", ("%d"):format(v) } end
    return { "num", ("%.17g"):format(v) }
  end
  if t == "string" then return { "str", v } end
  local items = {}
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(keys) do items[#items + 1] = { node_of(k), node_of(v[k]) } end
  return { "tab", items }
end
M.node_of = node_of

local VALID = setmetatable({}, { __mode = "k" }) -- parameter entry -> the candidates it accepts

local function valid_values(p, tmpfile)
  if p.valid then return p.valid end
  if VALID[p] then return VALID[p] end
  local ok = {}
  for _, v in ipairs(candidates(tmpfile)) do
    local good = true
    for _, rule in ipairs(p.rules or {}) do
      local fine, msg = pcall(rule, v)
      if not fine or msg then good = false break end
    end
    if good and p.value == nil then ok[#ok + 1] = v end
  end
  VALID[p] = ok
  return ok
end

local G = {}
G.__index = G

local function new_gen(rng, ctx)
  return setmetatable({ r = rng, tmpfile = ctx and ctx.tmpfile or "/etc/hostname", depth = 0 }, G)
end

-- A token table as token_store.load returns it, with odd fields now and then.
function G:token()
  local r = self.r
  local function pick(valid, odd)
    if r:chance(0.6) then return valid end
    return odd()
  end
  local items = {
    { { "str", "access_token" }, pick({ "str", "$token" }, function()
      return r:chance(0.5) and { "fresh", "tok" } or self:str()
    end) },
    { { "str", "token_type" }, pick({ "str", "Bearer" }, function()
      return r:chance(0.3) and { "fresh", "Bearer" } or self:str()
    end) },
    { { "str", "expires_in" }, pick({ "int", "3600" }, function() return self:num() end) },
    { { "str", "expires_at" }, pick({ "int", "4102444800" }, function() return self:num() end) },
  }
  if r:chance(0.5) then items[#items + 1] = { { "str", "refresh_token" }, self:str() } end
  local t = { "tab", items }
  if r:chance(0.2) then t.meta = self:meta() end
  return t
end

function G:act()
  local r = self.r
  local k = r:int(1, 14)
  if k == 14 then return { "ret", self:token() } end
  if k <= 3 then return { "ret", self:value(true) } end
  if k <= 5 then return { "raise", r:chance(0.7) and { "str", "boom" } or self:value(true) } end
  if k <= 7 then return { "close" } end
  if k <= 9 then return { "reenter" } end
  if k <= 11 then return { "gc" } end
  if k == 12 then return { "yield" } end
  return { "seq", self:act(), self:act() }
end

function G:meta()
  local m, r = {}, self.r
  for _ = 1, r:int(1, 3) do m[r:pick(META_EVENTS)] = self:act() end
  return m
end

function G:str()
  local r = self.r
  local k = r:int(1, 10)
  if k <= 5 then return { "str", r:pick(ODD_STRS) } end
  if k == 6 then
    return { "rep", r:pick { "a", "\0", "é", "\255", "\r\n", "%2e" }, r:pick { 256, 4096, 65536, 1048576 } }
  end
  if k == 7 then return { "str", r:pick(ODD_STRS) .. r:pick(ODD_STRS) } end
  if k == 8 then return { "fresh", r:pick { "tok", "Bearer", "x", "a\r\nX-Injected: 1" } } end
  local c = candidates(self.tmpfile)
  local v = c[r:int(1, #c)]
  if type(v) ~= "string" then v = "abc" end
  return { "str", v }
end

function G:num()
  local r = self.r
  if r:chance(0.5) then return { "int", r:pick(EDGE_INTS) } end
  return { "num", r:pick(EDGE_NUMS) }
end

-- Any value, mostly hostile. `shallow` keeps it small (metamethod results).
function G:value(shallow)
  local r = self.r
  self.depth = self.depth + 1
  local out
  local k = r:int(1, 20)
  if self.depth > 4 or shallow then k = r:int(1, 12) end
  if k <= 2 then out = self:num()
  elseif k <= 5 then out = self:str()
  elseif k == 6 then out = { "bool", r:chance(0.5) }
  elseif k == 7 then out = { "nil" }
  elseif k == 8 then out = { "null" }
  elseif k == 9 then out = r:pick { { "client" }, { "thread" }, { "udata" }, { "fn", self:act() } }
  elseif k == 10 then out = { "tab", {} , mark = r:pick(MARKS) }
  elseif k == 11 then out = { "proxy", self:act() }
  elseif k == 12 then out = node_of(r:pick(candidates(self.tmpfile)))
  elseif k == 13 then out = { "cycle", r:int(0, 2) }
  elseif k == 14 then out = { "deep", r:pick { 10, 200, 1001, 20000 }, self:value(true),
      obj = r:chance(0.5) }
  else out = self:table() end
  self.depth = self.depth - 1
  return out
end

function G:table(items)
  local r = self.r
  items = items or {}
  for _ = 1, r:int(0, 4) do
    local key
    if r:chance(0.5) then key = { "int", tostring(r:int(1, 4)) }
    elseif r:chance(0.7) then key = self:str()
    else key = self:value(true) end
    items[#items + 1] = { key, self:value() }
  end
  local t = { "tab", items }
  if r:chance(0.4) then t.meta = self:meta() end
  if r:chance(0.15) then t.mark = r:pick(MARKS) end
  return t
end

-- A table of named parameters: valid values mostly, so calls go deep.
function G:params(names, spec, hostility)
  local r = self.r
  local items = {}
  for _, name in ipairs(names) do
    local p = spec[name]
    local valid = valid_values(p, self.tmpfile)
    if p.required or r:chance(0.3) then
      local v
      if #valid > 0 and not r:chance(hostility) then v = node_of(valid[r:int(1, #valid)])
      else v = self:value() end
      if v[1] == "tab" and r:chance(hostility) then v.meta = self:meta() end
      items[#items + 1] = { { "str", name }, v }
    end
  end
  if r:chance(hostility / 3) then items[#items + 1] = { self:str(), self:value() } end
  local t = { "tab", items }
  if r:chance(hostility) then t.meta = self:meta() end
  return t
end

-- The arguments of a named method, from its endpoint row.
function G:method_args(row, hostility)
  local r = self.r
  local args = {}
  for _, name in ipairs(row.positional) do
    local p = row.spec[name]
    local valid = valid_values(p, self.tmpfile)
    if #valid > 0 and not r:chance(hostility) then args[#args + 1] = node_of(valid[r:int(1, #valid)])
    else args[#args + 1] = self:value() end
  end
  if row.options then
    if r:chance(hostility / 4) then args[#args + 1] = self:value()
    else args[#args + 1] = self:params(row.option_names, row.spec, hostility) end
  end
  if r:chance(0.05) then args[#args + 1] = self:value() end
  return args
end

local CONFIG_EXTRA = {
  timeout = { 0.3, 2, 0, -1, 1e300, "2" }, connect_timeout = { 0.2, 1, 1e300 },
  retries = { 1, 0, 2, -1, 1e300, 2.5 }, retry_delay = { 0, 0.01, -1 }, retry_max_delay = { 0.05, 0 },
  verify_tls = { true, false }, allow_http = { true, false }, keep_nulls = { true, false },
  user_agent = { "fuzz/1", "a\r\nX-Evil: 1" }, compress = { true, false },
  max_response_size = { 65536, 1048576, 0, 1e300 }, proxy = { "http://127.0.0.1:1", "" },
  ca_file = { "/nonexistent", "" }, ca_path = { "/nonexistent" },
}

-- A client config: the fake server's, with keys dropped, changed or made hostile.
function G:config(hostility)
  local r = self.r
  local items = {
    { { "str", "base_url" }, { "str", "$URL" } },
    { { "str", "client_id" }, { "str", "$client_id" } },
    { { "str", "client_secret" }, { "str", "$client_secret" } },
    { { "str", "username" }, { "str", "$username" } },
    { { "str", "password" }, { "str", "$password" } },
    { { "str", "retry_delay" }, { "num", "0.01" } },
    { { "str", "retry_max_delay" }, { "num", "0.05" } },
    { { "str", "timeout" }, { "int", "2" } },
    { { "str", "connect_timeout" }, { "int", "1" } },
    { { "str", "on_request" }, { "hook", r:chance(hostility) and self:act() or { "ret", { "nil" } } } },
  }
  for i = 2, #items do
    if r:chance(hostility / 4) then items[i][2] = self:value() end
  end
  if r:chance(0.2) then
    local tok = (hostility == 0 or r:chance(0.5)) and { "str", "$token" } or self:str()
    items[#items + 1] = { { "str", "access_token" }, tok }
  end
  if r:chance(0.2) then
    local st = (hostility == 0 or r:chance(0.7)) and { "store", self:act(), self:act() } or self:value()
    items[#items + 1] = { { "str", "token_store" }, st }
  end
  local extra = {}
  for k in pairs(CONFIG_EXTRA) do extra[#extra + 1] = k end
  table.sort(extra)
  for _ = 1, r:int(0, 2) do
    local k = r:pick(extra)
    if hostility == 0 and (k == "proxy" or k == "ca_file" or k == "ca_path") then k = "keep_nulls" end
    local vals = CONFIG_EXTRA[k]
    local v = hostility == 0 and node_of(vals[1]) or r:chance(0.8) and node_of(r:pick(vals)) or self:value()
    items[#items + 1] = { { "str", k }, v }
  end
  if r:chance(hostility / 3) then items[#items + 1] = { self:str(), self:value() } end
  local t = { "tab", items }
  if r:chance(hostility / 2) then t.meta = self:meta() end
  if r:chance(0.08) then
    -- absent keys handed out by __index: fresh strings, collected right after
    t.meta = t.meta or {}
    t.meta.__index = { "ifkey", r:pick { "access_token", "user_agent", "password", "client_secret" },
      { "seq", r:chance(0.5) and { "gc" } or { "ret", { "nil" } }, { "ret", { "fresh", "tok" } } } }
  end
  return t
end

local function row_path(row)
  return (row.path:gsub(":[%w_]+", function(n)
    return n == "recurso" and "status_atendimento" or "5448"
  end))
end

function G:request_args(hostility)
  local r = self.r
  local method = r:chance(hostility) and self:value(true)
    or { "str", r:pick { "GET", "POST", "PUT", "DELETE", "PATCH", "get", "HEAD", "OPTIONS" } }
  local path
  if r:chance(hostility) then
    path = r:chance(0.5) and self:str()
      or { "str", "/api/v1/integracao/" .. r:pick(ODD_STRS) .. "/" .. r:pick { "%2e%2e", "%2E.", ".", "x" } }
  else
    path = { "str", row_path(r:pick(endpoints.rows)) }
  end
  local opts = { "tab", {} }
  local o = opts[2]
  if r:chance(0.5) then o[#o + 1] = { { "str", "query" }, r:chance(hostility) and self:value() or self:table() } end
  if r:chance(0.5) then o[#o + 1] = { { "str", "json" }, r:chance(0.7) and self:table() or self:value() } end
  if r:chance(0.3) then
    local files = { "tab", {} }
    for i = 1, r:int(0, 3) do
      local item = r:chance(0.6) and self:params({ "data", "filename", "content_type", "path" }, {
        data = { valid = { "conteúdo\0binário", string.rep("x", 3000) } },
        filename = { valid = { "a.txt", "relatório final.pdf", "a\"b.txt" } },
        content_type = { valid = { "text/plain", "application/pdf" } },
        path = { valid = { self.tmpfile } },
      }, hostility) or (r:chance(0.5) and { "str", self.tmpfile } or self:value())
      files[2][i] = { { "int", tostring(i) }, item }
    end
    if r:chance(hostility) then files.meta = self:meta() end
    o[#o + 1] = { { "str", "files" }, files }
  end
  if r:chance(0.3) then
    o[#o + 1] = { { "str", "idempotent" }, r:chance(0.7) and { "bool", r:chance(0.5) } or self:value(true) }
  end
  if r:chance(hostility) then opts.meta = self:meta() end
  if r:chance(hostility / 4) then opts = self:value() end
  return { method, path, opts }
end

local HELPERS = { "ids", "array", "object", "parametros_ordem_servico", "parametros_fechamento",
  "file_token_store", "null_tostring" }
local CORE_FNS = { "encode", "decode", "error", "is_error" }

--- Generate one case from a seed.
function M.generate(seed, ctx)
  local r = M.rng(seed)
  local g = new_gen(r, ctx)
  local hostility = r:pick { 0.05, 0.15, 0.3, 0.6 }
  local case = { seed = seed, gc = r:pick { "aggressive", "aggressive", "aggressive", "normal", "generational" },
    co = r:chance(0.15) }
  -- most cases get a config the client takes, so the call goes deep
  case.cfg = g:config(r:chance(0.25) and hostility or 0)
  if r:chance(0.3) then
    case.fault = { kind = r:pick(FAULTS), match = r:pick { "/oauth/token", "/api/", "/api/v1/integracao/atendimento" },
      times = r:int(1, 3), status = r:pick { 401, 403, 404, 429, 500, 503 }, seconds = r:pick { 0.1, 0.5, 3 },
      bytes = r:pick { 100, 70000, 2100000 } }
  end
  local k = r:int(1, 100)
  if k <= 50 then
    local row = r:pick(endpoints.rows)
    case.entry, case.name, case.args = "method", row.name, g:method_args(row, hostility)
  elseif k <= 62 then
    case.entry, case.args = "request", g:request_args(hostility)
  elseif k <= 74 then
    case.entry = r:pick { "pages", "each" }
    local paginated = {}
    for _, row in ipairs(endpoints.rows) do
      if row.spec.pagina then paginated[#paginated + 1] = row end
    end
    local row = r:pick(paginated)
    local name = r:chance(hostility / 2) and g:str() or { "str", row.name }
    local opts = r:chance(0.5) and { "tab", { { { "str", "concurrency" },
      r:chance(0.8) and { "int", tostring(r:int(1, 8)) } or g:num() } } } or { "nil" }
    if r:chance(hostility) then opts = g:value() end
    case.args = { name, g:params(row.option_names, row.spec, hostility), opts }
    case.steps = r:int(1, 6)
  elseif k <= 80 then
    case.entry, case.args = "prefetch", g:request_args(hostility)
    case.width = r:chance(0.8) and { "int", tostring(r:int(1, 9)) } or g:num()
  elseif k <= 86 then
    case.entry, case.name, case.args = "helper", r:pick(HELPERS), { g:value() }
  elseif k <= 90 then
    case.entry, case.name, case.args = "core", r:pick(CORE_FNS), { r:chance(0.5) and g:str() or g:value() }
  elseif k <= 95 then
    case.entry = r:pick { "authenticate", "close", "new" }
    case.args = {}
    if case.entry == "new" then case.cfg = g:config(math.max(hostility, 0.3)) end
  else
    case.entry = IS54 and "tbc" or "close"
    -- on 5.4, a value closed next to the client: its __close runs too
    case.args = IS54 and { g:table() } or {}
  end
  return case
end

---------------------------------------------------------------- running a case

local NUM = { nan = 0 / 0, inf = 1 / 0, ["-inf"] = -1 / 0 }

-- Mutable per-case context: the client (once made), hooks seen, tokens seen.
local Ctx = {}
Ctx.__index = Ctx

function M.context(env)
  return setmetatable({ env = env, hooks = {}, tokens = {}, cfg_secrets = {}, raised = {}, tmpfile = env.tmpfile }, Ctx)
end

function Ctx:act(a, ...)
  local tag = a[1]
  if tag == "ret" then return self:value(a[2], {})
  elseif tag == "raise" then error(self:value(a[2], {}), 0)
  elseif tag == "close" then
    -- the client, or the prefetch set being filled
    self.flip = not self.flip
    if self.pf and self.flip then self.pf:close()
    elseif self.api then self.api:close() end
  elseif tag == "reenter" then
    local api = self.api
    if api and not self.busy then
      self.busy = true -- one level: a read, never a write (the double-send check counts writes)
      pcall(function()
        if self.reenter_flip then api:configuracao("status_atendimento")
        else api:request("GET", "/api/v1/integracao/atendimento/todos", { query = { pagina = 0 } }) end
      end)
      self.reenter_flip = not self.reenter_flip
      self.busy = false
    end
  elseif tag == "gc" then collectgarbage()
  elseif tag == "yield" then
    if coroutine.running() then return coroutine.yield("fuzz-yield") end
  elseif tag == "seq" then
    self:act(a[2], ...)
    return self:act(a[3], ...)
  elseif tag == "ifkey" then
    -- (__index's arguments are the table and the key)
    local _, key = ...
    if key == a[2] then return self:act(a[3], ...) end
  end
end

local function make_meta(ctx, m)
  local mt = {}
  for ev, a in pairs(m) do
    if ev == "__name" or ev == "__metatable" then
      mt[ev] = ctx:act(a)
    elseif ev == "__pairs" or ev == "__ipairs" then
      mt[ev] = function(t)
        local x = ctx:act(a, t)
        if type(x) == "function" then
          -- a generated iterator may never return nil: end it, a hang is no finding
          local steps = 0
          return function(...)
            steps = steps + 1
            if steps > 20 then return nil end
            return x(...)
          end, t, nil
        end
        return next, t, nil
      end
    elseif ev == "__gc" then
      -- an error in __gc is a warning on 5.4 but is raised wherever the
      -- collector ran on 5.2/5.3: keep runs repeatable
      mt[ev] = function(...) pcall(ctx.act, ctx, a, ...) end
    else
      mt[ev] = function(...) return ctx:act(a, ...) end
    end
  end
  return mt
end

function Ctx:value(n, stack)
  local tag = n[1]
  if tag == "nil" then return nil
  elseif tag == "bool" then return n[2]
  elseif tag == "int" then
    local v = tonumber(n[2])
    if HAS_INT then v = math.tointeger(v) or v end
    return v
  elseif tag == "num" then
    local v = NUM[n[2]] or tonumber(n[2])
    if HAS_INT then v = v + 0.0 end
    return v
  elseif tag == "str" then
    local s = n[2]
    if s:sub(1, 1) == "$" then
      local e = self.env
      if s == "$URL" then return e.url end
      if s == "$token" then return e.token or "no-token-yet-0123456789" end
      return e.credentials[s:sub(2)] or s
    end
    return s
  elseif tag == "rep" then return string.rep(n[2], n[3])
  elseif tag == "fresh" then
    -- a string no one else holds: collectable as soon as the caller drops it
    M.fresh_count = (M.fresh_count or 0) + 1
    return n[2] .. "-" .. M.fresh_count .. "-fresh"
  elseif tag == "null" then return hubsoft.null
  elseif tag == "client" then return self.api
  elseif tag == "thread" then return coroutine.create(function() end)
  elseif tag == "udata" then return io.stderr
  elseif tag == "fn" then
    return function(...) return self:act(n[2], ...) end
  elseif tag == "proxy" then
    local a = n[2]
    if newproxy then -- luacheck: ignore 113
      local p = newproxy(true) -- luacheck: ignore 113
      getmetatable(p).__gc = function() pcall(self.act, self, a) end
      return p
    end
    return setmetatable({}, { __gc = function() pcall(self.act, self, a) end })
  elseif tag == "hook" then
    local a = n[2]
    return function(info)
      self.hooks[#self.hooks + 1] = info
      return self:act(a, info)
    end
  elseif tag == "store" then
    local la, sa = n[2], n[3]
    return {
      load = function() return self:act(la) end,
      save = function(tok)
        self.tokens[#self.tokens + 1] = tok
        return self:act(sa, tok)
      end,
    }
  elseif tag == "cycle" then
    return stack[math.max(1, #stack - (n[2] or 0))]
  elseif tag == "deep" then
    local v = self:value(n[3], stack)
    for _ = 1, n[2] do v = n.obj and { k = v } or { v } end
    return v
  elseif tag == "tab" then
    local t = {}
    stack[#stack + 1] = t
    for _, kv in ipairs(n[2]) do
      local k = self:value(kv[1], stack)
      local v = self:value(kv[2], stack)
      if k ~= nil and k == k then rawset(t, k, v) end
    end
    stack[#stack] = nil
    if n.mark == "array" then hubsoft.array(t)
    elseif n.mark == "object" then hubsoft.object(t)
    elseif n.mark == "weak" then setmetatable(t, { __mode = "kv" }) end
    if n.meta then
      local mt = getmetatable(t)
      if not mt then setmetatable(t, make_meta(self, n.meta))
      else
        for k, v in pairs(make_meta(self, n.meta)) do mt[k] = v end
      end
    end
    return t
  end
  error("fuzz: unknown node " .. tostring(tag))
end

---------------------------------------------------------------- invariants

local function secrets_of(ctx)
  local s = {}
  local c = ctx.env.credentials
  for _, k in ipairs { "password", "client_secret" } do s[#s + 1] = c[k] end
  if ctx.env.token then s[#s + 1] = ctx.env.token end
  for _, tok in ipairs(ctx.tokens) do
    if type(tok) == "table" then
      for _, k in ipairs { "access_token", "refresh_token" } do
        local v = rawget(tok, k)
        if type(v) == "string" and #v >= 8 then s[#s + 1] = v end
      end
    end
  end
  return s
end

-- Everything reachable in a value, as text (tables walked raw, no metamethods run).
local function text_of(v, out, seen)
  out, seen = out or {}, seen or {}
  local t = type(v)
  if t == "string" then out[#out + 1] = v
  elseif t == "table" and not seen[v] then
    seen[v] = true
    for k, x in next, v do text_of(k, out, seen); text_of(x, out, seen) end
    local mt = getmetatable(v)
    if type(mt) == "table" and core.is_error(v) then
      local ok, s = pcall(tostring, v)
      if ok and type(s) == "string" then out[#out + 1] = s end
    end
  end
  return out
end

local TOKEN_PAT = { "tok%-%d+%-%x%x%x%x%x%x%x%x", "ref%-%d+%-%x%x%x%x%x%x%x%x" }

local function leak(ctx, v, where)
  local txt = table.concat(text_of(v), "\n")
  for _, s in ipairs(secrets_of(ctx)) do
    if #s >= 8 and txt:find(s, 1, true) then return "secret in " .. where end
  end
  for _, p in ipairs(TOKEN_PAT) do
    if txt:find(p) then return "token in " .. where end
  end
end

local function check_result(ctx, case, res)
  if not res[1] then
    return leak(ctx, res[2], "raised error")
  end
  local a, b = res[2], res[3]
  if case.entry == "method" or case.entry == "authenticate" then
    if type(a) == "table" and not core.is_error(a) then return nil end
  elseif case.entry == "request" then
    local t = type(a)
    if a ~= nil and t ~= "function" and t ~= "thread" and not core.is_error(a) then return nil end
  else
    return nil
  end
  if a ~= nil then return "returned a " .. type(a) end
  if not core.is_error(b) then return "returned nil and a " .. type(b) .. ", not an error" end
  local kind = rawget(b, "kind")
  if not M.KINDS[kind] then return "error kind " .. tostring(kind) end
  if type(rawget(b, "message")) ~= "string" then return "error without a message" end
  if case.entry == "method" and kind ~= "validation" and kind ~= "closed" then
    local row = endpoints.by_name[case.name]
    local m = rawget(b, "method")
    -- when the login fails (refused, timed out, ...) it is the request that
    -- failed, and the error names it (by design)
    -- (as the client shows it: a one-letter client_secret garbles it)
    local url = rawget(b, "url")
    local secrets = secrets_of(ctx)
    for _, s in ipairs(ctx.cfg_secrets) do secrets[#secrets + 1] = s end
    local login = core.scrub("/oauth/token", secrets)
    local ok = m == row.method
      or (m == "POST" and type(url) == "string" and url:find(login, 1, true) ~= nil)
    for vk, var in pairs(row.variants or {}) do
      if type(var) == "table" and vk ~= "param" and m == var.method then ok = true end
    end
    if not ok then return "wrong err.method " .. tostring(m) .. " for " .. row.name .. " (" .. kind .. ")" end
  end
  return leak(ctx, b, "returned error")
end

---------------------------------------------------------------- the fake server

-- A small control client for spec/support/fake_server.lua (shared by parent
-- and children, so a child only needs the URL).
local Ctl = {}
Ctl.__index = Ctl
function M.control(url) return setmetatable({ url = url }, Ctl) end
function Ctl:call(method, path, body)
  local chunks, src, headers = {}, nil, {}
  if body then
    body = cjson.encode(body)
    src = ltn12.source.string(body)
    headers = { ["content-type"] = "application/json", ["content-length"] = tostring(#body) }
  end
  http.TIMEOUT = 10
  local r, code = http.request { url = self.url .. "/__control/" .. path, method = method, headers = headers,
    source = src, sink = ltn12.sink.table(chunks) }
  if not r or code ~= 200 then error("fuzz: fake server control " .. path .. " failed: " .. tostring(code)) end
  return cjson.decode(table.concat(chunks))
end

-- Whether a recorded request was a write. A named method's class is its
-- row's; `api:request` and pages in flight send what they are given, and
-- their class is the method's (a GET reads unless marked otherwise, as the
-- contract says), whatever route the path names.
local function is_write(rec, by_method)
  if rec.path:find("^/oauth/") or rec.path:find("^/__control") then return false end
  if by_method then return rec.method ~= "GET" and rec.method ~= "HEAD" end
  for _, row in ipairs(endpoints.rows) do
    local pat = "^" .. row.path:gsub("[%-%.]", "%%%0"):gsub(":[%w_]+", "[^/]+") .. "$"
    if rec.path:find(pat) and rec.method == row.method then return row.retry == "write" end
  end
  return rec.method ~= "GET" and rec.method ~= "HEAD"
end

-- What the server received must not carry an injected header or a dot segment.
local function sent_badly(recs)
  for _, rec in ipairs(recs) do
    for k in pairs(type(rec.headers) == "table" and rec.headers or {}) do
      local lk = tostring(k):lower()
      if lk == "x-injected" or lk == "x-evil" then return "an injected header reached the server: " .. lk end
    end
    local path = (rec.path or ""):gsub("%%2[eE]", ".")
    if (path .. "/"):find("/%.%.?/") then return "a dot segment reached the server: " .. rec.path end
  end
end

local function double_write(ctx, case, recs)
  if case.entry == "request" or case.entry == "prefetch" then
    local opts = case.args[3]
    if opts and opts[1] == "tab" then
      for _, kv in ipairs(opts[2]) do
        if kv[1][2] == "idempotent" then return nil end -- the caller allowed resending
      end
    end
  end
  local writes = 0
  local by_method = case.entry == "request" or case.entry == "prefetch"
  for _, rec in ipairs(recs) do
    if is_write(rec, by_method) then writes = writes + 1 end
  end
  local rejected = 0
  for _, info in ipairs(ctx.hooks) do
    if type(info) == "table" and rawget(info, "status") == 401 then rejected = rejected + 1 end
  end
  local hooked = false
  for _, kv in ipairs(case.cfg[2] or {}) do
    if kv[1][2] == "on_request" and kv[2][1] == "hook" then hooked = true end
  end
  if not hooked then return nil end
  if writes > 1 + rejected then
    return ("a write was sent %d times (%d answered 401)"):format(writes, rejected)
  end
end

---------------------------------------------------------------- run one case

local function set_gc(mode)
  if mode == "generational" and IS54 then
    collectgarbage("generational")
  else
    if IS54 then collectgarbage("incremental") end
    if mode == "aggressive" then
      collectgarbage("setpause", 0)
      collectgarbage("setstepmul", 1000)
    else
      collectgarbage("setpause", 200)
      collectgarbage("setstepmul", 200)
    end
  end
end

-- The collector's settings before a case, to put back after it (the suite
-- may run under its own aggressive setting).
local function save_gc()
  local pause = collectgarbage("setpause", 200)
  local mul = collectgarbage("setstepmul", 200)
  collectgarbage("setpause", pause)
  collectgarbage("setstepmul", mul)
  return { pause = pause, mul = mul }
end

local function restore_gc(saved)
  if IS54 then collectgarbage("incremental") end
  collectgarbage("setpause", saved.pause)
  collectgarbage("setstepmul", saved.mul)
end

local function call_entry(ctx, case)
  local args = {}
  local n = #case.args
  for i = 1, n do args[i] = ctx:value(case.args[i], {}) end
  local cfg = case.cfg and ctx:value(case.cfg, {})
  if type(cfg) == "table" then -- what the client will scrub from its errors (read raw)
    for _, k in ipairs { "password", "client_secret", "access_token" } do
      ctx.cfg_secrets[#ctx.cfg_secrets + 1] = rawget(cfg, k)
    end
  end
  -- the collector turns aggressive for the call only: building big trees
  -- under it would take minutes and test nothing
  set_gc(case.gc)
  local e = case.entry
  if e == "helper" then
    local name = case.name
    if name == "null_tostring" then return tostring(hubsoft.null) end
    if name == "file_token_store" then
      local st = hubsoft.file_token_store(ctx.env.tmpdir .. "/tok.json")
      st.save(args[1])
      return st.load()
    end
    return hubsoft[name](args[1])
  elseif e == "core" then
    return core[case.name](args[1])
  end
  local api = hubsoft.new(cfg)
  ctx.api = api
  if e == "method" then
    return api[case.name](api, unpack(args, 1, n))
  elseif e == "request" then
    return api:request(unpack(args, 1, 3))
  elseif e == "pages" or e == "each" then
    local out = {}
    for a, b in api[e](api, unpack(args, 1, 3)) do
      out[#out + 1] = { a, b }
      if #out >= case.steps then break end
    end
    return out
  elseif e == "prefetch" then
    local pf = api:_prefetch(ctx:value(case.width, {}))
    ctx.pf = pf
    local id = pf:add(unpack(args, 1, 3))
    if id then
      pf:await(id)
      local r1, r2 = pf:wait(id)
      pf:close()
      return r1, r2
    end
    pf:close()
    return id
  elseif e == "authenticate" then
    local tok, err = api:authenticate()
    if type(tok) == "table" then ctx.tokens[#ctx.tokens + 1] = tok end
    return tok, err
  elseif e == "close" then
    api:close()
    api:close()
    local r, err = api:configuracao("status_atendimento")
    if r ~= nil or not core.is_error(err) or err.kind ~= "closed" then
      error({ fuzz_violation = "a closed client answered: " .. tostring(r) .. " " .. tostring(err and err.kind) })
    end
    return true
  elseif e == "tbc" then
    local src = "local api, x = ... do local a <close> = api; local b <close> = "
      .. "(getmetatable(x) or {}).__close and x or nil end return api:is_closed()"
    local f = assert((loadstring or load)(src)) -- luacheck: ignore 113
    return f(api, args[1])
  end
  return api
end

-- The case, with every invariant but the last one (M.run). `made` (weak
-- values) gets the client the case made.
local function run_case(case, env, made)
  local ctl = env.ctl
  ctl:call("POST", "reset", {})
  env.token = nil
  if case.cfg then
    for _, kv in ipairs(case.cfg[2]) do
      if kv[2][1] == "str" and kv[2][2] == "$token" then
        -- a valid token, obtained outside the client
        local chunks = {}
        local c = env.credentials
        local body = cjson.encode { grant_type = "password", client_id = c.client_id, client_secret = c.client_secret,
          username = c.username, password = c.password }
        http.request { url = env.url .. "/oauth/token", method = "POST", source = ltn12.source.string(body),
          headers = { ["content-type"] = "application/json", ["content-length"] = tostring(#body) },
          sink = ltn12.sink.table(chunks) }
        local ok, d = pcall(cjson.decode, table.concat(chunks))
        env.token = ok and type(d) == "table" and d.access_token or nil
      end
    end
  end
  if case.fault then ctl:call("POST", "fault", case.fault) end
  local ctx = M.context(env)
  -- a case that runs too long is a finding too (printed and shrunk like the
  -- others): the hook stops one that loops in Lua; time spent in C, which no
  -- hook can stop, is measured when the call returns (below)
  local seconds = env.case_seconds or M.CASE_SECONDS
  local over = "a case ran over " .. seconds .. " s"
  local limit = socket.gettime() + seconds
  debug.sethook(function()
    if socket.gettime() > limit then
      debug.sethook()
      error({ fuzz_violation = over }, 0)
    end
  end, "", 100000)
  local saved_gc = save_gc()
  set_gc("normal") -- call_entry sets the case's own setting once the values are built
  local res
  if case.co then
    local co = coroutine.create(function() return call_entry(ctx, case) end)
    local r = pack(coroutine.resume(co))
    local guard = 0
    while r[1] and coroutine.status(co) == "suspended" and guard < 50 do
      guard = guard + 1
      r = pack(coroutine.resume(co))
    end
    if coroutine.status(co) == "suspended" then r = { true, n = 1 } end
    res = r
  else
    res = pack(pcall(call_entry, ctx, case))
  end
  if env.trace then env.trace(case, res) end
  if case.entry == "authenticate" and res[1] and type(res[2]) == "table" then
    ctx.tokens[#ctx.tokens + 1] = res[2]
  end
  debug.sethook()
  restore_gc(saved_gc)
  if socket.gettime() > limit then return over end
  -- what the case sent; then the faults go off, so that a finalizer calling
  -- the client below answers at once
  local recs = ctl:call("GET", "requests")
  ctl:call("POST", "reset", {})
  -- ctx.api stays: the case's callbacks refer to their client through ctx, as
  -- users' hooks do, and the collector must still free the client with them;
  -- half the cases close it first, the others leave it all to the collector
  local api = ctx.api
  if api then
    made[1] = api
    if (tonumber(case.seed) or 0) % 2 == 0 then pcall(api.close, api) end
  end
  api = nil -- luacheck: ignore 311
  collectgarbage()
  collectgarbage()
  if not res[1] and type(res[2]) == "table" and rawget(res[2], "fuzz_violation") then
    return res[2].fuzz_violation
  end
  -- the token itself may be handed out by authenticate(): look for leaks elsewhere
  local v = check_result(ctx, case, res)
  if v then return v end
  for i, info in ipairs(ctx.hooks) do
    v = leak(ctx, info, "on_request record #" .. i)
    if v then return v end
  end
  v = sent_badly(recs)
  if v then return v end
  local st = env.stats
  if st then
    local o = not res[1] and "raised" or (res[2] == nil and core.is_error(res[3]) and "err." .. tostring(res[3].kind))
      or "value"
    st[o] = (st[o] or 0) + 1
    local api_reqs = 0
    for _, rec in ipairs(recs) do
      if rec.path:find("^/api/") then api_reqs = api_reqs + 1 end
    end
    if api_reqs > 0 then st.reached_server = (st.reached_server or 0) + 1 end
  end
  return double_write(ctx, case, recs)
end

-- The client a case made is gone once the case's values are: a cycle
-- through the registry (a hook referring to its client) would keep it.
local function outlived(made)
  for attempt = 1, 5 do
    if next(made) == nil then return nil end
    -- LuaJIT's compiled traces keep the objects they were specialised on (a
    -- case's closure, its context) as constants; which loops get compiled
    -- depends on timing. Flushed, they let go; a registry cycle does not.
    local jit = rawget(_G, "jit")
    if attempt == 4 and jit then jit.flush() end
    collectgarbage()
  end
  if next(made) ~= nil then return "the client outlived its case: the collector could not free it" end
end

--- Run a case against the server at env.url. Returns nil when every
-- invariant held, else a one-line violation.
function M.run(case, env)
  local made = setmetatable({}, { __mode = "v" })
  -- a marked table with metamethods of its own gets them in the metatable
  -- every hubsoft.array (object) shares: they must not outlive the case (they
  -- refer to its client, and would change the cases after it)
  local marks = { getmetatable(hubsoft.array {}), getmetatable(hubsoft.object {}) }
  local saved = {}
  for i, mt in ipairs(marks) do
    saved[i] = {}
    for k, x in pairs(mt) do saved[i][k] = x end
  end
  local v = run_case(case, env, made)
  for i, mt in ipairs(marks) do
    for k in pairs(mt) do mt[k] = nil end
    for k, x in pairs(saved[i]) do mt[k] = x end
  end
  if v then return v end
  return outlived(made)
end

---------------------------------------------------------------- printing

local function q(s)
  return '"' .. s:gsub('[%c"\\\128-\255]', function(c)
    if c == "\n" then return "\\n" end
    if c == "\r" then return "\\r" end
    if c == "\t" then return "\\t" end
    if c == '"' or c == "\\" then return "\\" .. c end
    return ("\\%03d"):format(c:byte())
  end) .. '"'
end

--- A case as a Lua literal.
function M.dump(v, indent)
  indent = indent or ""
  local t = type(v)
  if t == "string" then return q(v) end
  if t ~= "table" then return tostring(v) end
  local parts, n = {}, #v
  for i = 1, n do parts[#parts + 1] = M.dump(v[i], indent .. "  ") end
  local keys = {}
  for k in pairs(v) do
    if type(k) ~= "number" or k < 1 or k > n or k % 1 ~= 0 then keys[#keys + 1] = k end
  end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(keys) do
    local ks = (type(k) == "string" and k:match("^[%a_][%w_]*$")) and k or "[" .. M.dump(k) .. "]"
    parts[#parts + 1] = ks .. " = " .. M.dump(v[k], indent .. "  ")
  end
  local flat = "{ " .. table.concat(parts, ", ") .. " }"
  if #flat < 100 then return flat end
  return "{\n" .. indent .. "  " .. table.concat(parts, ",\n" .. indent .. "  ") .. "\n" .. indent .. "}"
end

---------------------------------------------------------------- shrinking

local function copy(v)
  if type(v) ~= "table" then return v end
  local c = {}
  for k, x in pairs(v) do c[k] = copy(x) end
  return c
end

-- Every simpler variant of a case, one change each, bigger cuts first.
local VALUE_TAGS = { fresh = true, tab = true, deep = true, proxy = true, fn = true, rep = true, cycle = true,
  str = true,
  num = true, int = true, bool = true, null = true, client = true, thread = true, udata = true,
  hook = true, store = true }

function M.variants(case)
  local out = {}
  local function at(c, path, upto)
    local n = c
    for i = 1, (upto or #path) do n = n[path[i]] end
    return n
  end
  local function add(path, fn)
    local c = copy(case)
    local parent = at(c, path, #path - 1)
    fn(parent, path[#path], c)
    out[#out + 1] = c
  end
  local function sub(path, ...)
    local p = {}
    for i = 1, #path do p[i] = path[i] end
    for i = 1, select("#", ...) do p[#p + 1] = (select(i, ...)) end
    return p
  end
  local function set(v) return function(parent, key) parent[key] = copy(v) end end
  local function drop(parent, key) table.remove(parent, key) end
  local walk_act
  local function walk_node(n, path, nilable)
    local tag = n[1]
    if nilable and VALUE_TAGS[tag] then
      add(path, set { "nil" })
      if tag ~= "int" and tag ~= "str" and tag ~= "num" then add(path, set { "int", "1" }) end
    end
    if tag == "tab" then
      if n.meta then
        add(path, function(parent, key) parent[key].meta = nil end)
        local evs = {}
        for ev in pairs(n.meta) do evs[#evs + 1] = ev end
        table.sort(evs)
        for _, ev in ipairs(evs) do
          if #evs > 1 then add(path, function(parent, key) parent[key].meta[ev] = nil end) end
          walk_act(n.meta[ev], sub(path, "meta", ev))
        end
      end
      if n.mark then add(path, function(parent, key) parent[key].mark = nil end) end
      if #n[2] > 1 then
        add(path, function(parent, key) parent[key][2] = {} end)
        add(path, function(parent, key)
          local items = parent[key][2]
          for _ = 1, math.floor(#items / 2) do table.remove(items) end
        end)
      end
      for i = #n[2], 1, -1 do add(sub(path, 2, i), drop) end
      for i, pair in ipairs(n[2]) do
        walk_node(pair[1], sub(path, 2, i, 1), false)
        walk_node(pair[2], sub(path, 2, i, 2), true)
      end
    elseif tag == "deep" then
      if n[2] > 1 then add(path, function(parent, key) parent[key][2] = math.floor(n[2] / 2) end) end
      walk_node(n[3], sub(path, 3), true)
    elseif tag == "rep" and n[3] > 1 then
      add(path, function(parent, key) parent[key][3] = math.floor(n[3] / 2) end)
    elseif tag == "str" and #n[2] > 1 and n[2]:sub(1, 1) ~= "$" then
      add(path, function(parent, key) parent[key][2] = n[2]:sub(1, math.floor(#n[2] / 2)) end)
      add(path, function(parent, key) parent[key][2] = n[2]:sub(2) end)
    elseif tag == "fn" or tag == "proxy" or tag == "hook" then
      walk_act(n[2], sub(path, 2))
    elseif tag == "store" then
      walk_act(n[2], sub(path, 2))
      walk_act(n[3], sub(path, 3))
    end
  end
  function walk_act(a, path)
    local tag = a[1]
    if not (tag == "ret" and a[2][1] == "nil") then add(path, set { "ret", { "nil" } }) end
    if tag == "seq" then
      add(path, set(a[2]))
      add(path, set(a[3]))
      walk_act(a[2], sub(path, 2))
      walk_act(a[3], sub(path, 3))
    elseif tag == "ret" or tag == "raise" then
      walk_node(a[2], sub(path, 2), tag == "ret")
    elseif tag == "ifkey" then
      add(path, set(a[3]))
      walk_act(a[3], sub(path, 3))
    end
  end
  if case.fault then out[#out + 1] = copy(case); out[#out].fault = nil end
  if case.co then out[#out + 1] = copy(case); out[#out].co = nil end
  if case.gc ~= "normal" then out[#out + 1] = copy(case); out[#out].gc = "normal" end
  if case.steps and case.steps > 1 then out[#out + 1] = copy(case); out[#out].steps = 1 end
  for i = #case.args, 1, -1 do add({ "args", i }, drop) end
  if case.cfg then walk_node(case.cfg, { "cfg" }, false) end
  for i, n in ipairs(case.args) do walk_node(n, { "args", i }, true) end
  if case.width then walk_node(case.width, { "width" }, false) end
  return out
end

--- Greedy shrink: keep the first variant `fails` still fails on, until none does.
-- `fails(case)` returns true when the case reproduces the failure.
function M.shrink(case, fails, budget, log)
  budget = budget or 400
  local tries = 0
  local progress = true
  while progress and tries < budget do
    progress = false
    -- after a success, go on from the same place in the new list: the
    -- variants before it were already tried and kept the failure away
    local i = 1
    local vs = M.variants(case)
    while i <= #vs and tries < budget do
      tries = tries + 1
      if fails(vs[i]) then
        case = vs[i]
        progress = true
        if log then log(tries) end
        vs = M.variants(case)
      else
        i = i + 1
      end
    end
  end
  return case, tries
end

return M
