-- Fake HubSoft API server: the specs, examples and benchmarks run against it,
-- and users test their own scripts with it (README, "Testing your own scripts").
--
--   lua5.4 lua/hubsoft/fake_server.lua [--port N] [--host 127.0.0.1]
--          [--seed-tickets N] [--idle-exit S]
--   require("hubsoft.fake_server").serve{port = N, seed_tickets = N, on_listen = fn}
--   require("hubsoft.fake_server").start{...}   -- in a child process, with controls
--
-- As a script it prints one line "PORT <n>" on stdout once it listens, then
-- serves until POST /__control/shutdown, SIGTERM, or S seconds without any
-- request (0: never).
-- One process: coroutines over non-blocking LuaSocket sockets and
-- socket.select, so slow or delayed answers never hold up other connections.
-- Runs under Lua 5.1 to 5.4 and LuaJIT (5.1 syntax only; nothing yields
-- across pcall, which 5.1 forbids).

local socket = require "socket"
local cjson = require "cjson"

local NULL = cjson.null
local floor = math.floor
local fmt = string.format
local concat = table.concat

---------------------------------------------------------------- options

local fake = {}

local OPTS = { host = "127.0.0.1", port = 0, seed_tickets = 0, idle_exit = 600 }

-- The script's command line as serve's options; nil and a message when bad.
local function parse_args(argv)
  local o, i = {}, 1
  local names = { ["--port"] = "port", ["--host"] = "host", ["--seed-tickets"] = "seed_tickets",
                  ["--idle-exit"] = "idle_exit" }
  while argv[i] do
    local a, v = argv[i], argv[i + 1]
    local key = names[a]
    if a == "--tls-cert" or a == "--tls-key" then
      return nil, "TLS is not supported by this fake server"
    elseif not key then
      return nil, "unknown argument " .. tostring(a)
    elseif v == nil then
      return nil, a .. " needs a value"
    end
    if key == "host" then o.host = v else o[key] = tonumber(v) end
    if o[key] == nil then return nil, "numeric option expected for " .. a end
    i = i + 2
  end
  return o
end

---------------------------------------------------------------- JSON

-- cjson 2.1 has no empty_array: lists that may be empty are marked with
-- ARRAY_MT and encoded by this small encoder (cjson still escapes strings).
local ARRAY_MT = {}
local function array(t) return setmetatable(t or {}, ARRAY_MT) end

-- Already-encoded JSON text, emitted as is (cached list records).
local RAW_MT = {}
local function raw_json(text) return setmetatable({ text }, RAW_MT) end

local function is_array(t)
  if getmetatable(t) == ARRAY_MT then return true end
  local n = #t
  if n == 0 then return false end
  local count = 0
  for k in pairs(t) do
    if type(k) ~= "number" then return false end
    count = count + 1
  end
  return count == n
end

