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
    descricao_abertura = t.descricao,
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
  local pagina = get(p, "pagina")
  if is_null(pagina) or pagina == "" then pagina = 0 else pagina = to_int(pagina) end
  if not pagina or pagina < 0 then return api_error(VALIDATION_MSG, { "O campo pagina deve ser um número inteiro." }) end
  if pagina == 0 then pagina = 1 end
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