local function enc(v, out)
  local tv = type(v)
  if v == nil or v == NULL then
    out[#out + 1] = "null"
  elseif tv == "boolean" then
    out[#out + 1] = v and "true" or "false"
  elseif tv == "number" then
    if v ~= v or v == math.huge or v == -math.huge then
      out[#out + 1] = "null"
    elseif v == floor(v) and v > -1e15 and v < 1e15 then
      out[#out + 1] = fmt("%.0f", v)
    else
      out[#out + 1] = fmt("%.14g", v)
    end
  elseif tv == "string" then
    out[#out + 1] = cjson.encode(v)
  elseif tv == "table" then
    if getmetatable(v) == RAW_MT then
      out[#out + 1] = v[1]
    elseif is_array(v) then
      out[#out + 1] = "["
      for i = 1, #v do
        if i > 1 then out[#out + 1] = "," end
        enc(v[i], out)
      end
      out[#out + 1] = "]"
    else
      local keys = {}
      for k in pairs(v) do keys[#keys + 1] = k end
      table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
      out[#out + 1] = "{"
      for i, k in ipairs(keys) do
        if i > 1 then out[#out + 1] = "," end
        out[#out + 1] = cjson.encode(tostring(k))
        out[#out + 1] = ":"
        enc(v[k], out)
      end
      out[#out + 1] = "}"
    end
  else
    out[#out + 1] = cjson.encode(tostring(v))
  end
end

local function json_encode(v)
  local out = {}
  enc(v, out)
  return concat(out)
end

local function json_decode(s)
  local ok, v = pcall(cjson.decode, s)
  if ok then return v end
  return nil
end

---------------------------------------------------------------- small helpers

local function now() return socket.gettime() end

local function is_null(v) return v == nil or v == NULL end

-- string.upper leaves UTF-8 accented letters alone; these are the ones Portuguese uses.
local UPPER_ACCENTS = {
  ["á"] = "Á", ["à"] = "À", ["â"] = "Â", ["ã"] = "Ã", ["é"] = "É", ["ê"] = "Ê",
  ["í"] = "Í", ["ó"] = "Ó", ["ô"] = "Ô", ["õ"] = "Õ", ["ú"] = "Ú", ["ç"] = "Ç",
}
local function upper_pt(s)
  s = s:upper()
  return (s:gsub("\195[\128-\191]", function(c) return UPPER_ACCENTS[c] or c end))
end

local function url_decode(s)
  s = s:gsub("%+", " ")
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

local function parse_form(s)
  local t = {}
  if not s or s == "" then return t end
  for pair in s:gmatch("[^&]+") do
    local k, v = pair:match("^([^=]*)=?(.*)$")
    if k and k ~= "" then t[url_decode(k)] = url_decode(v) end
  end
  return t
end

local function trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end

-- Integer from a JSON number or a digit string; nil otherwise.
local function to_int(v)
  if type(v) == "number" then
    if v == floor(v) then return floor(v) end
    return nil
  end
  if type(v) == "string" and v:match("^%s*%-?%d+%s*$") then return floor(tonumber(v)) end
  return nil
end

-- A string as the vendor would read it ("3" and 3 are the same client_id).
local function to_str(v)
  if type(v) == "string" then return v end
  if type(v) == "number" then
    if v == floor(v) then return fmt("%.0f", v) end
    return tostring(v)
  end
  if type(v) == "boolean" then return tostring(v) end
  return nil
end

local function to_bool(v)
  if v == true or v == 1 then return true end
  if type(v) == "string" then
    local l = v:lower()
    return l == "true" or l == "1" or l == "sim" or l == "on"
  end
  return false
end

-- "1,2,3", 1, {1,2} -> set of integers; nil when absent; false when invalid.
local function id_set(v)
  if is_null(v) or v == "" then return nil end
  local set, any = {}, false
  local items = {}
  if type(v) == "table" then items = v
  elseif type(v) == "number" then items = { v }
  elseif type(v) == "string" then
    for p in v:gmatch("[^,]+") do items[#items + 1] = trim(p) end
  else return false end
  for _, it in ipairs(items) do
    local n = to_int(it)
    if not n then return false end
    set[n] = true
    any = true
  end
  if not any then return nil end
  return set
end

local function rel_set(v)
  local set = {}
  if type(v) == "string" then
    for p in v:gmatch("[^,]+") do set[trim(p)] = true end
  elseif type(v) == "table" then
    for _, p in ipairs(v) do if type(p) == "string" then set[trim(p)] = true end end
  end
  return set
end

local function hex(s)
  return (s:gsub(".", function(c) return fmt("%02x", c:byte()) end))
end

local function copy(v)
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = copy(x) end
  return setmetatable(t, getmetatable(v))
end

---------------------------------------------------------------- dates
-- Times are kept as "lt": seconds since 1970 on the wall clock of
-- America/Recife (UTC-3, no DST). The epoch is lt + 3 h.

local RECIFE_OFFSET = 3 * 3600

local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

local function civil_from_days(z)
  z = z + 719468
  local era = floor(z / 146097)
  local doe = z - era * 146097
  local yoe = floor((doe - floor(doe / 1460) + floor(doe / 36524) - floor(doe / 146096)) / 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + floor(yoe / 4) - floor(yoe / 100))
  local mp = floor((5 * doy + 2) / 153)
  local d = doy - floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  if m <= 2 then y = y + 1 end
  return y, m, d
end

local function parts(lt)
  local days = floor(lt / 86400)
  local secs = lt - days * 86400
  local y, m, d = civil_from_days(days)
  return y, m, d, floor(secs / 3600), floor(secs % 3600 / 60), secs % 60
end

local function iso(lt)
  local y, m, d, H, M, S = parts(lt)
  return fmt("%04d-%02d-%02d %02d:%02d:%02d", y, m, d, H, M, S)
end
local function br(lt)
  local y, m, d, H, M = parts(lt)
  return fmt("%02d/%02d/%04d %02d:%02d", d, m, y, H, M)
end
local function br_full(lt)
  local y, m, d, H, M, S = parts(lt)
  return fmt("%02d/%02d/%04d %02d:%02d:%02d", d, m, y, H, M, S)
end
local function br_date(lt)
  local y, m, d = parts(lt)
  return fmt("%02d/%02d/%04d", d, m, y)
end
local function compact(lt)
  local y, m, d, H, M, S = parts(lt)
  return fmt("%04d%02d%02d%02d%02d%02d", y, m, d, H, M, S)
end
local function ms(lt) return (lt + RECIFE_OFFSET) * 1000 end

-- "YYYY-MM-DD" -> day number, or nil when not a real date.
local function parse_day(s)
  if type(s) ~= "string" then return nil end
  local y, m, d = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)$")
  if not y then return nil end
  y, m, d = tonumber(y), tonumber(m), tonumber(d)
  if m < 1 or m > 12 or d < 1 or d > 31 then return nil end
  local z = days_from_civil(y, m, d)
  local y2, m2, d2 = civil_from_days(z)
  if y2 ~= y or m2 ~= m or d2 ~= d then return nil end
  return z
end

local function parse_datetime(s)
  if type(s) ~= "string" then return nil end
  local day = parse_day(s:sub(1, 10))
  local H, M, S = s:match("^....%-..%-.. (%d%d):(%d%d):(%d%d)$")
  if not day or not H then return nil end
  return day * 86400 + tonumber(H) * 3600 + tonumber(M) * 60 + tonumber(S)
end

---------------------------------------------------------------- reference data

local STATUS = {
  { id_atendimento_status = 1, prefixo = "pendente", descricao = "Pendente", cor = "md-amber-700-bg", abrir_ordem_servico = true },
  { id_atendimento_status = 2, prefixo = "em_andamento", descricao = "Em Andamento", cor = "md-blue-500-bg", abrir_ordem_servico = false },
  { id_atendimento_status = 3, prefixo = "em_analise", descricao = "Em Análise", cor = "md-purple-500-bg", abrir_ordem_servico = false },
  { id_atendimento_status = 23, prefixo = "aguardando_analise", descricao = "Aguardando Análise", cor = "md-deep-orange-A700-bg", abrir_ordem_servico = false },
  { id_atendimento_status = 24, prefixo = "resolvido", descricao = "Resolvido", cor = "md-green-600-bg", abrir_ordem_servico = false },
  { id_atendimento_status = 25, prefixo = "cancelado", descricao = "Cancelado", cor = "md-grey-600-bg", abrir_ordem_servico = false },
}
local STATUS_BY_ID, STATUS_BY_PREFIX = {}, {}
for _, s in ipairs(STATUS) do
  STATUS_BY_ID[s.id_atendimento_status] = s
  STATUS_BY_PREFIX[s.prefixo] = s
end

local TIPOS = {
  { id_tipo_atendimento = 1, descricao = "SAC" },
  { id_tipo_atendimento = 28, descricao = "FINANCEIRO" },
  { id_tipo_atendimento = 44, descricao = "INSTALAÇÃO" },
  { id_tipo_atendimento = 125, descricao = "COMERCIAL" },
  { id_tipo_atendimento = 132, descricao = "TÉCNICO - QUEDAS DE CONEXÃO" },
  { id_tipo_atendimento = 150, descricao = "SUPORTE TÉCNICO ESPECIALIZADO" },
}
local TIPO_BY_ID = {}
for _, t in ipairs(TIPOS) do TIPO_BY_ID[t.id_tipo_atendimento] = t end
local TIPO_SAC = 1

local MOTIVOS = {
  { id_motivo_fechamento_atendimento = 1, descricao = "Fechado Automático Atendimento", id_tipo_atendimento = NULL },
  { id_motivo_fechamento_atendimento = 5, descricao = "Problema resolvido", id_tipo_atendimento = NULL },
  { id_motivo_fechamento_atendimento = 108, descricao = "Resolvido remotamente", id_tipo_atendimento = 132 },
  { id_motivo_fechamento_atendimento = 110, descricao = "Cliente não respondeu", id_tipo_atendimento = NULL },
}
local MOTIVO_BY_ID = {}
for _, m in ipairs(MOTIVOS) do MOTIVO_BY_ID[m.id_motivo_fechamento_atendimento] = m end

local DISPONIBILIDADES = {
  { id_disponibilidade = 1, descricao = "Manhã (08:00 às 12:00)", hora_inicio = "08:00", hora_fim = "12:00" },
  { id_disponibilidade = 2, descricao = "Tarde (13:00 às 18:00)", hora_inicio = "13:00", hora_fim = "18:00" },
  { id_disponibilidade = 3, descricao = "Horário comercial", hora_inicio = "08:00", hora_fim = "18:00" },
}

local TECNICOS = {
  { id = 1, name = "SAC (Atendimento)", email = "sac@provedor.com.br", ativo = true },
  { id = 5, name = "João Araújo", email = "joao.araujo@provedor.com.br", ativo = true },
  { id = 10, name = "Maria da Conceição", email = "maria.conceicao@provedor.com.br", ativo = true },
}

local TIPOS_OS = {
  { id_tipo_ordem_servico = 15, descricao = "VISITA TÉCNICA" },
  { id_tipo_ordem_servico = 99, descricao = "ABERTURA VIA API" },
}
local TIPO_OS_BY_ID = {}
for _, t in ipairs(TIPOS_OS) do TIPO_OS_BY_ID[t.id_tipo_ordem_servico] = t end

local CLIENTES = {
  { id_cliente = 24930, codigo_cliente = 1864, nome_razaosocial = "LAVYNIA DE ASSUNÇÃO", cpf_cnpj = "86214941081" },
  { id_cliente = 24931, codigo_cliente = 1204, nome_razaosocial = "BIANCA COUTO ARAÚJO", cpf_cnpj = "12345678901" },
  { id_cliente = 24932, codigo_cliente = 2001, nome_razaosocial = "JOSÉ DA CONCEIÇÃO TELECOMUNICAÇÕES LTDA", cpf_cnpj = "11222333000181" },
}
local CLIENTE_BY_ID = {}
for _, c in ipairs(CLIENTES) do CLIENTE_BY_ID[c.id_cliente] = c end

local SERVICOS = {
  { id_cliente_servico = 17812, id_cliente = 24930, id_servico = 2735, numero_plano = 6,
    nome = "(Migracao-TesteMap) COMBO 10 MEGA - RÁDIO", valor = 99.9,
    status = "Serviço Habilitado", status_prefixo = "servico_habilitado",
    endereco = "RUA PADRE PAULO", numero = "308", bairro = "MÃE CHIQUINHA", cidade = "Santo Antônio do Monte", uf = "MG", cep = "35560000" },
  { id_cliente_servico = 17813, id_cliente = 24930, id_servico = 2801, numero_plano = 7,
    nome = "FIBRA 300 MEGA", valor = 119.9,
    status = "Serviço Habilitado", status_prefixo = "servico_habilitado",
    endereco = "AVENIDA JOÃO PESSOA", numero = "1200", bairro = "CENTRO", cidade = "Santo Antônio do Monte", uf = "MG", cep = "35560000" },
  { id_cliente_servico = 12345, id_cliente = 24931, id_servico = 1999, numero_plano = 9,
    nome = "NEXT-NV_1MBPS", valor = 69.9,
    status = "Serviço Habilitado", status_prefixo = "servico_habilitado",
    endereco = "RUA DA AURORA", numero = "45", bairro = "BOA VISTA", cidade = "Recife", uf = "PE", cep = "50050000" },
  { id_cliente_servico = 20001, id_cliente = 24932, id_servico = 3001, numero_plano = 1,
    nome = "LINK DEDICADO 100 MEGA", valor = 1499,
    status = "Serviço Habilitado", status_prefixo = "servico_habilitado",
    endereco = "AVENIDA CONDE DA BOA VISTA", numero = "800", bairro = "SOLEDADE", cidade = "Recife", uf = "PE", cep = "50060004" },
  { id_cliente_servico = 20002, id_cliente = 24932, id_servico = 3002, numero_plano = 2,
    nome = "FIBRA EMPRESARIAL 500 MEGA", valor = 399.9,
    status = "Suspenso Parcialmente", status_prefixo = "suspenso_parcialmente",
    endereco = "AVENIDA CONDE DA BOA VISTA", numero = "800", bairro = "SOLEDADE", cidade = "Recife", uf = "PE", cep = "50060004" },
}
local SERVICO_BY_ID = {}
for _, s in ipairs(SERVICOS) do SERVICO_BY_ID[s.id_cliente_servico] = s end

local USUARIO_API = "Integração API"
local ID_USUARIO_API = 4903

---------------------------------------------------------------- server state

local DEFAULTS = {
  client_id = "3",
  client_secret = "fake-client-secret-XYZ",
  username = "bot@provedor.com.br",
  password = "s3nh@-Secreta!",
  expires_in = 2592000,
}

local S = {}             -- everything /__control/reset restores
local MAX_RECORDS = 10000
local token_counter = 0  -- never reset: tokens stay unique across resets
local conn_counter = 0
local record_counter = 0
local running = true
local last_activity = now()

local function clock_lt()
  if S.fixed_now then return S.fixed_now end
  return floor(os.time() - RECIFE_OFFSET)
end

local function protocolo_for(id, lt)
  return compact(lt) .. fmt("%06d", (id * 7919 + 123457) % 1000000)
end

local SERVICE_IDS = {}
for i, s in ipairs(SERVICOS) do SERVICE_IDS[i] = s.id_cliente_servico end

local function new_os(t, id, lt, tipo, status)
  return {
    id_ordem_servico = id,
    numero_ordem_servico = id - 20,
    lt_cadastro = lt,
    tipo = tipo or "ABERTURA VIA API",
    lt_inicio_programado = lt + 3600,
    lt_termino_programado = lt + 7200,
    status = status or "aguardando_agendamento",
    status_fechamento = nil,
    descricao = t.descricao,
  }
end

-- N deterministic tickets spread over [d_ini, d_fim] (day numbers).
local function make_seed(n, d_ini, d_fim)
  local tickets = {}
  local span = d_fim - d_ini + 1
  S.next_msg_id, S.next_os_id = 1001, 701
  for i = 1, n do
    local day = d_ini + floor((i - 1) * span / n)
    local lt = day * 86400 + (8 + (i * 7) % 10) * 3600 + ((i * 13) % 60) * 60 + (i * 29) % 60
    local id = 5000 + i
    local kind = i % 5
    local status = ({ [0] = 24, [1] = 23, [2] = 1, [3] = 2, [4] = 23 })[kind]
    local t = {
      id_atendimento = id,
      protocolo = protocolo_for(id, lt),
      id_cliente_servico = SERVICE_IDS[(i - 1) % #SERVICE_IDS + 1],
      id_tipo_atendimento = TIPOS[i % #TIPOS + 1].id_tipo_atendimento,
      id_atendimento_status = status,
      descricao = fmt("Atendimento de teste nº %d: cliente sem conexão desde manhã", i),
      nome = "Solicitante " .. i,
      telefone = fmt("819%08d", 10000000 + i),
      lt_cadastro = lt,
      mensagens = {}, anexos = {}, ordens = {},
    }
    if kind == 2 then
      t.ordens[1] = new_os(t, S.next_os_id, lt)
      S.next_os_id = S.next_os_id + 1
    end
    if kind == 0 then
      t.lt_fechamento = lt + 7200 + (i % 7) * 60
      t.status_fechamento = "concluido"
      t.descricao_fechamento = "Atendimento finalizado via API"
      t.id_motivo_fechamento_atendimento = 5
    end
    if i % 3 == 0 then
      t.mensagens[1] = { id_atendimento_mensagem = S.next_msg_id, mensagem = "Cliente informou que a conexão voltou às " .. (8 + i % 10) .. "h.", lt = lt + 600 }
      S.next_msg_id = S.next_msg_id + 1
    end
    tickets[i] = t
  end
  S.tickets = tickets
  S.by_id = {}
  for _, t in ipairs(tickets) do S.by_id[t.id_atendimento] = t end
  S.next_id = 5000 + n + 1
  S.next_anexo_id = 1
end

local function reset_state()
  S.creds = {
    client_id = DEFAULTS.client_id, client_secret = DEFAULTS.client_secret,
    username = DEFAULTS.username, password = DEFAULTS.password,
  }
  S.expires_in = DEFAULTS.expires_in
  S.fixed_now = nil
  S.tokens = {}
  S.refresh_tokens = {}
  S.faults = {}
  S.records = {}
  S.stats = {
    logins = 0, logins_ok = 0, logins_failed = 0, requests = 0,
    connections = 0, connections_total = 0, unauthorized = 0,
    faults_applied = 0, without_accept_json = 0, tokens_issued = 0,
  }
  make_seed(OPTS.seed_tickets, parse_day("2025-01-01"), parse_day("2025-12-31"))
  S.suporte = nil -- the support desk's state starts afresh (see suporte())
end

---------------------------------------------------------------- tokens

local function rand_hex(n)
  local t = {}
  for i = 1, n do t[i] = fmt("%x", math.random(0, 15)) end
  return concat(t)
end

local function issue_token()
  token_counter = token_counter + 1
  local access = fmt("tok-%d-%s", token_counter, rand_hex(32))
  local refresh = fmt("ref-%d-%s", token_counter, rand_hex(32))
  S.tokens[access] = { expires_at = now() + S.expires_in, refresh = refresh }
  S.refresh_tokens[refresh] = true
  S.stats.tokens_issued = S.stats.tokens_issued + 1
  return access, refresh
end

local function revoke_all()
  local n = 0
  for _, t in pairs(S.tokens) do
    if not t.revoked then n = n + 1 end
    t.revoked = true
  end
  S.refresh_tokens = {}
  return n
end

local function token_valid(tok)
  local t = tok and S.tokens[tok]
  return t ~= nil and not t.revoked and now() < t.expires_at
end

---------------------------------------------------------------- responses

local function json_resp(status, body, headers)
  return { status = status, body = json_encode(body), ctype = "application/json", headers = headers }
end

local function api_error(msg, errors)
  return json_resp(200, { status = "error", msg = msg, errors = array(errors or {}) })
end

local VALIDATION_MSG = "Favor preencher os campos obrigatórios de acordo com as especificações"

local function unauthenticated()
  S.stats.unauthorized = S.stats.unauthorized + 1
  return json_resp(401, { message = "Unauthenticated." })
end

local function not_found()
  return json_resp(404, { message = "Not Found" })
end

---------------------------------------------------------------- record shapes

local function cliente_min(c)
  return { codigo_cliente = c.codigo_cliente, nome_razaosocial = c.nome_razaosocial, cpf_cnpj = c.cpf_cnpj }
end

local function servico_min(s)
  return {
    id_cliente_servico = tostring(s.id_cliente_servico), numero_plano = s.numero_plano,
    nome = s.nome, valor = s.valor, status = s.status, status_prefixo = s.status_prefixo,
  }
end

local function cliente_servico_full(s)
  local c = CLIENTE_BY_ID[s.id_cliente]
  local id_end = 50000 + s.id_cliente_servico % 10000
  return {
    id_cliente_servico = s.id_cliente_servico,
    id_cliente = s.id_cliente,
    id_servico = s.id_servico,
    numero_plano = s.numero_plano,
    display = fmt("(%d) %s", s.numero_plano, upper_pt(s.nome)),
    endereco_numero_completo = fmt("%s, %s - %s, %s/%s | CEP: %s-%s", s.endereco, s.numero, s.bairro,
      upper_pt(s.cidade), s.uf, s.cep:sub(1, 5), s.cep:sub(6)),
    endereco_instalacao = {
      id_cliente_servico_endereco = 70000 + s.id_cliente_servico % 10000,
      id_endereco_numero = id_end,
      id_cliente_servico = s.id_cliente_servico,
      tipo = "instalacao",
      endereco_numero = {
        id_endereco_numero = id_end, numero = s.numero, complemento = NULL,
        coordenadas = { type = "Point", coordinates = array { -45.292858, -20.092926 } },
        ativo = true, bairro = s.bairro, referencia = NULL, endereco = s.endereco, cep = s.cep,
        atualizar_coords_auto = false, id_condominio = NULL,
        cidade = { nome = s.cidade, estado = { sigla = s.uf } },
      },
    },
    servico = {
      id_servico = s.id_servico, descricao = s.nome, id_servico_grupo = 51,
      servico_grupo = { id_servico_grupo = 51, descricao = "GRUPO DE TESTE", data_cadastro = "2020-04-15 13:52:01", ativo = true },
    },
    cliente = {
      id_cliente = c.id_cliente, ativo = true, codigo_cliente = c.codigo_cliente,
      nome_razaosocial = c.nome_razaosocial, cpf_cnpj = c.cpf_cnpj,
      display = fmt("(%d) %s", c.codigo_cliente, c.nome_razaosocial),
    },
  }
end

local function minutes_open(t)
  local stop = t.lt_fechamento or clock_lt()
  local m = floor((stop - t.lt_cadastro) / 60)
  if m < 0 then m = 0 end
  return m
end

local function tempo_restante(t)
  local rem = 24 * 60 - minutes_open(t)
  local sign = rem < 0 and "-" or ""
  if rem < 0 then rem = -rem end
  return fmt("%s%dh %dmin", sign, floor(rem / 60), rem % 60)
end

local function messages_list(t)
  local out = array()
  for i = #t.mensagens, 1, -1 do      -- newest first, as in the reference
    local m = t.mensagens[i]
    out[#out + 1] = {
      id_atendimento_mensagem = m.id_atendimento_mensagem, id_atendimento = t.id_atendimento,
      mensagem = m.mensagem, data_cadastro_br = br(m.lt), data_cadastro_timestamp = ms(m.lt),
    }
  end
  return out
end

local function os_counts(t)
  local open, closed = 0, 0
  for _, o in ipairs(t.ordens) do
    if o.status == "finalizado" then closed = closed + 1 else open = open + 1 end
  end
  return open, closed
end

-- Shape of the paginated lists (todos, paginado).
local function list_record(t, rel)
  local st = STATUS_BY_ID[t.id_atendimento_status]
  local tipo = TIPO_BY_ID[t.id_tipo_atendimento]
  local closed = t.lt_fechamento ~= nil
  local open_os, closed_os = os_counts(t)
  local r = {
    id_atendimento = t.id_atendimento,
    id_atendimento_status = t.id_atendimento_status,
    id_tipo_atendimento = t.id_tipo_atendimento,
    id_cliente_servico = t.id_cliente_servico,
    id_usuario_responsavel = t.id_usuario_responsavel or NULL,
    id_usuario_abertura = ID_USUARIO_API,
    protocolo = t.protocolo,
    -- no descricao_abertura: the vendor's list records do not carry it
    data_cadastro = iso(t.lt_cadastro),
    data_fechamento = closed and iso(t.lt_fechamento) or NULL,
    rascunho = false,
    status_fechamento = t.status_fechamento or NULL,
    descricao_fechamento = t.descricao_fechamento or NULL,
    id_motivo_fechamento_atendimento = t.id_motivo_fechamento_atendimento or NULL,
    deleted_at = NULL, avaliacao = NULL, comentario_avaliacao = NULL,
    ordem_servico_count = #t.ordens, ordem_servico_fechada = closed_os, ordem_servico_aberta = open_os,
    ingressado = false,
    data_cadastro_br = br(t.lt_cadastro),
    data_cadastro_timestamp = ms(t.lt_cadastro),
    data_fechamento_br = closed and br(t.lt_fechamento) or NULL,
    data_fechamento_timestamp = closed and ms(t.lt_fechamento) or NULL,
    minutos_em_aberto = minutes_open(t),
    tempo_restante = tempo_restante(t),
    percentual_tempo_restante = 0,
    percentual_color_class = "white-fg md-red-bg",
    status = {
      id_atendimento_status = st.id_atendimento_status, prefixo = st.prefixo, descricao = st.descricao,
      cor = st.cor, abrir_ordem_servico = st.abrir_ordem_servico, display = st.descricao,
    },
    tipo_atendimento = { id_tipo_atendimento = tipo.id_tipo_atendimento, descricao = tipo.descricao, checklists = array() },
  }
  if rel.cliente_servico then r.cliente_servico = cliente_servico_full(SERVICO_BY_ID[t.id_cliente_servico]) end
  if rel.usuarios_responsaveis then r.usuarios_responsaveis = array() end
  if rel.atendimento_mensagem then r.atendimento_mensagem = messages_list(t) end
  if rel.checklists then r.checklists = array() end
  return r
end

-- Encoding is the server's main cost on big pages: keep each ticket's
-- encoded list record per relation set until the ticket changes or the
-- minute turns (minutos_em_aberto, tempo_restante).
local function list_record_json(t, rel, rel_key)
  local minute = floor(clock_lt() / 60)
  if t.cache_minute ~= minute then
    t.cache, t.cache_minute = {}, minute
  end
  local text = t.cache[rel_key]
  if not text then
    text = json_encode(list_record(t, rel))
    t.cache[rel_key] = text
  end
  return raw_json(text)
end

local function rel_key_of(rel)
  local keys = {}
  for k in pairs(rel) do keys[#keys + 1] = k end
  table.sort(keys)
  return concat(keys, ",")
end

local function touch(t) t.cache, t.cache_minute = nil, nil end

local function os_record(t, o)
  local s = SERVICO_BY_ID[t.id_cliente_servico]
  local c = CLIENTE_BY_ID[s.id_cliente]
  local done = o.status == "finalizado"
  return {
    id_ordem_servico = o.id_ordem_servico,
    numero_ordem_servico = tostring(o.numero_ordem_servico),
    data_cadastro = br_full(o.lt_cadastro),
    tipo = o.tipo,
    data_inicio_programado = br_full(o.lt_inicio_programado),
    data_termino_programado = br_full(o.lt_termino_programado),
    data_inicio_executado = done and br_full(o.lt_inicio_programado) or NULL,
    data_termino_executado = done and br_full(o.lt_fechamento or o.lt_termino_programado) or NULL,
    descricao_abertura = o.descricao,
    descricao_servico = o.descricao,
    descricao_fechamento = o.descricao_fechamento or NULL,
    usuario_abertura = USUARIO_API,
    usuario_fechamento = done and USUARIO_API or NULL,
    status = o.status,
    status_fechamento = o.status_fechamento or NULL,
    cliente = cliente_min(c),
    servico = servico_min(s),
  }
end

-- Shape of cliente/atendimento and of the create answer (status is a label).
local function client_record(t, rel)
  local s = SERVICO_BY_ID[t.id_cliente_servico]
  local c = CLIENTE_BY_ID[s.id_cliente]
  local closed = t.lt_fechamento ~= nil
  local motivo = t.id_motivo_fechamento_atendimento and MOTIVO_BY_ID[t.id_motivo_fechamento_atendimento]
  local ordens = array()
  for _, o in ipairs(t.ordens) do ordens[#ordens + 1] = os_record(t, o) end
  local r = {
    id_atendimento = t.id_atendimento,
    protocolo = t.protocolo,
    descricao_abertura = t.descricao,
    descricao_fechamento = t.descricao_fechamento or NULL,
    tipo_atendimento = TIPO_BY_ID[t.id_tipo_atendimento].descricao,
    usuario_abertura = USUARIO_API,
    usuario_responsavel = USUARIO_API,
    usuario_fechamento = closed and USUARIO_API or NULL,
    data_cadastro = br_date(t.lt_cadastro),
    data_fechamento = closed and br_date(t.lt_fechamento) or NULL,
    setor_responsavel = NULL,
    status_fechamento = t.status_fechamento or NULL,
    motivo_fechamento = motivo and motivo.descricao or NULL,
    status = STATUS_BY_ID[t.id_atendimento_status].descricao,
    cliente = cliente_min(c),
    servico = servico_min(s),
    ordens_servico = ordens,
  }
  if rel and rel.atendimento_mensagem then r.atendimento_mensagem = messages_list(t) end
  if rel and rel.checklists then r.checklists = array() end
  return r
end

-- Shape of the PUT answer (the bare model).
local function flat_record(t)
  local closed = t.lt_fechamento ~= nil
  return {
    id_atendimento = t.id_atendimento,
    protocolo = t.protocolo,
    id_cliente_servico = t.id_cliente_servico,
    id_tipo_atendimento = t.id_tipo_atendimento,
    id_usuario_abertura = ID_USUARIO_API,
    id_usuario_fechamento = closed and ID_USUARIO_API or NULL,
    descricao_abertura = t.descricao,
    descricao_fechamento = t.descricao_fechamento or NULL,
    data_cadastro = iso(t.lt_cadastro),
    data_fechamento = closed and iso(t.lt_fechamento) or NULL,
    ip_cadastro = NULL,
    id_usuario_responsavel = t.id_usuario_responsavel or NULL,
    id_setor_responsavel = NULL,
    destino = "usuario",
    status_fechamento = t.status_fechamento or NULL,
    id_motivo_fechamento_atendimento = t.id_motivo_fechamento_atendimento or NULL,
    id_atendimento_status = t.id_atendimento_status,
    resultado_diagnostico = NULL,
    nome_contato = t.nome,
    telefone_contato = t.telefone,
    email_contato = t.email or NULL,
    rascunho = false,
    deleted_at = NULL,
    id_origem_contato = t.id_origem_contato or NULL,
    avaliacao = NULL,
    comentario_avaliacao = NULL,
    push_notification_enviado = false,
    data_cadastro_br = br(t.lt_cadastro),
    data_cadastro_timestamp = ms(t.lt_cadastro),
    data_fechamento_br = closed and br(t.lt_fechamento) or NULL,
    data_fechamento_timestamp = closed and ms(t.lt_fechamento) or NULL,
    minutos_em_aberto = minutes_open(t),
    tempo_restante = tempo_restante(t),
    percentual_tempo_restante = 0,
    percentual_color_class = "white-fg md-red-bg",
  }
end

-- Full internal view for /__control/state.
local function state_record(t)
  local msgs, anexos, ordens = array(), array(), array()
  for _, m in ipairs(t.mensagens) do
    msgs[#msgs + 1] = { id_atendimento_mensagem = m.id_atendimento_mensagem, mensagem = m.mensagem, data_cadastro = iso(m.lt) }
  end
  for _, a in ipairs(t.anexos) do
    anexos[#anexos + 1] = {
      id_anexo = a.id, campo = a.campo, nome = a.nome, tipo = a.tipo, tamanho = a.tamanho,
      checksum = a.checksum, data_hex = a.data and hex(a.data) or NULL,
    }
  end
  for _, o in ipairs(t.ordens) do ordens[#ordens + 1] = os_record(t, o) end
  local st = STATUS_BY_ID[t.id_atendimento_status]
  return {
    id_atendimento = t.id_atendimento, protocolo = t.protocolo,
    id_cliente_servico = t.id_cliente_servico, id_tipo_atendimento = t.id_tipo_atendimento,
    id_atendimento_status = t.id_atendimento_status, status = st.prefixo,
    descricao = t.descricao, nome = t.nome, telefone = t.telefone, email = t.email or NULL,
    id_usuario_responsavel = t.id_usuario_responsavel or NULL,
    id_origem_contato = t.id_origem_contato or NULL,
    id_disponibilidade = t.id_disponibilidade or NULL,
    abrir_os = t.abrir_os or false,
    data_cadastro = iso(t.lt_cadastro),
    data_fechamento = t.lt_fechamento and iso(t.lt_fechamento) or NULL,
    fechado = t.lt_fechamento ~= nil,
    status_fechamento = t.status_fechamento or NULL,
    descricao_fechamento = t.descricao_fechamento or NULL,
    id_motivo_fechamento_atendimento = t.id_motivo_fechamento_atendimento or NULL,
    parametros = t.parametros or NULL,
    parametros_ordem_servico = t.parametros_ordem_servico or NULL,
    parametros_fechamento = t.parametros_fechamento or NULL,
    edicoes = t.edicoes or 0,
    mensagens = msgs, anexos = anexos, ordens_servico = ordens,
  }
end

---------------------------------------------------------------- request params

local function body_params(req)
  if req.params_cache then return req.params_cache end
  local ct = (req.headers["content-type"] or ""):lower()
  local p
  if ct:find("application/x-www-form-urlencoded", 1, true) then
    p = parse_form(req.body)
  elseif req.body ~= "" then
    p = json_decode(req.body)
    if type(p) ~= "table" then p = nil end
    if not p and not ct:find("json", 1, true) and req.body:find("=", 1, true) then p = parse_form(req.body) end
  end
  req.params_cache = p or {}
  req.body_invalid = (p == nil and req.body ~= "")
  return req.params_cache
end

local function get(p, k)
  local v = p[k]
  if v == NULL then return nil end
  return v
end

local function nonempty_string(v)
  v = to_str(v)
  return v ~= nil and trim(v) ~= ""
end

---------------------------------------------------------------- auth route

local function route_login(req)
  S.stats.logins = S.stats.logins + 1
  local p = body_params(req)
  local grant = get(p, "grant_type")
  local function failed(status, t)
    S.stats.logins_failed = S.stats.logins_failed + 1
    return json_resp(status, t)
  end
  if is_null(grant) or grant == "" then
    return failed(400, {
      error = "invalid_request",
      error_description = "The request is missing a required parameter, includes an invalid parameter value, includes a parameter more than once, or is otherwise malformed.",
      hint = "Check the `grant_type` parameter",
      message = "The request is missing a required parameter, includes an invalid parameter value, includes a parameter more than once, or is otherwise malformed.",
    })
  end
  if grant ~= "password" then
    return failed(400, {
      error = "unsupported_grant_type",
      error_description = "The authorization grant type is not supported by the authorization server.",
      hint = "Check that all required parameters have been provided",
      message = "The authorization grant type is not supported by the authorization server.",
    })
  end
  for _, k in ipairs { "client_id", "client_secret", "username", "password" } do
    local v = to_str(get(p, k))
    if not v or v == "" then
      return failed(400, {
        error = "invalid_request",
        error_description = "The request is missing a required parameter, includes an invalid parameter value, includes a parameter more than once, or is otherwise malformed.",
        hint = "Check the `" .. k .. "` parameter",
        message = "The request is missing a required parameter, includes an invalid parameter value, includes a parameter more than once, or is otherwise malformed.",
      })
    end
  end
  for _, k in ipairs { "client_id", "client_secret", "username", "password" } do
    if to_str(get(p, k)) ~= S.creds[k] then
      return failed(401, {
        error = "invalid_credentials",
        error_description = "The user credentials were incorrect.",
        message = "The user credentials were incorrect.",
      })
    end
  end
  S.stats.logins_ok = S.stats.logins_ok + 1
  local access, refresh = issue_token()
  return json_resp(200, {
    token_type = "Bearer", expires_in = S.expires_in, access_token = access, refresh_token = refresh,
  })
end

---------------------------------------------------------------- ticket routes

local function find_ticket(id_str)
  if type(id_str) ~= "string" or not id_str:match("^%d+$") then return nil end
  return S.by_id[tonumber(id_str)]
end

local function first_object(v)
  if type(v) ~= "table" then return nil end
  if v[1] ~= nil then
    if type(v[1]) == "table" then return v[1] end
    return nil
  end
  return v
end

local function route_create(req)
  local p = body_params(req)
  if req.body_invalid then return api_error(VALIDATION_MSG, { "O corpo da requisição não é um JSON válido." }) end
  local errors = {}
  local id_cs = to_int(get(p, "id_cliente_servico"))
  if is_null(get(p, "id_cliente_servico")) then
    errors[#errors + 1] = "O campo id_cliente_servico é obrigatório."
  elseif not id_cs or not SERVICO_BY_ID[id_cs] then
    errors[#errors + 1] = "O campo id_cliente_servico selecionado é inválido."
  end
  for _, k in ipairs { "descricao", "nome", "telefone" } do
    if not nonempty_string(get(p, k)) then errors[#errors + 1] = "O campo " .. k .. " é obrigatório." end
  end
  local tel = to_str(get(p, "telefone"))
  if tel and trim(tel) ~= "" and not (tel:match("^%d+$") and (#tel == 10 or #tel == 11)) then
    errors[#errors + 1] = "O campo telefone deve estar no formato DDNNNNNNNNN."
  end
  local email = get(p, "email")
  if not is_null(email) and email ~= "" and not (type(email) == "string" and email:match("^[^@%s]+@[^@%s]+%.[^@%s]+$")) then
    errors[#errors + 1] = "O campo email deve ser um endereço de e-mail válido."
  end
  local id_tipo = get(p, "id_tipo_atendimento")
  if not is_null(id_tipo) then
    id_tipo = to_int(id_tipo)
    if not id_tipo or not TIPO_BY_ID[id_tipo] then errors[#errors + 1] = "O campo id_tipo_atendimento selecionado é inválido." end
  end
  local id_status = get(p, "id_atendimento_status")
  if not is_null(id_status) then
    id_status = to_int(id_status)
    if not id_status or not STATUS_BY_ID[id_status] then errors[#errors + 1] = "O campo id_atendimento_status selecionado é inválido." end
  end
  if #errors > 0 then return api_error(VALIDATION_MSG, errors) end

  local abrir_os = to_bool(get(p, "abrir_os"))
  local lt = clock_lt()
  local id = S.next_id
  S.next_id = id + 1
  local t = {
    id_atendimento = id,
    protocolo = protocolo_for(id, lt),
    id_cliente_servico = id_cs,
    id_tipo_atendimento = id_tipo or TIPO_SAC,
    id_atendimento_status = id_status or (abrir_os and STATUS_BY_PREFIX.pendente.id_atendimento_status
      or STATUS_BY_PREFIX.aguardando_analise.id_atendimento_status),
    descricao = to_str(get(p, "descricao")),
    nome = to_str(get(p, "nome")),
    telefone = tel,
    email = (not is_null(email) and email ~= "") and email or nil,
    id_usuario_responsavel = to_int(get(p, "id_usuario_responsavel")) or to_str(get(p, "id_usuario_responsavel")),
    id_origem_contato = to_int(get(p, "id_origem_contato")),
    id_disponibilidade = to_str(get(p, "id_disponibilidade")),
    abrir_os = abrir_os,
    parametros = copy(get(p, "parametros")),
    parametros_ordem_servico = copy(get(p, "parametros_ordem_servico")),
    parametros_fechamento = copy(get(p, "parametros_fechamento")),
    lt_cadastro = lt,
    mensagens = {}, anexos = {}, ordens = {},
  }
  if abrir_os then
    local pos = first_object(t.parametros_ordem_servico) or {}
    local tipo_os = TIPO_OS_BY_ID[to_int(get(pos, "id_tipo_ordem_servico")) or 99]
    local status_os = to_str(get(pos, "status"))
    t.ordens[1] = new_os(t, S.next_os_id, lt, tipo_os and tipo_os.descricao or "ABERTURA VIA API",
      (status_os and status_os ~= "") and status_os or "aguardando_agendamento")
    S.next_os_id = S.next_os_id + 1
  end
  S.tickets[#S.tickets + 1] = t
  S.by_id[id] = t
  local msg = "Atendimento aberto com sucesso. Anote o protocolo: " .. t.protocolo
  if abrir_os then msg = msg .. ". Foi aberto também uma ordem de serviço e encaminhada ao sertor responsável" end
  return json_resp(200, { status = "success", msg = msg, atendimento = client_record(t) })
end

local function route_edit(req, id_str)
  local t = find_ticket(id_str)
  if not t then return api_error("Atendimento não encontrado", { "O atendimento " .. tostring(id_str) .. " não existe." }) end
  local p = body_params(req)
  if req.body_invalid then return api_error(VALIDATION_MSG, { "O corpo da requisição não é um JSON válido." }) end
  if t.lt_fechamento then
    return api_error("Não é possível editar um atendimento já fechado", { "O atendimento " .. t.id_atendimento .. " já está fechado." })
  end
  local fechar = to_bool(get(p, "fechar_atendimento"))
  local id_status, id_tipo = get(p, "id_atendimento_status"), get(p, "id_tipo_atendimento")
  if fechar and not is_null(id_status) then
    return api_error("Não é possível alterar o status e fechar o atendimento ao mesmo tempo",
      { "Para fechar o atendimento não envie o campo id_atendimento_status." })
  end
  if fechar and not is_null(id_tipo) then
    return api_error("Não é possível alterar o tipo e fechar o atendimento ao mesmo tempo",
      { "Para fechar o atendimento não envie o campo id_tipo_atendimento." })
  end
  local errors = {}
  if not is_null(id_status) then
    id_status = to_int(id_status)
    if not id_status or not STATUS_BY_ID[id_status] then errors[#errors + 1] = "O campo id_atendimento_status selecionado é inválido." end
  end
  if not is_null(id_tipo) then
    id_tipo = to_int(id_tipo)
    if not id_tipo or not TIPO_BY_ID[id_tipo] then errors[#errors + 1] = "O campo id_tipo_atendimento selecionado é inválido." end
  end
  local descricao = get(p, "descricao")
  if not is_null(descricao) and not nonempty_string(descricao) then errors[#errors + 1] = "O campo descricao deve ser um texto não vazio." end
  if #errors > 0 then return api_error(VALIDATION_MSG, errors) end

  if not is_null(descricao) then t.descricao = to_str(descricao) end
  if not is_null(id_status) then t.id_atendimento_status = id_status end
  if not is_null(id_tipo) then t.id_tipo_atendimento = id_tipo end
  if not is_null(get(p, "parametros")) then t.parametros = copy(get(p, "parametros")) end
  t.edicoes = (t.edicoes or 0) + 1
  touch(t)
  if fechar then
    local pf = first_object(get(p, "parametros_fechamento")) or {}
    t.parametros_fechamento = copy(get(p, "parametros_fechamento")) or t.parametros_fechamento
    local lt = clock_lt()
    if lt < t.lt_cadastro then lt = t.lt_cadastro end
    t.lt_fechamento = lt
    t.status_fechamento = to_str(get(pf, "status_fechamento")) or "concluido"
    t.descricao_fechamento = to_str(get(pf, "descricao_fechamento")) or "Atendimento finalizado via API"
    t.id_motivo_fechamento_atendimento = to_int(get(pf, "id_motivo_fechamento"))
      or to_int(get(pf, "id_motivo_fechamento_atendimento")) or 1
    t.id_atendimento_status = STATUS_BY_PREFIX.resolvido.id_atendimento_status
    for _, o in ipairs(t.ordens) do
      if o.status ~= "finalizado" then
        o.status = "finalizado"
        o.status_fechamento = "concluido"
        o.descricao_fechamento = t.descricao_fechamento
        o.lt_fechamento = lt
      end
    end
  end
  return json_resp(200, { status = "success", msg = "Atendimento atualizado com sucesso", atendimento = flat_record(t) })
end

local function route_add_message(req, id_str)
  local t = find_ticket(id_str)
  if not t then return api_error("Atendimento não encontrado", { "O atendimento " .. tostring(id_str) .. " não existe." }) end
  local p = body_params(req)
  local m = get(p, "mensagem")
  if not nonempty_string(m) then return api_error(VALIDATION_MSG, { "O campo mensagem é obrigatório." }) end
  if t.lt_fechamento then
    return api_error("Não é possível adicionar mensagem a um atendimento fechado", { "O atendimento " .. t.id_atendimento .. " já está fechado." })
  end
  local lt = clock_lt()
  local msg = { id_atendimento_mensagem = S.next_msg_id, mensagem = to_str(m), lt = lt }
  S.next_msg_id = S.next_msg_id + 1
  t.mensagens[#t.mensagens + 1] = msg
  touch(t)
  return json_resp(200, {
    status = "success", msg = "Mensagem adicionada com sucesso",
    mensagem = {
      id_atendimento_mensagem = msg.id_atendimento_mensagem, id_atendimento = t.id_atendimento,
      mensagem = msg.mensagem,
      data_cadastro = { date = iso(lt) .. ".000000", timezone_type = 3, timezone = "America/Recife" },
    },
  })
end

-- Binary-safe multipart/form-data parser. Returns a list of
-- {name, filename, content_type, data} or nil, reason.
local function parse_multipart(body, ctype)
  local boundary = ctype:match('[Bb][Oo][Uu][Nn][Dd][Aa][Rr][Yy]="([^"]+)"')
    or ctype:match("[Bb][Oo][Uu][Nn][Dd][Aa][Rr][Yy]=([^;%s]+)")
  if not boundary then return nil, "no boundary" end
  local delim = "--" .. boundary
  local list = {}
  local s = body:find(delim, 1, true)
  if not s then return nil, "no opening boundary" end
  local pos = s + #delim
  while true do
    if body:sub(pos, pos + 1) == "--" then return list end
    local le = body:find("\r\n", pos, true)
    if not le then return nil, "malformed boundary line" end
    local hs = le + 2
    local head, ds
    if body:sub(hs, hs + 1) == "\r\n" then
      head, ds = "", hs + 2
    else
      local he = body:find("\r\n\r\n", hs, true)
      if not he then return nil, "unterminated part headers" end
      head, ds = body:sub(hs, he - 1), he + 4
    end
    local nd = body:find("\r\n" .. delim, ds, true)
    if not nd then return nil, "unterminated part" end
    local part = { data = body:sub(ds, nd - 1) }
    for line in (head .. "\r\n"):gmatch("(.-)\r\n") do
      local k, v = line:match("^([^:]+):%s*(.*)$")
      if k then
        k = k:lower()
        if k == "content-disposition" then
          part.name = v:match('[; ]name="([^"]*)"') or v:match("[; ]name=([^;%s]+)")
          part.filename = v:match('[; ]filename="([^"]*)"') or v:match("[; ]filename=([^;%s]+)")
        elseif k == "content-type" then
          part.content_type = v
        end
      end
    end
    list[#list + 1] = part
    pos = nd + 2 + #delim
  end
end

local function multipart_of(req)
  if req.multipart ~= nil then return req.multipart or nil, req.multipart_err end
  local ct = req.headers["content-type"] or ""
  if not ct:lower():find("^%s*multipart/form%-data") then
    req.multipart, req.multipart_err = false, "not multipart"
    return nil, req.multipart_err
  end
  local ok, list, err = pcall(parse_multipart, req.body, ct)
  if not ok or not list then
    req.multipart, req.multipart_err = false, ok and err or "parser error"
    return nil, req.multipart_err
  end
  req.multipart = list
  return list
end

local function checksum(data)
  return fmt("%d:%s:%s", #data, hex(data:sub(1, 16)), hex(data:sub(-16)))
end

local function route_add_attachment(req, id_str)
  local t = find_ticket(id_str)
  if not t then return api_error("Atendimento não encontrado", { "O atendimento " .. tostring(id_str) .. " não existe." }) end
  local list = multipart_of(req)
  local files = {}
  for _, part in ipairs(list or {}) do
    if part.name and part.name:match("^files") then files[#files + 1] = part end
  end
  if #files == 0 then return api_error(VALIDATION_MSG, { "O campo files é obrigatório." }) end
  local out = array()
  for _, part in ipairs(files) do
    local a = {
      id = S.next_anexo_id, campo = part.name, nome = part.filename or part.name,
      tipo = part.content_type or "application/octet-stream", tamanho = #part.data,
      checksum = checksum(part.data),
      data = (#part.data <= 65536) and part.data or nil,
    }
    S.next_anexo_id = S.next_anexo_id + 1
    t.anexos[#t.anexos + 1] = a
    out[#out + 1] = { campo = a.campo, nome = a.nome, tipo = a.tipo, tamanho = a.tamanho }
  end
  return json_resp(200, {
    status = "success", msg = "Anexo Adicionado com sucesso",
    atendimento = { id_atendimento = t.id_atendimento, protocolo = t.protocolo },
    anexos = out,
  })
end

-- Common filters of the paginated queries; returns list or nil, error response.
local function filter_tickets(p, dates_required)
  local di, df = get(p, "data_inicio"), get(p, "data_fim")
  local errors = {}
  if dates_required then
    if is_null(di) or di == "" then errors[#errors + 1] = "O campo data_inicio é obrigatório." end
    if is_null(df) or df == "" then errors[#errors + 1] = "O campo data_fim é obrigatório." end
  end
  local d1, d2
  if not is_null(di) and di ~= "" then
    d1 = parse_day(di)
    if not d1 then errors[#errors + 1] = "O campo data_inicio deve ser uma data válida no formato YYYY-MM-DD." end
  end
  if not is_null(df) and df ~= "" then
    d2 = parse_day(df)
    if not d2 then errors[#errors + 1] = "O campo data_fim deve ser uma data válida no formato YYYY-MM-DD." end
  end
  if d1 and d2 and d2 < d1 then errors[#errors + 1] = "O campo data_fim deve ser uma data posterior ou igual a data_inicio." end
  local tipos = id_set(get(p, "tipo_atendimento"))
  if tipos == false then errors[#errors + 1] = "O campo tipo_atendimento deve conter ids separados por vírgula." end
  local status = id_set(get(p, "status_atendimento"))
  if status == false then errors[#errors + 1] = "O campo status_atendimento deve conter ids separados por vírgula." end
  local servicos = id_set(get(p, "id_servico"))
  if servicos == false then errors[#errors + 1] = "O campo id_servico deve conter ids." end
  if #errors > 0 then return nil, api_error(VALIDATION_MSG, errors) end
  local out = {}
  for _, t in ipairs(S.tickets) do
    local day = floor(t.lt_cadastro / 86400)
    if (not d1 or day >= d1) and (not d2 or day <= d2)
      and (not tipos or tipos[t.id_tipo_atendimento])
      and (not status or status[t.id_atendimento_status])
      and (not servicos or servicos[SERVICO_BY_ID[t.id_cliente_servico].id_servico]) then
      out[#out + 1] = t
    end
  end
  table.sort(out, function(a, b) return a.id_atendimento < b.id_atendimento end)
  return out
end

local function route_todos(req)
  local p = req.q
  local pagina = is_null(get(p, "pagina")) and 0 or to_int(get(p, "pagina"))
  local per = is_null(get(p, "itens_por_pagina")) and 20 or to_int(get(p, "itens_por_pagina"))
  local errors = {}
  if not pagina or pagina < 0 then errors[#errors + 1] = "O campo pagina deve ser um número inteiro maior ou igual a 0." end
  if not per or per < 1 or per > 500 then errors[#errors + 1] = "O campo itens_por_pagina deve estar entre 1 e 500." end
  if #errors > 0 then return api_error(VALIDATION_MSG, errors) end
  local list, err = filter_tickets(p, false)
  if not list then return err end
  local rel = rel_set(get(p, "relacoes"))
  local rk = rel_key_of(rel)
  local total = #list
  local last = total == 0 and 0 or floor((total - 1) / per)
  local items = array()
  for i = pagina * per + 1, math.min(total, (pagina + 1) * per) do
    items[#items + 1] = list_record_json(list[i], rel, rk)
  end
  return json_resp(200, {
    status = "success", msg = "Dados consultados com sucesso",
    paginacao = { primeira_pagina = 0, ultima_pagina = last, pagina_atual = pagina, total_registros = total },
    atendimentos = items,
  })
end

local function route_paginado(req, qty_str)
  local p
  if req.method == "GET" then
    p = req.q
  else
    p = body_params(req)
    if req.body_invalid then return api_error(VALIDATION_MSG, { "O corpo da requisição não é um JSON válido." }) end
    for k, v in pairs(req.q) do if p[k] == nil then p[k] = v end end
  end
  local per = qty_str:match("^%d+$") and tonumber(qty_str)
  if not per or per < 1 or per > 500 then
    return api_error(VALIDATION_MSG, { "A quantidade de itens por página deve estar entre 1 e 500." })
  end
  -- The vendor's route is a Laravel paginator: the page comes only from
  -- ?page=N in the query string, from 1 (anything else reads as page 1);
  -- `pagina`, in the body or the query, is ignored.
  local pagina = to_int(req.q.page)
  if not pagina or pagina < 1 then pagina = 1 end
  local list, err = filter_tickets(p, true)
  if not list then return err end
  local rel = rel_set(get(p, "relacoes"))
  local total = #list
  local last = math.max(1, floor((total + per - 1) / per))
  local items = array()
  local first = (pagina - 1) * per + 1
  local rk = rel_key_of(rel)
  for i = first, math.min(total, pagina * per) do items[#items + 1] = list_record_json(list[i], rel, rk) end
  local host = req.headers.host or (OPTS.host .. ":" .. tostring(S.port))
  local path = "http://" .. host .. req.path
  local other = "http://outro-host.invalid" .. req.path
  return json_resp(200, {
    status = "success", msg = "Dados consultados com sucesso",
    atendimentos = {
      current_page = pagina,
      data = items,
      first_page_url = path .. "?page=1",
      from = #items > 0 and first or NULL,
      last_page = last,
      last_page_url = path .. "?page=" .. last,
      next_page_url = pagina < last and (other .. "?page=" .. (pagina + 1)) or NULL,
      path = path,
      per_page = per,
      prev_page_url = pagina > 1 and (other .. "?page=" .. (pagina - 1)) or NULL,
      to = #items > 0 and (first + #items - 1) or NULL,
      total = total,
    },
  })
end

local BUSCAS = { codigo_cliente = true, cpf_cnpj = true, id_cliente_servico = true, protocolo = true }

local function route_cliente_atendimento(req)
  local p = req.q
  local busca, termo = get(p, "busca"), get(p, "termo_busca")
  local errors = {}
  if is_null(busca) or busca == "" then errors[#errors + 1] = "O campo busca é obrigatório."
  elseif not BUSCAS[busca] then errors[#errors + 1] = "O campo busca selecionado é inválido." end
  if is_null(termo) or termo == "" then errors[#errors + 1] = "O campo termo_busca é obrigatório." end
  local limit = is_null(get(p, "limit")) and 20 or to_int(get(p, "limit"))
  if not limit or limit < 1 or limit > 50 then errors[#errors + 1] = "O campo limit deve estar entre 1 e 50." end
  local pend = get(p, "apenas_pendente") or "sim"
  if pend ~= "sim" and pend ~= "nao" then errors[#errors + 1] = "O campo apenas_pendente deve ser sim ou nao." end
  local order_by = get(p, "order_by") or "data_cadastro"
  if order_by ~= "data_cadastro" and order_by ~= "data_fechamento" then errors[#errors + 1] = "O campo order_by selecionado é inválido." end
  local order_type = get(p, "order_type") or "asc"
  if order_type ~= "asc" and order_type ~= "desc" then errors[#errors + 1] = "O campo order_type selecionado é inválido." end
  local d1, d2
  if not is_null(get(p, "data_inicio")) then
    d1 = parse_day(get(p, "data_inicio"))
    if not d1 then errors[#errors + 1] = "O campo data_inicio deve ser uma data válida no formato YYYY-MM-DD." end
  end
  if not is_null(get(p, "data_fim")) then
    d2 = parse_day(get(p, "data_fim"))
    if not d2 then errors[#errors + 1] = "O campo data_fim deve ser uma data válida no formato YYYY-MM-DD." end
  end
  if #errors > 0 then return api_error(VALIDATION_MSG, errors) end

  local digits = termo:gsub("%D", "")
  local function matches(t)
    local s = SERVICO_BY_ID[t.id_cliente_servico]
    local c = CLIENTE_BY_ID[s.id_cliente]
    if busca == "codigo_cliente" then return tostring(c.codigo_cliente) == termo
    elseif busca == "cpf_cnpj" then return digits ~= "" and c.cpf_cnpj == digits
    elseif busca == "id_cliente_servico" then return tostring(t.id_cliente_servico) == termo
    else return t.protocolo == termo end
  end
  local list = {}
  for _, t in ipairs(S.tickets) do
    local day = floor(t.lt_cadastro / 86400)
    if matches(t) and (pend == "nao" or not t.lt_fechamento)
      and (not d1 or day >= d1) and (not d2 or day <= d2) then
      list[#list + 1] = t
    end
  end
  local key = order_by == "data_fechamento" and "lt_fechamento" or "lt_cadastro"
  table.sort(list, function(a, b)
    local x, y = a[key] or -1, b[key] or -1
    if x == y then
      if order_type == "desc" then return a.id_atendimento > b.id_atendimento end
      return a.id_atendimento < b.id_atendimento
    end
    if order_type == "desc" then return x > y end
    return x < y
  end)
  local rel = rel_set(get(p, "relacoes"))
  local out = array()
  for i = 1, math.min(limit, #list) do out[i] = client_record(list[i], rel) end
  return json_resp(200, { status = "suscess", msg = "Dados consultados com sucesso", atendimentos = out })
end

local function route_configuracao(req, recurso)
  local ok = { status = "success", msg = "Dados consultados com sucesso" }
  if recurso == "status_atendimento" then
    local l = array()
    for _, s in ipairs(STATUS) do
      l[#l + 1] = { id_atendimento_status = s.id_atendimento_status, prefixo = s.prefixo, descricao = s.descricao, cor = s.cor, ativo = true }
    end
    ok.status_atendimento = l
  elseif recurso == "tipo_atendimento" then
    local l = array()
    for _, t in ipairs(TIPOS) do l[#l + 1] = { id_tipo_atendimento = t.id_tipo_atendimento, descricao = t.descricao, ativo = true } end
    ok.tipos_atendimento = l
  elseif recurso == "disponibilidade" then
    ok.disponibilidades = array(copy(DISPONIBILIDADES))
  elseif recurso == "motivo_fechamento_atendimento" then
    local want = to_int(get(req.q, "id_tipo_atendimento"))
    local l = array()
    for _, m in ipairs(MOTIVOS) do
      if not want or m.id_tipo_atendimento == NULL or m.id_tipo_atendimento == want then l[#l + 1] = copy(m) end
    end
    ok.motivos_fechamento = l
  elseif recurso == "tecnico" then
    ok.tecnicos = array(copy(TECNICOS))
  elseif recurso == "tipo_ordem_servico" then
    ok.tipos_ordem_servico = array(copy(TIPOS_OS))
  else
    return json_resp(404, { status = "error", msg = "Recurso de configuração não encontrado: " .. recurso, message = "Not Found" })
  end
  return json_resp(200, ok)
end

---------------------------------------------------------------- support desk: clientes, ordens de serviço, PBX
-- Shapes follow the vendor's examples (hubsoft-api-suporte.md): ids as
-- numbers in answers, O.S. `numero` a string or a number by endpoint,
-- "suscess" in cliente/ordem_servico, `ultima_conexao` an object or [],
-- accents, nulls. The actions (unlocks, disconnects, pop-ups, scheduling) are
-- kept in S.suporte, shown by GET /__control/suporte.

-- (one block: the main chunk may hold at most 200 locals)
local SUPORTE = {}
do
  -- What the vendor's client records hold beyond the tickets' CLIENTES rows.
  local CLIENTE_DADOS = {
    [24930] = { tipo_pessoa = "pf", telefone_primario = "3733334444", telefone_secundario = "37988242968",
      email_principal = "lavynia@example.com.br", data_cadastro = "2017-08-05 00:00:00", rg = "MG16999888" },
    [24931] = { tipo_pessoa = "pf", telefone_primario = "81987654321", telefone_secundario = NULL,
      email_principal = "bianca@example.com.br", data_cadastro = "2019-03-12 09:41:07", rg = NULL },
    [24932] = { tipo_pessoa = "pj", telefone_primario = "8132221000", telefone_secundario = "81999990000",
      email_principal = "ti@josetelecom.com.br", data_cadastro = "2021-11-30 16:02:55", rg = NULL },
  }

  -- Services without authentication data (a dedicated link): reset_mac_addr refuses them.
  local SEM_AUTENTICACAO = { [20001] = true }
  -- Services whose concentrator cannot be reached: solicitar_desconexao fails.
  local CONCENTRADOR_OFFLINE = { [20002] = true }
  local LIMITE_DIAS_DESBLOQUEIO = 3

  local MOTIVOS_REMOCAO = {
    { id_motivo_remocao_agendamento = 8, descricao = "Cliente pediu para remarcar" },
    { id_motivo_remocao_agendamento = 9, descricao = "Técnico indisponível" },
  }
  local MOTIVO_REMOCAO_BY_ID = {}
  for _, m in ipairs(MOTIVOS_REMOCAO) do MOTIVO_REMOCAO_BY_ID[m.id_motivo_remocao_agendamento] = m end

  local TECNICO_BY_ID = {}
  for _, t in ipairs(TECNICOS) do TECNICO_BY_ID[t.id] = t end

  local OS_STATUS_LABEL = {
    aguardando_agendamento = "Aguardando Agendamento", pendente = "Pendente", finalizado = "Finalizado",
  }

  local function suporte()
    if not S.suporte then
      S.suporte = {
        clientes = {}, servicos = {}, ordens = {}, next_os_id = 90001,
        ligacoes = {}, desbloqueios = {}, desconexoes = {}, resets_mac = {},
      }
    end
    return S.suporte
  end

  local function find_servico(id)
    id = to_int(id)
    if not id then return nil end
    return SERVICO_BY_ID[id] or suporte().servicos[id]
  end

  local function find_cliente(id) return CLIENTE_BY_ID[id] or suporte().clientes[id] end

  -- Every client, base ones first, then seeded ones, by id.
  local function all_clientes()
    local l = {}
    for _, c in ipairs(CLIENTES) do l[#l + 1] = c end
    for _, c in ipairs(suporte().clientes) do l[#l + 1] = c end
    table.sort(l, function(a, b) return a.id_cliente < b.id_cliente end)
    return l
  end

  local function servicos_of(c)
    local l = {}
    for _, s in ipairs(SERVICOS) do if s.id_cliente == c.id_cliente then l[#l + 1] = s end end
    for _, s in ipairs(suporte().servicos) do if s.id_cliente == c.id_cliente then l[#l + 1] = s end end
    return l
  end

  local function dados_of(c) return CLIENTE_DADOS[c.id_cliente] or c.dados or {} end

  local function login_of(s) return fmt("cliente%d", s.id_cliente_servico) end
  local function ipv4_of(s) return fmt("10.99.%d.%d", floor(s.id_cliente_servico / 250) % 250, s.id_cliente_servico % 250 + 2) end
  local function mac_of(s)
    local n = s.id_cliente_servico
    return fmt("58:10:8C:%02X:%02X:%02X", floor(n / 65536) % 256, floor(n / 256) % 256, n % 256)
  end

  local function endereco_block(s, cadastro)
    local cep = s.cep
    local r = {
      completo = fmt("%s, %s - %s, %s/%s", s.endereco, s.numero, s.bairro, upper_pt(s.cidade), s.uf),
      endereco = s.endereco, numero = s.numero, complemento = "", bairro = s.bairro,
      cep = cep:sub(1, 5) .. "-" .. cep:sub(6), estado = s.uf,
      uf = s.uf == "PE" and "PERNAMBUCO" or "MINAS GERAIS", cidade = s.cidade,
      coordenadas = { latitude = -19.8562717, longitude = -45.0105913 },
    }
    if cadastro then
      -- cliente/todos: no logradouro, a referencia, the CEP in `completo` and without its dash
      r.completo = r.completo .. " | CEP: " .. r.cep
      r.cep, r.referencia = cep, NULL
      r.coordenadas = { latitude = NULL, longitude = NULL }
    else
      r.logradouro = s.endereco:match("^(%S+)") or ""
    end
    return r
  end

  local function servico_record(s, p, todos)
    local r = {
      id_cliente_servico = s.id_cliente_servico, numero_plano = s.numero_plano, nome = s.nome,
      valor = s.valor, status = s.status, status_prefixo = s.status_prefixo,
      tecnologia = s.id_servico % 2 == 0 and "FIBRA" or "WIRELESS",
      login = login_of(s), senha = "123", referencia = NULL, ipv4 = ipv4_of(s), ipv6 = NULL,
      mac_addr = mac_of(s), phy_addr = mac_of(s),
      interface = { nome = "PON5", tipo = "gpon", called_sid = NULL },
      interface_roteamento = { nome = "ether8", tipo = "ethernet", called_sid = NULL },
      equipamento_conexao = { nome = "OLT XPTO", ipv4 = "192.168.2.100", ipv6 = NULL },
      equipamento_roteamento = { nome = "CONCENTRADOR XPTO", ipv4 = "172.17.24.98", ipv6 = NULL },
      pacotes = array(), senhas = array(),
    }
    if s.id_cliente_servico == 17812 then
      r.pacotes = array { { id_pacote = 1, descricao = "IP FIXO", valor = "20", observacoes = "IP FIXO 189.79.21.21",
        data_cadastro = "2019-11-21 16:43:56" } }
      r.senhas = array { { id_cliente_servico_senha = 6, descricao = "Roteador", usuario = "admin", senha = "abc123" } }
    end
    if todos then
      r.id_servico = s.id_servico
      r.velocidade_download, r.velocidade_upload = "300 Mbits", "150 Mbits"
      r.motivo_cancelamento, r.motivo_cancelamento_prefixo, r.anotacoes = NULL, NULL, NULL
      r.grupos = array { { id = 17, descricao = "Residencial" } }
      for _, pc in ipairs(r.pacotes) do pc.codigo = NULL end
      r.endereco_cadastral = endereco_block(s, true)
      r.endereco_instalacao = endereco_block(s, true)
      r.endereco_cobranca = endereco_block(s, true)
      r.endereco_fiscal = endereco_block(s, true)
    else
      r.endereco_instalacao = endereco_block(s, false)
      if p and p.ultima_conexao == "sim" then
        -- connected services have the block; the others an empty array, as in the vendor's second example
        if s.status_prefixo == "servico_habilitado" then
          r.ultima_conexao = { conectado = true, ultima_conexao_datetime = "2019-12-15 18:22:24-03",
            ultima_desconexao_datetime = NULL, ultima_conexao = "15/12/2019 18:22:24", ultima_desconexao = NULL,
            ultimo_ipv4 = ipv4_of(s), ultimo_nas_ip = "10.28.33.20",
            status_txt_resumido = "CONECTADO HÁ 0 MES(ES), 0 DIA(S), 22 HORA(S) e 53 MINUTO(S)" }
        else
          r.ultima_conexao = array()
        end
      end
    end
    return r
  end

  local function cliente_record(c, p, todos)
    local d = dados_of(c)
    local servicos = array()
    for _, s in ipairs(servicos_of(c)) do
      if not (s.status_prefixo == "cancelado" and (p and p.cancelado) ~= "sim") then
        servicos[#servicos + 1] = servico_record(s, p, todos)
      end
    end
    local r = {
      id_cliente = c.id_cliente, codigo_cliente = c.codigo_cliente, nome_razaosocial = c.nome_razaosocial,
      nome_fantasia = NULL, tipo_pessoa = d.tipo_pessoa or "pf", cpf_cnpj = c.cpf_cnpj,
      telefone_primario = d.telefone_primario or NULL, telefone_secundario = d.telefone_secundario or NULL,
      telefone_terciario = "", email_principal = d.email_principal or NULL, email_secundario = NULL,
      rg = d.rg or NULL, rg_emissao = NULL, inscricao_municipal = NULL, inscricao_estadual = NULL,
      data_cadastro = d.data_cadastro or "2020-01-01 00:00:00", data_nascmento = NULL,
      servicos = servicos,
    }
    if not todos then
      local outage = c.id_cliente == 24930
      r.alerta = outage
      r.alerta_mensagens = outage and array { "Existe um rompimento de fibra no bairro Mãe Chiquinha, previsão de normalização às 18h." } or array()
    end
    return r
  end

  -- A CPF with its check digits, from a 9-digit base.
  local function cpf_from(base)
    local d = fmt("%09d", base)
    for _, n in ipairs { 10, 11 } do
      local sum = 0
      for i = 1, n - 1 do sum = sum + tonumber(d:sub(i, i)) * (n + 1 - i) end
      local r = sum % 11
      d = d .. (r < 2 and 0 or 11 - r)
    end
    return d
  end

  local function seed_suporte(p)
    local su = suporte()
    su.clientes, su.servicos, su.ordens = {}, {}, {}
    local n = to_int(p.clientes) or 0
    local d1 = parse_day(is_null(p.data_inicio) and "2024-01-01" or p.data_inicio)
    local d2 = parse_day(is_null(p.data_fim) and "2024-12-31" or p.data_fim)
    if n < 0 or not d1 or not d2 or d2 < d1 then return nil end
    local span = d2 - d1 + 1
    for i = 1, n do
      local id = 30000 + i
      local lt = (d1 + floor((i - 1) * span / math.max(n, 1))) * 86400 + 9 * 3600 + i % 3600
      local c = { id_cliente = id, codigo_cliente = 5000 + i, nome_razaosocial = fmt("CLIENTE DE TESTE Nº %d — JOÃO", i),
        cpf_cnpj = cpf_from(100000000 + i * 7),
        dados = { tipo_pessoa = "pf", telefone_primario = fmt("8198%07d", i), email_principal = fmt("cliente%d@example.com.br", i),
          data_cadastro = iso(lt) } }
      su.clientes[#su.clientes + 1] = c
      su.servicos[40000 + i] = { id_cliente_servico = 40000 + i, id_cliente = id, id_servico = 2801, numero_plano = 1,
        nome = "FIBRA 300 MEGA", valor = 119.9, status = "Serviço Habilitado", status_prefixo = "servico_habilitado",
        endereco = "RUA DA HORA", numero = tostring(i), bairro = "ESPINHEIRO", cidade = "Recife", uf = "PE", cep = "52020015" }
    end
    -- servicos by id and as a list (servicos_of walks the list part)
    for k, s in pairs(su.servicos) do if type(k) == "number" then su.servicos[#su.servicos + 1] = s end end
    local m = to_int(p.ordens_servico) or 0
    if m < 0 then return nil end
    for i = 1, m do
      local lt = (d1 + floor((i - 1) * span / math.max(m, 1))) * 86400 + 8 * 3600 + (i % 8) * 1800
      local o = {
        id_ordem_servico = su.next_os_id, numero_ordem_servico = 3000 + i, lt_cadastro = lt - 86400,
        tipo = TIPOS_OS[i % #TIPOS_OS + 1].descricao, lt_inicio_programado = lt, lt_termino_programado = lt + 5400,
        status = ({ "aguardando_agendamento", "pendente", "finalizado" })[i % 3 + 1],
        descricao = fmt("Visita técnica nº %d: sinal baixo na ONU", i),
        id_cliente_servico = SERVICE_IDS[(i - 1) % #SERVICE_IDS + 1], tecnicos = { TECNICOS[i % 2 + 2].id },
      }
      if o.status == "aguardando_agendamento" then o.tecnicos = {} end
      su.next_os_id = su.next_os_id + 1
      su.ordens[#su.ordens + 1] = o
    end
    return n, m
  end

  -- Every service order, the tickets' and the seeded ones: {o =, t = ticket or nil, s = service}.
  local function all_ordens()
    local l = {}
    for _, t in ipairs(S.tickets) do
      for _, o in ipairs(t.ordens) do l[#l + 1] = { o = o, t = t, s = SERVICO_BY_ID[t.id_cliente_servico] } end
    end
    for _, o in ipairs(suporte().ordens) do l[#l + 1] = { o = o, s = find_servico(o.id_cliente_servico) } end
    table.sort(l, function(a, b) return a.o.id_ordem_servico < b.o.id_ordem_servico end)
    return l
  end

  local function find_ordem(id)
    id = to_int(id)
    if not id then return nil end
    for _, e in ipairs(all_ordens()) do if e.o.id_ordem_servico == id then return e end end
    return nil
  end

  local function tipo_os_id(o)
    for _, t in ipairs(TIPOS_OS) do if t.descricao == o.tipo then return t.id_tipo_ordem_servico end end
    return 99
  end

  local function tecnicos_list(o, style)
    local l = array()
    for _, id in ipairs(o.tecnicos or {}) do
      local t = TECNICO_BY_ID[id]
      if t then
        local r = { id = t.id, name = t.name }
        if style == "display" then r.display = t.name
        else r.pivot = { id_ordem_servico = o.id_ordem_servico, id_usuario = t.id } end
        l[#l + 1] = r
      end
    end
    return l
  end

  -- ordem_servico/consultar, /agendar, /reagendar, /remove_agendamento (`numero` a string,
  -- labels for status, cliente, servico, endereco) and /todos (`numero` a number,
  -- tecnicos with display). `fmt_date` formats the scheduled dates.
  local function os_display(e, style, fmt_date)
    local o, s = e.o, e.s
    local c = find_cliente(s.id_cliente)
    fmt_date = fmt_date or iso
    local done = o.status == "finalizado"
    return {
      id_ordem_servico = o.id_ordem_servico,
      numero = style == "display" and o.numero_ordem_servico or tostring(o.numero_ordem_servico),
      tipo = o.tipo,
      data_inicio_programado = fmt_date(o.lt_inicio_programado),
      data_termino_programado = fmt_date(o.lt_termino_programado),
      data_inicio_executado = done and iso(o.lt_inicio_programado) or NULL,
      data_termino_executado = done and iso(o.lt_fechamento or o.lt_termino_programado) or NULL,
      data_cadastro = iso(o.lt_cadastro),
      descricao_abertura = o.descricao, descricao_servico = o.descricao,
      descricao_fechamento = o.descricao_fechamento or NULL,
      status = OS_STATUS_LABEL[o.status] or o.status,
      tecnicos = tecnicos_list(o, style),
      disponibilidade = "Manhã, Tarde",
      cliente = fmt("(%d) %s", c.codigo_cliente, c.nome_razaosocial),
      servico = fmt("(%d) %s", s.numero_plano, upper_pt(s.nome)),
      endereco_instalacao = endereco_block(s, true).completo,
    }
  end

  -- cliente/ordem_servico: status as a prefix, DD/MM/YYYY dates, the atendimento or null.
  local function os_do_cliente(e)
    local r
    if e.t then
      r = os_record(e.t, e.o)
      local t = e.t
      local closed = t.lt_fechamento ~= nil
      local motivo = t.id_motivo_fechamento_atendimento and MOTIVO_BY_ID[t.id_motivo_fechamento_atendimento]
      r.atendimento = {
        protocolo = t.protocolo, id_atendimento = t.id_atendimento,
        tipo_atendimento = TIPO_BY_ID[t.id_tipo_atendimento].descricao,
        usuario_abertura = USUARIO_API, usuario_responsavel = USUARIO_API,
        usuario_fechamento = closed and USUARIO_API or NULL,
        data_cadastro = br_date(t.lt_cadastro), data_fechamento = closed and br_date(t.lt_fechamento) or NULL,
        setor_responsavel = NULL, status_fechamento = t.status_fechamento or NULL,
        motivo_fechamento = motivo and motivo.descricao or NULL,
      }
    else
      local o, s = e.o, e.s
      local done = o.status == "finalizado"
      r = {
        id_ordem_servico = o.id_ordem_servico, numero_ordem_servico = tostring(o.numero_ordem_servico),
        data_cadastro = br_full(o.lt_cadastro), tipo = o.tipo,
        data_inicio_programado = br_full(o.lt_inicio_programado),
        data_termino_programado = br_full(o.lt_termino_programado),
        data_inicio_executado = done and br_full(o.lt_inicio_programado) or NULL,
        data_termino_executado = done and br_full(o.lt_termino_programado) or NULL,
        descricao_abertura = o.descricao, descricao_servico = o.descricao, descricao_fechamento = NULL,
        usuario_abertura = USUARIO_API, usuario_fechamento = done and USUARIO_API or NULL,
        status = o.status, status_fechamento = done and "concluido" or NULL,
        atendimento = NULL,
        cliente = cliente_min(find_cliente(s.id_cliente)), servico = servico_min(s),
      }
    end
    return r
  end

  local function touch_os(e) if e.t then touch(e.t) end end

  local function ok_msg(msg, extra)
    local r = { status = "success", msg = msg }
    for k, v in pairs(extra or {}) do r[k] = v end
    return json_resp(200, r)
  end

  local function check_sim_nao(p, k, errors, extra)
    local v = get(p, k)
    if v ~= nil and v ~= "sim" and v ~= "nao" and v ~= extra then
      errors[#errors + 1] = "O campo " .. k .. " deve ser sim ou nao."
    end
  end

  local function check_range(p, k, lo, hi, default, errors)
    local v = get(p, k)
    if v == nil then return default end
    local n = to_int(v)
    if not n or n < lo or n > hi then
      errors[#errors + 1] = fmt("O campo %s deve estar entre %d e %d.", k, lo, hi)
      return nil
    end
    return n
  end

  local function check_days(p, errors)
    local d1, d2
    if not is_null(get(p, "data_inicio")) then
      d1 = parse_day(get(p, "data_inicio"))
      if not d1 then errors[#errors + 1] = "O campo data_inicio deve ser uma data válida no formato YYYY-MM-DD." end
    end
    if not is_null(get(p, "data_fim")) then
      d2 = parse_day(get(p, "data_fim"))
      if not d2 then errors[#errors + 1] = "O campo data_fim deve ser uma data válida no formato YYYY-MM-DD." end
    end
    if d1 and d2 and d2 < d1 then errors[#errors + 1] = "O campo data_fim deve ser uma data posterior ou igual a data_inicio." end
    return d1, d2
  end

  local CLIENTE_BUSCAS = {
    nome_razaosocial = true, nome_fantasia = true, cpf_cnpj = true, codigo_cliente = true, telefone = true,
    login_radius = true, ipv4 = true, mac = true, id_cliente_servico = true,
  }

  local function route_clientes(req)
    local p = req.q
    local busca, termo = get(p, "busca"), get(p, "termo_busca")
    local errors = {}
    if is_null(busca) or busca == "" then errors[#errors + 1] = "O campo busca é obrigatório."
    elseif not CLIENTE_BUSCAS[busca] then errors[#errors + 1] = "O campo busca selecionado é inválido." end
    if is_null(termo) or termo == "" then errors[#errors + 1] = "O campo termo_busca é obrigatório." end
    local limit = check_range(p, "limit", 1, 100, 5, errors)
    for _, k in ipairs { "cancelado", "ultima_conexao", "incluir_contrato", "incluir_alarmes" } do check_sim_nao(p, k, errors) end
    check_sim_nao(p, "inativo", errors, "todos")
    if #errors > 0 then return api_error(VALIDATION_MSG, errors) end
    local digits = termo:gsub("%D", "")
    local up = upper_pt(termo)
    local function svc_match(c, f)
      for _, s in ipairs(servicos_of(c)) do if f(s) then return true end end
      return false
    end
    local function matches(c)
      local d = dados_of(c)
      if busca == "nome_razaosocial" or busca == "nome_fantasia" then
        return c.nome_razaosocial:find(up, 1, true) ~= nil
      elseif busca == "cpf_cnpj" then return digits ~= "" and c.cpf_cnpj == digits
      elseif busca == "codigo_cliente" then return tostring(c.codigo_cliente) == termo
      elseif busca == "telefone" then
        if digits == "" then return false end
        for _, k in ipairs { "telefone_primario", "telefone_secundario" } do
          if type(d[k]) == "string" and d[k] == digits then return true end
        end
        return false
      elseif busca == "login_radius" then return svc_match(c, function(s) return login_of(s) == termo end)
      elseif busca == "ipv4" then return svc_match(c, function(s) return ipv4_of(s) == termo end)
      elseif busca == "mac" then return svc_match(c, function(s) return mac_of(s) == termo:upper() end)
      else return svc_match(c, function(s) return tostring(s.id_cliente_servico) == termo end) end
    end
    local out = array()
    for _, c in ipairs(all_clientes()) do
      if #out < limit and matches(c) then out[#out + 1] = cliente_record(c, p, false) end
    end
    return json_resp(200, { status = "success", msg = "Dados consultados com sucesso", clientes = out })
  end

  local function paginacao_of(pagina, per, total)
    local last = total == 0 and 0 or floor((total - 1) / per)
    return { primeira_pagina = 0, ultima_pagina = last, pagina_atual = pagina, total_registros = total }
  end

  local function page_args(p, errors)
    local pagina, per = get(p, "pagina"), get(p, "itens_por_pagina")
    if is_null(pagina) or pagina == "" then errors[#errors + 1] = "O campo pagina é obrigatório."
    else
      pagina = to_int(pagina)
      if not pagina or pagina < 0 then errors[#errors + 1] = "O campo pagina deve ser um número inteiro maior ou igual a 0." end
    end
    if is_null(per) or per == "" then errors[#errors + 1] = "O campo itens por pagina é obrigatório."
    else
      per = to_int(per)
      if not per or per < 1 or per > 500 then errors[#errors + 1] = "O campo itens_por_pagina deve estar entre 1 e 500." end
    end
    return pagina, per
  end

  local function route_clientes_todos(req)
    local p = req.q
    local errors = {}
    local pagina, per = page_args(p, errors)
    local d1, d2 = check_days(p, errors)
    check_sim_nao(p, "cancelado", errors)
    check_sim_nao(p, "possui_pacote", errors)
    if #errors > 0 then return api_error(VALIDATION_MSG, errors) end
    local list = {}
    for _, c in ipairs(all_clientes()) do
      local day = floor((parse_datetime(dados_of(c).data_cadastro or "") or 0) / 86400)
      if (not d1 or day >= d1) and (not d2 or day <= d2) then list[#list + 1] = c end
    end
    local items = array()
    for i = pagina * per + 1, math.min(#list, (pagina + 1) * per) do items[#items + 1] = cliente_record(list[i], p, true) end
    return json_resp(200, { status = "success", msg = "Dados consultados com sucesso",
      paginacao = paginacao_of(pagina, per, #list), clientes = items })
  end

  local EXTRATO_BUSCAS = { login = true, ipv4 = true, ipv6_wan = true, ipv6_lan = true, mac = true }

  local function route_extrato(req)
    local p = req.q
    local busca, termo = get(p, "busca"), get(p, "termo_busca")
    local errors = {}
    if is_null(busca) or busca == "" then errors[#errors + 1] = "O campo busca é obrigatório."
    elseif not EXTRATO_BUSCAS[busca] then errors[#errors + 1] = "O campo busca selecionado é inválido." end
    if is_null(termo) or termo == "" then errors[#errors + 1] = "O campo termo_busca é obrigatório." end
    local limit = check_range(p, "limit", 1, 50, 20, errors)
    check_days(p, errors)
    if #errors > 0 then return api_error(VALIDATION_MSG, errors) end
    local svc
    for _, s in ipairs(SERVICOS) do
      if (busca == "login" and login_of(s) == termo) or (busca == "ipv4" and ipv4_of(s) == termo)
        or (busca == "mac" and mac_of(s) == termo:upper()) then svc = s end
    end
    local regs = array()
    local down, up = 0, 0
    if svc then
      local c = find_cliente(svc.id_cliente)
      for i = 1, math.min(limit, 3) do
        local lt = clock_lt() - i * 86400
        local dl, ul = 4594.95 / i, 156.12 / i
        down, up = down + dl, up + ul
        regs[#regs + 1] = {
          acctstarttime = iso(lt) .. "-03", acctstarttimebr = br_full(lt),
          acctstoptime = i == 1 and NULL or (iso(lt + 3600) .. "-03"), acctstoptimebr = i == 1 and NULL or br_full(lt + 3600),
          calledstationid = "service2", callingstationid = mac_of(svc), download_megabytes = dl, upload_megabytes = ul,
          framedipaddress = ipv4_of(svc), nasipaddress = "172.17.22.132", nasportid = "ether3", nasporttype = "Ethernet",
          username = login_of(svc),
          servico = { numero_plano = svc.numero_plano, nome = svc.nome, valor = svc.valor, status = svc.status,
            status_prefixo = svc.status_prefixo },
          cliente = cliente_min(c),
        }
      end
    end
    return json_resp(200, { status = "success", msg = "Dados consultados com sucesso", registros = regs,
      estatisticas = { total_conexoes = #regs, download_total = down, upload_total = up, trafego_total = down + up,
        media_download = 0.23, media_upload = 0.01 } })
  end

  local function route_desbloqueio(req)
    local p = body_params(req)
    local s = find_servico(get(p, "id_cliente_servico"))
    if is_null(get(p, "id_cliente_servico")) then return api_error(VALIDATION_MSG, { "O campo id_cliente_servico é obrigatório." }) end
    if not s then return api_error(VALIDATION_MSG, { "O campo id_cliente_servico selecionado é inválido." }) end
    local dias = get(p, "dias_desbloqueio")
    dias = is_null(dias) and 1 or to_int(dias)
    if not dias or dias < 1 then return api_error(VALIDATION_MSG, { "O campo dias_desbloqueio deve ser um número inteiro maior que 0." }) end
    if dias > LIMITE_DIAS_DESBLOQUEIO then
      return api_error(fmt("O limite de dias para o desbloqueio em confiança é %d dias", LIMITE_DIAS_DESBLOQUEIO))
    end
    local ate = clock_lt() + dias * 86400
    local l = suporte().desbloqueios
    l[#l + 1] = { id_cliente_servico = s.id_cliente_servico, dias_desbloqueio = dias, ate = br_date(ate) }
    return ok_msg("Desbloqueio em confiança realizado com sucesso até a data " .. br_date(ate))
  end

  local function route_desconexao(_, id_str)
    local s = id_str and id_str:match("^%d+$") and find_servico(id_str)
    if not s then return api_error("Serviço não encontrado") end
    local login = login_of(s)
    local l = suporte().desconexoes
    if CONCENTRADOR_OFFLINE[s.id_cliente_servico] then
      return api_error("A desconexão não foi bem sucedida para o login " .. login .. "!")
    end
    l[#l + 1] = { id_cliente_servico = s.id_cliente_servico, login = login }
    return ok_msg("A desconexão foi bem sucedida para o login " .. login .. "!", { login = login })
  end

  local function route_reset_mac(req)
    local p = body_params(req)
    if is_null(get(p, "id_cliente_servico")) then return api_error(VALIDATION_MSG, { "O campo id_cliente_servico é obrigatório." }) end
    local s = find_servico(get(p, "id_cliente_servico"))
    if not s then return api_error(VALIDATION_MSG, { "O campo id_cliente_servico selecionado é inválido." }) end
    if SEM_AUTENTICACAO[s.id_cliente_servico] then return api_error("O serviço não possui dados de autenticação") end
    local l = suporte().resets_mac
    l[#l + 1] = { id_cliente_servico = s.id_cliente_servico }
    return ok_msg("Endereço MAC resetado com sucesso!")
  end

  local OS_BUSCAS = { codigo_cliente = true, cpf_cnpj = true, id_cliente_servico = true, numero_ordem_servico = true }
  local OS_STATUS = { pendente = true, aguardando_agendamento = true, finalizado = true }

  local function route_os_do_cliente(req)
    local p = req.q
    local busca, termo = get(p, "busca"), get(p, "termo_busca")
    local errors = {}
    if is_null(busca) or busca == "" then errors[#errors + 1] = "O campo busca é obrigatório."
    elseif not OS_BUSCAS[busca] then errors[#errors + 1] = "O campo busca selecionado é inválido." end
    local limit = check_range(p, "limit", 1, 50, 20, errors)
    local status = get(p, "status")
    if status ~= nil and not OS_STATUS[status] then errors[#errors + 1] = "O campo status selecionado é inválido." end
    local d1, d2 = check_days(p, errors)
    local order_by = get(p, "order_by") or "data_cadastro"
    if order_by ~= "data_cadastro" and order_by ~= "data_inicio_programado" then errors[#errors + 1] = "O campo order_by selecionado é inválido." end
    local desc = (get(p, "order_type") or "desc") == "desc"
    if #errors > 0 then return api_error(VALIDATION_MSG, errors) end
    termo = termo or ""
    local digits = termo:gsub("%D", "")
    local list = {}
    for _, e in ipairs(all_ordens()) do
      local c = find_cliente(e.s.id_cliente)
      local hit = (busca == "codigo_cliente" and tostring(c.codigo_cliente) == termo)
        or (busca == "cpf_cnpj" and digits ~= "" and c.cpf_cnpj == digits)
        or (busca == "id_cliente_servico" and tostring(e.s.id_cliente_servico) == termo)
        or (busca == "numero_ordem_servico" and tostring(e.o.numero_ordem_servico) == termo)
      local day = floor(e.o.lt_cadastro / 86400)
      if hit and (not status or e.o.status == status) and (not d1 or day >= d1) and (not d2 or day <= d2) then
        list[#list + 1] = e
      end
    end
    local key = order_by == "data_cadastro" and "lt_cadastro" or "lt_inicio_programado"
    table.sort(list, function(a, b)
      local x, y = a.o[key], b.o[key]
      if x == y then x, y = a.o.id_ordem_servico, b.o.id_ordem_servico end
      if desc then return x > y end
      return x < y
    end)
    local out = array()
    for i = 1, math.min(limit, #list) do out[i] = os_do_cliente(list[i]) end
    return json_resp(200, { status = "suscess", msg = "Dados consultados com sucesso", ordens_servico = out })
  end

  local OS_DATAS = {
    data_cadastro = "lt_cadastro", data_inicio_programado = "lt_inicio_programado",
    data_inicio_executado = "lt_inicio_programado", data_termino_programado = "lt_termino_programado",
    data_termino_executado = "lt_termino_programado",
  }

  -- "YYYY-MM-DD" or "YYYY-MM-DD HH:MM:SS" -> lt (a bare date: its start, or its end when `fim`).
  local function parse_bound(v, fim)
    if type(v) ~= "string" then return nil end
    if #v == 10 then
      local d = parse_day(v)
      return d and (d * 86400 + (fim and 86399 or 0))
    end
    return parse_datetime(v)
  end

  local function route_os_consultar(req)
    local p = body_params(req)
    if req.body_invalid then return api_error(VALIDATION_MSG, { "O corpo da requisição não é um JSON válido." }) end
    local errors = {}
    local consulta = get(p, "consulta")
    if is_null(consulta) or consulta == "" then errors[#errors + 1] = "O campo consulta é obrigatório." end
    local b1, b2 = get(p, "data_inicio"), get(p, "data_fim")
    if is_null(b1) then errors[#errors + 1] = "O campo data inicio é obrigatório."
    else b1 = parse_bound(b1, false); if not b1 then errors[#errors + 1] = "O campo data inicio não é uma data válida." end end
    if is_null(b2) then errors[#errors + 1] = "O campo data fim é obrigatório."
    else b2 = parse_bound(b2, true); if not b2 then errors[#errors + 1] = "O campo data fim não é uma data válida." end end
    local tipo_data = get(p, "tipo_data") or "data_inicio_programado"
    if not OS_DATAS[tipo_data] then errors[#errors + 1] = "O campo tipo data selecionado é inválido." end
    local order_by = get(p, "order_by") or "data_inicio_programado"
    if not OS_DATAS[order_by] then errors[#errors + 1] = "O campo order by selecionado é inválido." end
    local status = get(p, "status")
    if status ~= nil and not OS_STATUS[status] then errors[#errors + 1] = "O campo status selecionado é inválido." end
    local tecs, tipos
    if get(p, "tecnicos") ~= nil then
      tecs = {}
      for _, t in ipairs(type(p.tecnicos) == "table" and p.tecnicos or {}) do
        local id = type(t) == "table" and to_int(t.id)
        if not id then errors[#errors + 1] = "O campo tecnicos deve ser uma lista de objetos com id." break end
        tecs[id] = true
      end
    end
    if get(p, "tipo_ordem_servicos") ~= nil then
      tipos = {}
      for _, t in ipairs(type(p.tipo_ordem_servicos) == "table" and p.tipo_ordem_servicos or {}) do
        local id = type(t) == "table" and to_int(t.id_tipo_ordem_servico)
        if not id then errors[#errors + 1] = "O campo tipo_ordem_servicos deve ser uma lista de objetos com id_tipo_ordem_servico." break end
        tipos[id] = true
      end
    end
    if #errors > 0 then return api_error(VALIDATION_MSG, errors) end
    local text = upper_pt(to_str(consulta))
    local key = OS_DATAS[tipo_data]
    local list = {}
    for _, e in ipairs(all_ordens()) do
      local o = e.o
      local c = find_cliente(e.s.id_cliente)
      local hit = tostring(o.numero_ordem_servico) == text or c.nome_razaosocial:find(text, 1, true) ~= nil
      local has_tec = not tecs
      for _, id in ipairs(o.tecnicos or {}) do if tecs and tecs[id] then has_tec = true end end
      if hit and o[key] >= b1 and o[key] <= b2 and (not status or o.status == status) and has_tec
        and (not tipos or tipos[tipo_os_id(o)]) then
        list[#list + 1] = e
      end
    end
    local ok_key = OS_DATAS[order_by]
    local asc = get(p, "order_by_key") == "asc"
    table.sort(list, function(a, b)
      local x, y = a.o[ok_key], b.o[ok_key]
      if x == y then x, y = a.o.id_ordem_servico, b.o.id_ordem_servico end
      if asc then return x < y end
      return x > y
    end)
    local out = array()
    for i, e in ipairs(list) do out[i] = os_display(e, "pivot") end
    return json_resp(200, { status = "success", msg = "Dados consultados com sucesso", ordens_servico = out })
  end

  local function route_os_todos(req)
    local p = req.q
    local errors = {}
    local pagina, per = page_args(p, errors)
    local d1, d2 = check_days(p, errors)
    local tipo_data = get(p, "tipo_data") or "data_inicio_programado"
    if not OS_DATAS[tipo_data] then errors[#errors + 1] = "O campo tipo data selecionado é inválido." end
    if #errors > 0 then return api_error(VALIDATION_MSG, errors) end
    local key = OS_DATAS[tipo_data]
    local list = {}
    for _, e in ipairs(all_ordens()) do
      local day = floor(e.o[key] / 86400)
      if (not d1 or day >= d1) and (not d2 or day <= d2) then list[#list + 1] = e end
    end
    local items = array()
    for i = pagina * per + 1, math.min(#list, (pagina + 1) * per) do items[#items + 1] = os_display(list[i], "display") end
    return json_resp(200, { status = "success", msg = "Dados consultados com sucesso",
      paginacao = paginacao_of(pagina, per, #list), ordens_servico = items })
  end

  local function ordem_from(p)
    if is_null(get(p, "id_ordem_servico")) then return nil, api_error(VALIDATION_MSG, { "O campo id ordem servico é obrigatório." }) end
    local e = find_ordem(get(p, "id_ordem_servico"))
    if not e then return nil, api_error(VALIDATION_MSG, { "O campo id ordem servico selecionado é inválido." }) end
    return e
  end

  local function os_answer(msg, e, fmt_date)
    return ok_msg(msg, { ordem_servico = os_display(e, "pivot", fmt_date) })
  end

  local function route_os_agendar(req)
    local p = body_params(req)
    local e, err = ordem_from(p)
    if not e then return err end
    if e.o.status ~= "aguardando_agendamento" then
      return api_error("A ordem de serviço não está aguardando agendamento")
    end
    local day = floor(clock_lt() / 86400) + 1
    e.o.status = "pendente"
    e.o.lt_inicio_programado, e.o.lt_termino_programado = day * 86400 + 8 * 3600, day * 86400 + 9 * 3600 + 1800
    if not e.o.tecnicos or #e.o.tecnicos == 0 then e.o.tecnicos = { TECNICOS[2].id } end
    touch_os(e)
    return os_answer("Agendamento salvo com sucesso", e)
  end

  local function hhmm(lt) return iso(lt):sub(1, 16) end

  local function route_os_reagendar(req)
    local p = body_params(req)
    local e, err = ordem_from(p)
    if not e then return err end
    local errors = {}
    local function at(dk, hk)
      local d, h = get(p, dk), get(p, hk)
      if is_null(d) then errors[#errors + 1] = "O campo " .. dk .. " é obrigatório." end
      if is_null(h) then errors[#errors + 1] = "O campo " .. hk .. " é obrigatório." end
      if is_null(d) or is_null(h) then return nil end
      local lt = parse_datetime(tostring(d) .. " " .. tostring(h))
      if not lt then errors[#errors + 1] = "Os campos " .. dk .. " e " .. hk .. " não formam uma data válida." end
      return lt
    end
    local ini = at("data_inicio_programado", "hora_inicio_programado")
    local fim = at("data_termino_programado", "hora_termino_programado")
    local antigo, novo = get(p, "id_usuario_antigo"), get(p, "id_usuario_novo")
    if (antigo == nil) ~= (novo == nil) then
      errors[#errors + 1] = "Os campos id_usuario_antigo e id_usuario_novo devem ser enviados juntos."
    elseif antigo ~= nil then
      antigo, novo = to_int(antigo), to_int(novo)
      local has = false
      for _, id in ipairs(e.o.tecnicos or {}) do if id == antigo then has = true end end
      if not has then errors[#errors + 1] = "O campo id_usuario_antigo não é técnico desta ordem de serviço." end
      if not novo or not TECNICO_BY_ID[novo] then errors[#errors + 1] = "O campo id_usuario_novo selecionado é inválido." end
    end
    if #errors > 0 then return api_error(VALIDATION_MSG, errors) end
    e.o.lt_inicio_programado, e.o.lt_termino_programado = ini, fim
    e.o.status = "pendente"
    if novo then
      local l = {}
      for _, id in ipairs(e.o.tecnicos or {}) do if id ~= antigo then l[#l + 1] = id end end
      l[#l + 1] = novo
      e.o.tecnicos = l
    end
    touch_os(e)
    return os_answer("Reagendamento salvo com sucesso", e, hhmm)
  end

  local function utf8_len(s) return select(2, s:gsub("[^\128-\191]", "")) end

  local function route_os_remover(req)
    local p = body_params(req)
    local e, err = ordem_from(p)
    if not e then return err end
    local errors = {}
    local motivo = get(p, "id_motivo_remocao_agendamento")
    if is_null(motivo) then errors[#errors + 1] = "O campo id motivo remocao agendamento é obrigatório."
    elseif not MOTIVO_REMOCAO_BY_ID[to_int(motivo) or -1] then errors[#errors + 1] = "O campo id motivo remocao agendamento selecionado é inválido." end
    local obs = to_str(get(p, "observacao"))
    if not obs or trim(obs) == "" then errors[#errors + 1] = "O campo observacao é obrigatório."
    elseif utf8_len(trim(obs)) < 10 then errors[#errors + 1] = "O campo observacao deve ter pelo menos 10 caracteres." end
    if #errors > 0 then return api_error(VALIDATION_MSG, errors) end
    local old = os_display(e, "pivot")
    e.o.status = "aguardando_agendamento"
    e.o.observacao_remocao = obs
    touch_os(e)
    -- the vendor's example still shows the old dates and technician
    old.status = OS_STATUS_LABEL.aguardando_agendamento
    return ok_msg("Remoção do agendamento feito com sucesso", { ordem_servico = old })
  end

  local function ligacao_from(req)
    local p = body_params(req)
    if req.body_invalid then return nil, api_error(VALIDATION_MSG, { "O corpo da requisição não é um JSON válido." }) end
    local errors = {}
    local ramal, ident = get(p, "ramal"), get(p, "identificador_interno")
    if (is_null(ramal) or ramal == "") and (is_null(ident) or ident == "") then
      errors[#errors + 1] = "O campo ramal é obrigatório quando identificador interno não está presente."
    end
    if ramal ~= nil and not to_str(ramal):match("^%d+$") then errors[#errors + 1] = "O campo ramal deve ser um número." end
    if ident ~= nil and not to_str(ident):match("^%w+$") then errors[#errors + 1] = "O campo identificador interno deve conter apenas letras e números." end
    local tel = get(p, "telefone")
    if tel ~= nil and not (to_str(tel) or ""):match("^%d+$") then errors[#errors + 1] = "O campo telefone deve ser um número." end
    local codigo, id_cliente = get(p, "codigo_cliente"), get(p, "id_cliente")
    if codigo ~= nil then
      local found = false
      for _, c in ipairs(all_clientes()) do if c.codigo_cliente == to_int(codigo) then found = true end end
      if not found then errors[#errors + 1] = "O campo codigo cliente selecionado é inválido." end
    end
    if id_cliente ~= nil and not find_cliente(to_int(id_cliente) or -1) then errors[#errors + 1] = "O campo id cliente selecionado é inválido." end
    local lp = get(p, "ligacao_params")
    if lp ~= nil and (type(lp) ~= "table" or (lp[1] ~= nil)) then errors[#errors + 1] = "O campo ligacao params deve ser um objeto." end
    if #errors > 0 then return nil, api_error(VALIDATION_MSG, errors) end
    return { ramal = ramal and to_str(ramal) or NULL, identificador_interno = ident and to_str(ident) or NULL,
      telefone = tel and to_str(tel) or NULL, codigo_cliente = codigo and to_int(codigo) or NULL,
      id_cliente = id_cliente and to_int(id_cliente) or NULL, ligacao_params = lp and copy(lp) or NULL }
  end

  local function route_ligacao_notificar(req)
    local l, err = ligacao_from(req)
    if not l then return err end
    local su = suporte()
    l.id, l.aberta = #su.ligacoes + 1, true
    su.ligacoes[#su.ligacoes + 1] = l
    return ok_msg("Ligação notificada com sucesso")
  end

  local function route_ligacao_cancelar(req)
    local l, err = ligacao_from(req)
    if not l then return err end
    -- closes the pop-ups still open for that user (and that caller, when given)
    for _, x in ipairs(suporte().ligacoes) do
      if x.aberta and ((l.ramal ~= NULL and x.ramal == l.ramal)
          or (l.identificador_interno ~= NULL and x.identificador_interno == l.identificador_interno))
        and (l.telefone == NULL or x.telefone == l.telefone) then
        x.aberta = false
      end
    end
    return ok_msg("Ligação cancelada com sucesso")
  end

  -- GET /__control/suporte: what the support routes did, and the service orders.
  local function control_suporte()
    local su = suporte()
    local ordens = array()
    for _, e in ipairs(all_ordens()) do
      local o = e.o
      ordens[#ordens + 1] = { id_ordem_servico = o.id_ordem_servico, numero = o.numero_ordem_servico, status = o.status,
        id_cliente_servico = e.s.id_cliente_servico, id_atendimento = e.t and e.t.id_atendimento or NULL,
        data_inicio_programado = iso(o.lt_inicio_programado), data_termino_programado = iso(o.lt_termino_programado),
        tecnicos = array(copy(o.tecnicos or {})), observacao_remocao = o.observacao_remocao or NULL }
    end
    return json_resp(200, { ligacoes = array(copy(su.ligacoes)), desbloqueios = array(copy(su.desbloqueios)),
      desconexoes = array(copy(su.desconexoes)), resets_mac = array(copy(su.resets_mac)), ordens_servico = ordens,
      clientes = #su.clientes })
  end

  SUPORTE.route_clientes = route_clientes
  SUPORTE.route_clientes_todos = route_clientes_todos
  SUPORTE.route_extrato = route_extrato
  SUPORTE.route_desbloqueio = route_desbloqueio
  SUPORTE.route_desconexao = route_desconexao
  SUPORTE.route_reset_mac = route_reset_mac
  SUPORTE.route_os_do_cliente = route_os_do_cliente
  SUPORTE.route_os_consultar = route_os_consultar
  SUPORTE.route_os_todos = route_os_todos
  SUPORTE.route_os_agendar = route_os_agendar
  SUPORTE.route_os_reagendar = route_os_reagendar
  SUPORTE.route_os_remover = route_os_remover
  SUPORTE.route_ligacao_notificar = route_ligacao_notificar
  SUPORTE.route_ligacao_cancelar = route_ligacao_cancelar
  SUPORTE.control_suporte = control_suporte
  SUPORTE.seed_suporte = seed_suporte
end

local API = "^/api/v1/integracao"
local ROUTES = {
  { "POST", "^/oauth/token$", route_login, public = true },
  { "POST", API .. "/atendimento$", route_create },
  { "GET", API .. "/atendimento/todos$", route_todos },
  { "GET", API .. "/atendimento/paginado/([^/]*)$", route_paginado },
  { "POST", API .. "/atendimento/paginado/([^/]*)$", route_paginado },
  { "POST", API .. "/atendimento/adicionar_mensagem/([^/]*)$", route_add_message },
  { "POST", API .. "/atendimento/adicionar_anexo/([^/]*)$", route_add_attachment },
  { "PUT", API .. "/atendimento/([^/]*)$", route_edit },
  { "GET", API .. "/cliente/atendimento$", route_cliente_atendimento },
  { "GET", API .. "/configuracao/([^/]*)$", route_configuracao },
  { "GET", API .. "/cliente$", SUPORTE.route_clientes },
  { "GET", API .. "/cliente/todos$", SUPORTE.route_clientes_todos },
  { "GET", API .. "/cliente/extrato_conexao$", SUPORTE.route_extrato },
  { "POST", API .. "/cliente/desbloqueio_confianca$", SUPORTE.route_desbloqueio },
  { "GET", API .. "/cliente/solicitar_desconexao/([^/]*)$", SUPORTE.route_desconexao },
  { "POST", API .. "/cliente/reset_mac_addr$", SUPORTE.route_reset_mac },
  { "GET", API .. "/cliente/ordem_servico$", SUPORTE.route_os_do_cliente },
  { "POST", API .. "/ordem_servico/consultar$", SUPORTE.route_os_consultar },
  { "GET", API .. "/ordem_servico/todos$", SUPORTE.route_os_todos },
  { "POST", API .. "/ordem_servico/agendar$", SUPORTE.route_os_agendar },
  { "POST", API .. "/ordem_servico/reagendar$", SUPORTE.route_os_reagendar },
  { "POST", API .. "/ordem_servico/remove_agendamento$", SUPORTE.route_os_remover },
  { "POST", API .. "/pbx/ligacao/notificar$", SUPORTE.route_ligacao_notificar },
  { "POST", API .. "/pbx/ligacao/cancelar$", SUPORTE.route_ligacao_cancelar },
}

local function dispatch_api(req)
  local allowed = {}
  for _, r in ipairs(ROUTES) do
    local cap = req.path:match(r[2])
    if cap then
      if r[1] == req.method then
        if not r.public then
          local tok = (req.headers.authorization or ""):match("^%s*[Bb][Ee][Aa][Rr][Ee][Rr]%s+(%S+)%s*$")
          if not token_valid(tok) then return unauthenticated() end
        end
        if cap == req.path then cap = nil end
        return r[3](req, cap)
      end
      allowed[#allowed + 1] = r[1]
    end
  end
  if #allowed > 0 then
    return json_resp(405, { message = "The " .. req.method .. " method is not supported for this route. Supported methods: " .. concat(allowed, ", ") .. "." },
      { Allow = concat(allowed, ", ") })
  end
  return not_found()
end

---------------------------------------------------------------- faults

local FAULT_KINDS = {
  status = true, html500 = true, html502 = true, truncate = true, truncate_json = true,
  drop_before = true, drop_after = true, delay = true, slow_body = true, revoke = true,
  error = true, body = true, big = true, stack = true,
}

-- Kinds that answer instead of the route.
local function fault_response(f)
  local k = f.kind
  if k == "status" then
    local status = to_int(f.status) or 503
    local body = f.body
    if is_null(body) then body = json_encode({ message = "Simulated HTTP " .. status }) end
    if type(body) ~= "string" then body = json_encode(body) end
    return { status = status, body = body, ctype = to_str(f.content_type) or "application/json", headers = f.headers }
  elseif k == "html500" then
    return { status = 500, ctype = "text/html; charset=UTF-8",
      body = "<!DOCTYPE html>\n<html><head><title>500 Internal Server Error</title></head><body><h1>500 Internal Server Error</h1><p>The server encountered an internal error and was unable to complete your request.</p></body></html>\n" }
  elseif k == "html502" then
    return { status = 502, ctype = "text/html",
      body = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n" }
  elseif k == "error" then
    return api_error("Erro simulado", { "Falha simulada." })
  elseif k == "body" then
    local body = f.body
    if type(body) ~= "string" then body = is_null(body) and "" or json_encode(body) end
    return { status = to_int(f.status) or 200, body = body, ctype = to_str(f.content_type) or "application/json", headers = f.headers }
  elseif k == "big" then
    local n = to_int(f.bytes) or 1048576
    local head = '{"status":"success","msg":"Dados consultados com sucesso","atendimentos":[],"padding":['
    local pieces, size = {}, #head + 2
    local chunk = '"' .. string.rep("x", 1022) .. '"'
    while size + #chunk + 1 <= n do
      pieces[#pieces + 1] = chunk
      size = size + #chunk + 1
    end
    local rest = n - size - 3
    if #pieces > 0 then rest = rest - 1 end
    if rest > 0 then pieces[#pieces + 1] = '"' .. string.rep("y", rest) .. '"' end
    return { status = 200, ctype = "application/json", body = head .. concat(pieces, ",") .. "]}" }
  elseif k == "stack" then
    return json_resp(500, {
      status = "error", msg = "Erro interno", code = 500,
      description = "SQLSTATE[08006] [7] could not connect to server",
      file = "/var/www/app/Http/Controller.php", line = 42,
      hint = "Verifique a conexão com o banco de dados",
      trace = array {
        "#0 /var/www/app/Http/Controllers/Integracao/AtendimentoController.php(88): App\\Http\\Controller->query()",
        "#1 /var/www/vendor/laravel/framework/src/Illuminate/Routing/Controller.php(54): App\\Http\\Controllers\\Integracao\\AtendimentoController->index()",
        "#2 {main}",
      },
    })
  end
  return nil
end

local ANSWERING_FAULTS = { status = true, html500 = true, html502 = true, error = true, body = true, big = true, stack = true }

local function fault_matches(f, req)
  if f.method and f.method:upper() ~= req.method then return false end
  if not f.match or f.match == "" then return true end
  if req.path:sub(1, #f.match) == f.match then return true end
  local ok, found = pcall(string.find, req.path, f.match)
  return ok and found ~= nil
end

local function take_fault(req)
  for i, f in ipairs(S.faults) do
    if fault_matches(f, req) then
      f.times = f.times - 1
      if f.times <= 0 then table.remove(S.faults, i) end
      S.stats.faults_applied = S.stats.faults_applied + 1
      return f
    end
  end
  return nil
end

---------------------------------------------------------------- control routes

local function control_config_view()
  return {
    client_id = S.creds.client_id, client_secret = S.creds.client_secret,
    username = S.creds.username, password = S.creds.password,
    expires_in = S.expires_in, now = S.fixed_now and iso(S.fixed_now) or NULL,
  }
end

local function fault_view(f)
  local v = copy(f)
  v.method = f.method or NULL
  return v
end

local function dispatch_control(req)
  local name = req.path:match("^/__control/([%w_]+)$")
  local m = req.method
  if m == "GET" and name == "requests" then
    local since = to_int(req.q.since) or 0
    local l = array()
    for _, r in ipairs(S.records) do if r.id > since then l[#l + 1] = r end end
    return json_resp(200, l)
  elseif m == "GET" and name == "stats" then
    local st = copy(S.stats)
    st.open_connections = S.open_connections
    st.pending_faults = #S.faults
    return json_resp(200, st)
  elseif m == "GET" and name == "state" then
    local l = array()
    local only = to_int(req.q.id)
    for _, t in ipairs(S.tickets) do
      if not only or only == t.id_atendimento then l[#l + 1] = state_record(t) end
    end
    local clientes = array()
    for _, c in ipairs(CLIENTES) do
      local ids = array()
      for _, s in ipairs(SERVICOS) do if s.id_cliente == c.id_cliente then ids[#ids + 1] = s.id_cliente_servico end end
      local cc = copy(c)
      cc.id_cliente_servico = ids
      clientes[#clientes + 1] = cc
    end
    return json_resp(200, { atendimentos = l, total = #S.tickets, clientes = clientes, next_id = S.next_id })
  elseif m == "GET" and name == "faults" then
    local l = array()
    for _, f in ipairs(S.faults) do l[#l + 1] = fault_view(f) end
    return json_resp(200, l)
  elseif m == "GET" and name == "config" then
    return json_resp(200, control_config_view())
  elseif m == "GET" and name == "suporte" then
    return SUPORTE.control_suporte()
  elseif m ~= "POST" then
    return json_resp(404, { message = "Not Found" })
  end

  local p = {}
  if req.body ~= "" then
    p = json_decode(req.body)
    if type(p) ~= "table" then return json_resp(400, { error = "body is not a JSON object" }) end
  end
  if name == "reset" then
    reset_state()
    return json_resp(200, { ok = true })
  elseif name == "clear" then
    S.records = {}
    for k in pairs(S.stats) do S.stats[k] = 0 end
    return json_resp(200, { ok = true })
  elseif name == "config" then
    for k, v in pairs(p) do
      if S.creds[k] ~= nil then
        if type(v) ~= "string" and type(v) ~= "number" then return json_resp(400, { error = k .. " must be a string" }) end
        S.creds[k] = to_str(v)
      elseif k == "expires_in" then
        local n = to_int(v)
        if not n or n < 0 then return json_resp(400, { error = "expires_in must be a non-negative integer" }) end
        S.expires_in = n
      elseif k == "now" then
        if v == NULL or v == false then S.fixed_now = nil
        else
          local lt = parse_datetime(v)
          if not lt then return json_resp(400, { error = "now must be 'YYYY-MM-DD HH:MM:SS'" }) end
          S.fixed_now = lt
        end
      else
        return json_resp(400, { error = "unknown config key: " .. tostring(k) })
      end
    end
    return json_resp(200, control_config_view())
  elseif name == "revoke" then
    return json_resp(200, { revoked = revoke_all() })
  elseif name == "fault" then
    local kind = p.kind
    if type(kind) ~= "string" or not FAULT_KINDS[kind] then
      return json_resp(400, { error = "unknown fault kind: " .. tostring(kind) })
    end
    local f = copy(p)
    f.times = to_int(p.times) or 1
    f.method = type(p.method) == "string" and p.method:upper() or nil
    f.match = type(p.match) == "string" and p.match or nil
    f.seconds = tonumber(p.seconds) or ((kind == "delay" or kind == "slow_body") and 1 or nil)
    if f.headers == NULL then f.headers = nil end
    S.faults[#S.faults + 1] = f
    return json_resp(200, { queued = true, pending = #S.faults })
  elseif name == "seed" then
    local n = to_int(p.tickets) or 0
    local d1 = parse_day(is_null(p.data_inicio) and "2025-01-01" or p.data_inicio)
    local d2 = parse_day(is_null(p.data_fim) and "2025-12-31" or p.data_fim)
    if n < 0 or not d1 or not d2 or d2 < d1 then
      return json_resp(400, { error = "seed wants tickets >= 0 and data_inicio <= data_fim (YYYY-MM-DD)" })
    end
    make_seed(n, d1, d2)
    return json_resp(200, { ok = true, tickets = n })
  elseif name == "seed_suporte" then
    local nc, no = SUPORTE.seed_suporte(p)
    if not nc then
      return json_resp(400, { error = "seed_suporte wants clientes >= 0, ordens_servico >= 0 and data_inicio <= data_fim" })
    end
    return json_resp(200, { ok = true, clientes = nc, ordens_servico = no })
  elseif name == "shutdown" then
    local r = json_resp(200, { ok = true, bye = true })
    r.shutdown = true
    return r
  end
  return json_resp(404, { message = "Not Found" })
end

---------------------------------------------------------------- recording

local function record(req, conn, fault)
  record_counter = record_counter + 1
  local body = req.body
  local mp = multipart_of(req)
  if mp then
    local ps = array()
    for _, part in ipairs(mp) do
      ps[#ps + 1] = { name = part.name or NULL, filename = part.filename or NULL, content_type = part.content_type or NULL, size = #part.data }
    end
    body = { multipart = true, size = #req.body, parts = ps }
  end
  local accept = (req.headers.accept or ""):lower():find("application/json", 1, true) ~= nil
  if not accept and req.path:match("^/api/") then S.stats.without_accept_json = S.stats.without_accept_json + 1 end
  local recs = S.records
  recs[#recs + 1] = {
    id = record_counter, method = req.method, path = req.path, query = req.query,
    headers = req.headers, body = body, connection_id = conn.id, time = req.time,
    accept_json = accept, fault = fault and fault.kind or NULL, http_version = req.version,
  }
  if #recs > MAX_RECORDS then
    local keep = {}
    for i = #recs - MAX_RECORDS / 2 + 1, #recs do keep[#keep + 1] = recs[i] end
    S.records = keep
  end
end

---------------------------------------------------------------- HTTP I/O
-- Everything below runs inside one coroutine per connection. It yields
-- "read", "write" or "sleep"; the main loop resumes it when the socket is
-- ready or the wake-up time has passed.

local RECV_CHUNK = 1048576
local MAX_HEADER = 65536
local MAX_BODY = 256 * 1048576

local REASONS = {
  [100] = "Continue", [200] = "OK", [201] = "Created", [204] = "No Content",
  [400] = "Bad Request", [401] = "Unauthorized", [403] = "Forbidden", [404] = "Not Found",
  [405] = "Method Not Allowed", [408] = "Request Timeout", [413] = "Payload Too Large",
  [422] = "Unprocessable Entity", [429] = "Too Many Requests", [500] = "Internal Server Error",
  [502] = "Bad Gateway", [503] = "Service Unavailable", [504] = "Gateway Timeout",
}

local function recv_more(c)
  while true do
    local data, err, partial = c.sock:receive(RECV_CHUNK)
    data = data or partial
    if data and #data > 0 then return data end
    if err ~= "timeout" then return nil end
    coroutine.yield("read")
  end
end

local function send_all(c, data)
  local i, n = 1, #data
  while i <= n do
    local last, err, partial = c.sock:send(data, i)
    if last then
      i = last + 1
    elseif err == "timeout" then
      i = (partial or i - 1) + 1
      if i <= n then coroutine.yield("write") end
    else
      return false
    end
  end
  return true
end

local function sleep(c, seconds)
  c.wake = now() + (seconds or 0)
  coroutine.yield("sleep")
end

local function read_head(c)
  while true do
    c.buf = c.buf:gsub("^[\r\n]+", "")
    local s, e = c.buf:find("\r\n\r\n", 1, true)
    if s then
      local head = c.buf:sub(1, s - 1)
      c.buf = c.buf:sub(e + 1)
      return head
    end
    if #c.buf > MAX_HEADER then return nil, "too large" end
    local d = recv_more(c)
    if not d then return nil, "closed" end
    c.buf = c.buf .. d
  end
end

local function read_exact(c, n)
  if #c.buf >= n then
    local s = c.buf:sub(1, n)
    c.buf = c.buf:sub(n + 1)
    return s
  end
  local pieces, have = { c.buf }, #c.buf
  while have < n do
    local d = recv_more(c)
    if not d then return nil end
    pieces[#pieces + 1] = d
    have = have + #d
  end
  local all = concat(pieces)
  c.buf = all:sub(n + 1)
  return all:sub(1, n)
end

local function read_line(c)
  while true do
    local s, e = c.buf:find("\r\n", 1, true)
    if s then
      local line = c.buf:sub(1, s - 1)
      c.buf = c.buf:sub(e + 1)
      return line
    end
    if #c.buf > MAX_HEADER then return nil end
    local d = recv_more(c)
    if not d then return nil end
    c.buf = c.buf .. d
  end
end

local function read_chunked(c)
  local pieces, total = {}, 0
  while true do
    local line = read_line(c)
    if not line then return nil, "closed" end
    local size = tonumber((line:match("^%s*(%x+)")) or "", 16)
    if not size then return nil, "bad chunk size" end
    if size == 0 then
      while true do       -- trailers up to the empty line
        local tl = read_line(c)
        if not tl then return nil, "closed" end
        if tl == "" then break end
      end
      return concat(pieces)
    end
    total = total + size
    if total > MAX_BODY then return nil, "too large" end
    local data = read_exact(c, size)
    if not data then return nil, "closed" end
    pieces[#pieces + 1] = data
    local crlf = read_line(c)
    if crlf ~= "" then return nil, "bad chunk end" end
  end
end

local function build_head(status, ctype, length, keep, extra)
  local h = {
    fmt("HTTP/1.1 %d %s", status, REASONS[status] or "Unknown"),
    "Server: fake-hubsoft",
    "Content-Type: " .. (ctype or "application/json"),
    "Content-Length: " .. length,
    "Connection: " .. (keep and "keep-alive" or "close"),
    "Cache-Control: no-cache, private",
  }
  if type(extra) == "table" then
    for k, v in pairs(extra) do
      if type(k) == "string" and (type(v) == "string" or type(v) == "number") then
        h[#h + 1] = k .. ": " .. to_str(v)
      end
    end
  end
  return concat(h, "\r\n") .. "\r\n\r\n"
end

local function send_simple(c, status, body, keep)
  body = json_encode(body)
  return send_all(c, build_head(status, "application/json", #body, keep) .. body)
end

-- Reads one request; nil, reason when the connection is done.
local function read_request(c)
  local head, err = read_head(c)
  if not head then
    if err == "too large" then send_simple(c, 400, { message = "Request header too large" }, false) end
    return nil
  end
  local lines = {}
  for line in (head .. "\r\n"):gmatch("(.-)\r\n") do lines[#lines + 1] = line end
  local method, target, version = (lines[1] or ""):match("^(%u+) (%S+) HTTP/(%d%.%d)$")
  if not method then
    send_simple(c, 400, { message = "Bad Request" }, false)
    return nil
  end
  local headers = {}
  for i = 2, #lines do
    local k, v = lines[i]:match("^([^:%s]+):%s*(.-)%s*$")
    if not k then
      send_simple(c, 400, { message = "Bad header line" }, false)
      return nil
    end
    k = k:lower()
    headers[k] = headers[k] and (headers[k] .. ", " .. v) or v
  end
  local path, query = target:match("^([^?]*)%??(.*)$")
  local req = {
    method = method, target = target, path = path, query = query, version = version,
    headers = headers, q = parse_form(query), time = now(),
  }
  local conn_hdr = (headers.connection or ""):lower()
  if version == "1.0" then
    req.keep_alive = conn_hdr:find("keep-alive", 1, true) ~= nil
  else
    req.keep_alive = not conn_hdr:find("close", 1, true)
  end
  local te = (headers["transfer-encoding"] or ""):lower()
  local cl = headers["content-length"]
  local has_body = te:find("chunked", 1, true) or (cl and cl ~= "0")
  if has_body and (headers.expect or ""):lower():find("100-continue", 1, true) then
    if not send_all(c, "HTTP/1.1 100 Continue\r\n\r\n") then return nil end
  end
  if te:find("chunked", 1, true) then
    local body, berr = read_chunked(c)
    if not body then
      if berr ~= "closed" then send_simple(c, 400, { message = "Bad chunked body: " .. berr }, false) end
      return nil
    end
    req.body = body
  elseif cl then
    local n = cl:match("^%d+$") and tonumber(cl)
    if not n then
      send_simple(c, 400, { message = "Bad Content-Length" }, false)
      return nil
    end
    if n > MAX_BODY then
      send_simple(c, 413, { message = "Payload Too Large" }, false)
      return nil
    end
    req.body = read_exact(c, n)
    if not req.body then return nil end
  else
    req.body = ""
  end
  return req
end

local function dispatch(req)
  if req.path:sub(1, 11) == "/__control/" then return dispatch_control(req) end
  return dispatch_api(req)
end

-- Handles one request; returns true to keep the connection open.
local function handle(c, req)
  last_activity = now()
  local control = req.path:sub(1, 11) == "/__control/"
  local fault
  if not control then
    S.stats.requests = S.stats.requests + 1
    if not c.counted then
      c.counted = true
      S.stats.connections = S.stats.connections + 1
    end
    fault = take_fault(req)
    local ok, err = pcall(record, req, c, fault)
    if not ok then io.stderr:write("fake_server: record failed: ", tostring(err), "\n") end
  end
  local kind = fault and fault.kind
  if kind == "drop_before" then return false end
  if kind == "revoke" then revoke_all() end

  local resp
  if kind and ANSWERING_FAULTS[kind] then
    resp = fault_response(fault)
  else
    local ok, r = pcall(dispatch, req)
    if ok and type(r) == "table" then
      resp = r
    else
      io.stderr:write("fake_server: route error: ", tostring(r), "\n")
      resp = json_resp(500, { message = "Server Error", error = tostring(r) })
    end
  end
  if kind == "drop_after" then return false end
  if kind == "delay" then sleep(c, tonumber(fault.seconds) or 1) end

  local keep = req.keep_alive and not resp.shutdown
  local body = resp.body or ""
  if req.method == "HEAD" then body = "" end
  if kind == "truncate" then
    local half = floor(#body / 2)
    send_all(c, build_head(resp.status, resp.ctype, #body, true, resp.headers) .. body:sub(1, half))
    return false
  end
  if kind == "truncate_json" then body = body:sub(1, floor(#body / 2)) end
  local head = build_head(resp.status, resp.ctype, #body, keep, resp.headers)
  if kind == "slow_body" then
    local first = math.min(16, floor(#body / 2))
    if not send_all(c, head .. body:sub(1, first)) then return false end
    sleep(c, tonumber(fault.seconds) or 1)
    if not send_all(c, body:sub(first + 1)) then return false end
  elseif not send_all(c, head .. body) then
    return false
  end
  if resp.shutdown then running = false end
  return keep
end

local function serve(c)
  while running do
    local req = read_request(c)
    if not req then return end
    if not handle(c, req) then return end
  end
end

---------------------------------------------------------------- main loop

--- The credentials the server accepts after a start or a reset.
fake.CREDENTIALS = {
  client_id = DEFAULTS.client_id, client_secret = DEFAULTS.client_secret,
  username = DEFAULTS.username, password = DEFAULTS.password,
}

--- Serve in this process until POST /__control/shutdown or `idle_exit`
-- seconds without a request (0: never). opts: host ("127.0.0.1"), port (0:
-- any free one), seed_tickets (0), idle_exit (600), on_listen(port) (default:
-- print "PORT <n>" on stdout). Returns true, or nil and a message when it
-- cannot listen.
function fake.serve(opts)
  opts = opts or {}
  OPTS.host = opts.host or "127.0.0.1"
  OPTS.port = opts.port or 0
  OPTS.seed_tickets = opts.seed_tickets or 0
  OPTS.idle_exit = opts.idle_exit or 600
  running = true
  last_activity = now()

  math.randomseed(floor(socket.gettime() * 1000) % 2147483647)
  reset_state()
  S.open_connections = 0

  local server, berr = socket.bind(OPTS.host, OPTS.port)
  if not server then return nil, "cannot listen on " .. OPTS.host .. ":" .. OPTS.port .. ": " .. tostring(berr) end
  server:settimeout(0)
  local _, port = server:getsockname()
  S.port = tonumber(port)
  if opts.on_listen then
    opts.on_listen(S.port)
  else
    io.stdout:write("PORT ", tostring(port), "\n")
    io.stdout:flush()
  end

  local conns = {}

  local function close_conn(c)
    if c.want ~= "done" then
      c.want = "done"
      c.sock:close()
      S.open_connections = S.open_connections - 1
    end
  end

  local function resume(c)
    local ok, what = coroutine.resume(c.co)
    if not ok then
      -- Ctrl-C: the interpreter raises "interrupted!" once, at its next Lua
      -- step, which under LuaJIT (hooks are global there) may be inside this
      -- connection's coroutine; it stops the server, not just the connection
      if tostring(what):find("interrupted!", 1, true) then
        close_conn(c)
        error(what, 0)
      end
      io.stderr:write("fake_server: connection ", c.id, " failed: ", tostring(what), "\n")
      close_conn(c)
    elseif coroutine.status(c.co) == "dead" then
      close_conn(c)
    else
      c.want = what
    end
  end

  while running do
    local recvt, sendt = { server }, {}
    local t = now()
    local timeout = 1
    for _, c in ipairs(conns) do
      if c.want == "read" then recvt[#recvt + 1] = c.sock
      elseif c.want == "write" then sendt[#sendt + 1] = c.sock
      elseif c.want == "sleep" then
        local d = c.wake - t
        if d < timeout then timeout = d > 0 and d or 0 end
      end
    end
    local readable, writable = socket.select(recvt, sendt, timeout)
    if readable[server] then
      while true do
        local cl = server:accept()
        if not cl then break end
        cl:settimeout(0)
        cl:setoption("tcp-nodelay", true)
        conn_counter = conn_counter + 1
        S.stats.connections_total = S.stats.connections_total + 1
        S.open_connections = S.open_connections + 1
        local c = { sock = cl, id = conn_counter, buf = "", want = "start" }
        c.co = coroutine.create(function() serve(c) end)
        conns[#conns + 1] = c
      end
    end
    t = now()
    local alive = {}
    for _, c in ipairs(conns) do
      local w = c.want
      if w == "start" or (w == "read" and readable[c.sock]) or (w == "write" and writable[c.sock])
        or (w == "sleep" and t >= c.wake) then
        resume(c)
      end
      if c.want ~= "done" then alive[#alive + 1] = c end
    end
    conns = alive
    if OPTS.idle_exit > 0 and now() - last_activity > OPTS.idle_exit then
      io.stderr:write("fake_server: idle for ", OPTS.idle_exit, " s, exiting\n")
      running = false
    end
  end

  for _, c in ipairs(conns) do close_conn(c) end
  server:close()
  return true
end

--- Start a server in a child process and return its controls (see
-- hubsoft.fake_control): `srv:config()` is ready for hubsoft.new.
function fake.start(opts)
  return require("hubsoft.fake_control").start(opts)
end

-- Run as a script (`lua fake_server.lua --port N`), not loaded by require.
if (...) ~= "hubsoft.fake_server" then
  local o, msg = parse_args(arg or {})
  if not o then
    io.stderr:write("fake_server: ", msg, "\n")
    os.exit(2)
  end
  local ok, err = fake.serve(o)
  if not ok then
    io.stderr:write("fake_server: ", err, "\n")
    os.exit(1)
  end
  os.exit(0)
end

return fake
