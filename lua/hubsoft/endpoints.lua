--- The vendor's atendimento endpoints, as data, and the one caller that runs them.
--
-- Each row says how a method is called (`positional` arguments, then an
-- optional table of named parameters called `options`), where it goes
-- (`method`, `path` with `:name` placeholders, `body` = "json" or "query"),
-- which parameters it takes and the rules for each, cross-field `checks`, and
-- its retry class (`retry`: "read" may be retried freely, "write" creates or
-- changes something).
--
-- A parameter entry is `{name, rules = {...}, required =, default =, value =,
-- path_and_body =, control =, files =, shape =}`:
--
-- * `value`: fixed by the method; the caller may not pass it;
-- * `default`: used when the caller leaves it out;
-- * a name that appears in `path` goes into the path only, unless
--   `path_and_body` is set;
-- * `control`: chooses how the request is made, never sent;
-- * `files`: sent as the multipart attachments;
-- * `shape`: "object" or "objects" (an array of objects) marks how a table
--   is JSON-encoded, so an empty table is never ambiguous.
--
-- The caller validates everything first and returns `nil, err` (kind
-- "validation") without sending anything when a rule is broken.
-- @module hubsoft.endpoints

local V = require "hubsoft.validate"

local M = {}

local BASE = "/api/v1/integracao"

-- Relations each listing documents.
local REL_LISTAGEM = { "cliente_servico", "usuarios_responsaveis", "atendimento_mensagem", "checklists" }
local REL_CLIENTE = { "atendimento_mensagem", "ordem_servico_mensagem", "checklists" }

local EDIT_PARAMS = {
  { "fechar_atendimento", default = false, rules = { V.boolean } },
  { "descricao", rules = { V.nonempty_string } },
  { "parametros_fechamento", rules = { V.fechamento_editar }, shape = "object" },
  { "parametros", rules = { V.parametros_objeto }, shape = "object" },
  { "id_atendimento_status", rules = { V.id } },
  { "id_tipo_atendimento", rules = { V.id } },
}

--- The endpoint rows, in the order of the reference.
-- @table rows
M.rows = {
  {
    name = "consultar_atendimentos",
    method = "POST",
    path = BASE .. "/atendimento/paginado/:itens_por_pagina",
    body = "json",
    retry = "read", -- a POST that only queries
    options = "filtros",
    params = {
      { "itens_por_pagina", required = true, rules = { V.integer(1, 500) }, path_and_body = true },
      { "pagina", default = 0, rules = { V.integer(0) } },
      { "data_inicio", rules = { V.date } },
      { "data_fim", rules = { V.date } },
      { "tipo_atendimento", rules = { V.id_list } },
      { "status_atendimento", rules = { V.id_list } },
      { "id_servico", rules = { V.id } },
      { "relacoes", rules = { V.relacoes(REL_LISTAGEM) } },
      { "metodo_http", control = true, rules = { V.one_of { "GET", "POST" } } },
    },
    checks = { V.date_order },
    -- filtros.metodo_http = "GET" selects the vendor's GET form of the same
    -- endpoint: parameters in the query string, and the dates required.
    variants = {
      param = "metodo_http",
      GET = { method = "GET", body = "query", requires = { data_inicio = true, data_fim = true } },
    },
  },
  {
    name = "todos_atendimentos",
    method = "GET",
    path = BASE .. "/atendimento/todos",
    body = "query",
    retry = "read",
    options = "filtros",
    params = {
      { "pagina", rules = { V.integer(0) } },
      { "itens_por_pagina", rules = { V.integer(1, 500) } },
      { "data_inicio", rules = { V.date } },
      { "data_fim", rules = { V.date } },
      { "relacoes", rules = { V.relacoes(REL_LISTAGEM) } },
    },
    checks = { V.date_order },
  },
  {
    name = "abrir_atendimento",
    method = "POST",
    path = BASE .. "/atendimento",
    body = "json",
    retry = "write",
    options = "dados",
    params = {
      { "id_cliente_servico", required = true, rules = { V.id } },
      { "descricao", required = true, rules = { V.nonempty_string } },
      { "nome", required = true, rules = { V.nonempty_string } },
      { "telefone", required = true, rules = { V.telefone } },
      { "id_tipo_atendimento", rules = { V.id } },
      { "id_atendimento_status", rules = { V.id } },
      { "id_usuario_responsavel", rules = { V.id_list } },
      { "email", rules = { V.email } },
      { "id_origem_contato", rules = { V.id } },
      { "id_disponibilidade", rules = { V.id_list } },
      { "abrir_os", rules = { V.boolean } },
      { "parametros", rules = { V.parametros_lista }, shape = "objects" },
      { "parametros_ordem_servico", rules = { V.ordens_servico }, shape = "objects" },
      { "parametros_fechamento", rules = { V.fechamento_criar }, shape = "objects" },
    },
  },
  {
    name = "editar_atendimento",
    method = "PUT",
    path = BASE .. "/atendimento/:id_atendimento",
    body = "json",
    retry = "write",
    positional = { "id_atendimento" },
    options = "dados",
    params = {
      { "id_atendimento", required = true, rules = { V.id } },
      EDIT_PARAMS[1], EDIT_PARAMS[2], EDIT_PARAMS[3], EDIT_PARAMS[4], EDIT_PARAMS[5], EDIT_PARAMS[6],
    },
    checks = { V.close_alone },
  },
  {
    name = "fechar_atendimento",
    method = "PUT",
    path = BASE .. "/atendimento/:id_atendimento",
    body = "json",
    retry = "write",
    positional = { "id_atendimento" },
    options = "dados",
    params = {
      { "id_atendimento", required = true, rules = { V.id } },
      { "fechar_atendimento", value = true },
      -- Accepted here only to be refused by close_alone with a clear message.
      EDIT_PARAMS[2], EDIT_PARAMS[3], EDIT_PARAMS[4], EDIT_PARAMS[5], EDIT_PARAMS[6],
    },
    checks = { V.close_alone },
  },
  {
    name = "adicionar_mensagem",
    method = "POST",
    path = BASE .. "/atendimento/adicionar_mensagem/:id_atendimento",
    body = "json",
    retry = "write",
    positional = { "id_atendimento", "mensagem" },
    params = {
      { "id_atendimento", required = true, rules = { V.id } },
      { "mensagem", required = true, rules = { V.nonempty_string } },
    },
  },
  {
    name = "adicionar_anexos",
    method = "POST",
    path = BASE .. "/atendimento/adicionar_anexo/:id_atendimento",
    body = "multipart",
    retry = "write",
    positional = { "id_atendimento", "arquivos" },
    params = {
      { "id_atendimento", required = true, rules = { V.id } },
      { "arquivos", required = true, rules = { V.arquivos }, files = true },
    },
  },
  {
    name = "atendimentos_do_cliente",
    method = "GET",
    path = BASE .. "/cliente/atendimento",
    body = "query",
    retry = "read",
    positional = { "busca", "termo_busca" },
    options = "opcoes",
    params = {
      { "busca", required = true,
        rules = { V.one_of { "codigo_cliente", "cpf_cnpj", "id_cliente_servico", "protocolo" } } },
      { "termo_busca", required = true, rules = { V.termo_busca } },
      { "limit", rules = { V.integer(1, 50) } },
      { "apenas_pendente", rules = { V.sim_nao } },
      { "order_by", rules = { V.one_of { "data_cadastro", "data_fechamento" } } },
      { "order_type", rules = { V.one_of { "asc", "desc" } } },
      { "data_inicio", rules = { V.date } },
      { "data_fim", rules = { V.date } },
      { "relacoes", rules = { V.relacoes(REL_CLIENTE) } },
    },
    checks = { V.date_order },
  },
  {
    name = "configuracao",
    method = "GET",
    path = BASE .. "/configuracao/:recurso",
    body = "query",
    retry = "read",
    positional = { "recurso" },
    params = {
      { "recurso", required = true, rules = { V.recurso } },
    },
  },
}

--- Rows by method name.
-- @table by_name
M.by_name = {}
M.NONE = {} -- an empty list, shared, for rows without checks

-- Fill in what each row derives from its own data.
for _, row in ipairs(M.rows) do
  M.by_name[row.name] = row
  row.positional = row.positional or {}
  row.spec = {}
  row.in_path = {}
  for name in row.path:gmatch(":([%w_]+)") do
    row.in_path[name] = true
  end
  local options = {}
  local is_positional = {}
  for _, name in ipairs(row.positional) do
    is_positional[name] = true
  end
  row.is_positional = is_positional
  for _, p in ipairs(row.params) do
    p.name = p[1]
    p.rules = p.rules or {}
    row.spec[p.name] = p
    if not is_positional[p.name] and p.value == nil then
      options[#options + 1] = p.name
    end
  end
  table.sort(options)
  row.option_names = options
  row.allowed_text = table.concat(options, ", ")
  -- the path as literal pieces and parameter names, so building it per call
  -- needs no pattern matching: {"/api/.../atendimento/", {"id_atendimento"}}
  local pieces, pos = {}, 1
  for s, name, e in row.path:gmatch("():([%w_]+)()") do
    pieces[#pieces + 1] = row.path:sub(pos, s - 1)
    pieces[#pieces + 1] = { name }
    pos = e
  end
  pieces[#pieces + 1] = row.path:sub(pos)
  row.path_pieces = pieces
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do
    keys[#keys + 1] = k
  end
  table.sort(keys, function(a, b)
    return tostring(a) < tostring(b)
  end)
  return keys
end

local function is_empty(t)
  return next(t) == nil
end

-- Mark a normalized table for the JSON encoder.
local function shaped(core, shape, v)
  if shape == "object" then
    return core.object(v)
  elseif shape == "objects" then
    for i = 1, #v do
      core.object(v[i])
    end
    return core.array(v)
  end
  return v
end

local function failure(core, row, method, field, msg)
  return nil, core.error {
    kind = "validation",
    field = field,
    message = field .. ": " .. msg,
    method = method,
    url = row.path,
    retryable = false,
    attempts = 0,
  }
end

--- Validate a call and build the request it makes, without sending it.
-- @param core the C core module (for `error`, `array`, `object`)
-- @param row a row of `rows` (or its name)
-- @param ... the method's arguments (without the client)
-- @return `{method=, path=, opts={query=, json=, files=, idempotent=}}`,
--   or nil and a validation error
-- @usage local req = assert(endpoints.prepare(core, "configuracao", "disponibilidade"))
-- -- req.method == "GET", req.path == "/api/v1/integracao/configuracao/disponibilidade"
function M.prepare(core, row, ...)
  if type(row) == "string" then
    row = assert(M.by_name[row], "no such endpoint")
  end
  local method, body = row.method, row.body

  local function fail(field, msg)
    return failure(core, row, method, field, msg)
  end

  -- Gather the arguments into one table of raw values.
  local raw = {}
  local npos = #row.positional
  for i = 1, npos do
    raw[row.positional[i]] = (select(i, ...))
  end
  local last = npos
  if row.options then
    last = npos + 1
    local options = (select(last, ...))
    if options ~= nil and type(options) ~= "table" then
      return fail(row.options, "must be a table")
    end
    if options ~= nil then
      local bad = false
      for k, v in pairs(options) do
        local p = type(k) == "string" and row.spec[k]
        if not p or p.value ~= nil or row.is_positional[k] then
          bad = true
          break
        end
        raw[k] = v
      end
      -- A bad key: report the first in sorted order, so the message does not
      -- depend on the table's hash order.
      if bad then
        for _, k in ipairs(sorted_keys(options)) do
          local p = type(k) == "string" and row.spec[k]
          if not p then
            return fail(tostring(k), "unknown parameter for " .. row.name
              .. " (allowed: " .. row.allowed_text .. ")")
          elseif p.value ~= nil then
            return fail(k, "is set by " .. row.name .. " itself")
          elseif row.is_positional[k] then
            return fail(k, "is an argument of " .. row.name .. ", not a key of " .. row.options)
          end
        end
      end
    end
  end
  for i = last + 1, select("#", ...) do
    if select(i, ...) ~= nil then
      return fail("argument #" .. i, "unexpected argument to " .. row.name)
    end
  end

  -- The vendor's alternative form of the same endpoint, if one was chosen.
  local variant = row.variants and row.variants[raw[row.variants.param]]
  if type(variant) ~= "table" then
    variant = nil
  end
  if variant then
    method, body = variant.method or method, variant.body or body
  end

  -- Each parameter: required, then its rules (which also normalize it).
  local values = {}
  for _, p in ipairs(row.params) do
    local v = raw[p.name]
    if p.value ~= nil then
      v = p.value
    elseif v == nil then
      v = p.default
    end
    if V.blank(v) and (p.required or (variant and variant.requires and variant.requires[p.name])) then
      return fail(p.name, "is required")
    end
    if v ~= nil then
      for _, rule in ipairs(p.rules) do
        local msg, x = rule(v)
        if msg then
          return fail(p.name .. (x or ""), msg)
        end
        v = x
      end
      values[p.name] = v
    end
  end
  for _, check in ipairs(row.checks or M.NONE) do
    local field, msg = check(values)
    if field then
      return fail(field, msg)
    end
  end

  -- Build the request.
  local path = row.path
  local pieces = row.path_pieces
  if #pieces > 1 then
    local parts = {}
    for i = 1, #pieces do
      local piece = pieces[i]
      if type(piece) == "table" then
        local name = piece[1]
        piece = V.text(values[name])
        -- The rules already made these digits or [a-z_]; this is the last guard
        -- before anything reaches the URL.
        if not piece:match("^[%w_]+$") then
          return fail(name, "cannot be placed in a URL path")
        end
      end
      parts[i] = piece
    end
    path = table.concat(parts)
  end

  local query, json, files = {}, {}, nil
  for _, p in ipairs(row.params) do
    local v = values[p.name]
    if v ~= nil and not p.control and (p.path_and_body or not row.in_path[p.name]) then
      if p.files then
        files = v
      elseif body == "query" then
        query[p.name] = V.text(v)
      else
        json[p.name] = shaped(core, p.shape, v)
      end
    end
  end

  local opts = { idempotent = row.retry == "read" }
  if body == "multipart" then
    opts.files = files
  elseif body == "query" then
    if not is_empty(query) then
      opts.query = query
    end
  else
    opts.json = core.object(json)
  end
  return { method = method, path = path, opts = opts }
end

--- Install one method per row on the client's method table (called once by
-- `hubsoft`; internal, not part of the API).
-- @local
-- @param methods the client's method table (`core.methods`)
-- @param core the C core module
function M.install(methods, core)
  for _, row in ipairs(M.rows) do
    local name = row.name
    methods[name] = function(api, ...)
      if type(api) ~= "userdata" then
        error("hubsoft: call it with a colon: api:" .. name .. "(...)", 2)
      end
      local req, err = M.prepare(core, row, ...)
      if not req then
        return nil, err
      end
      local res, rerr = api:request(req.method, req.path, req.opts)
      if res ~= nil and type(res) ~= "table" then
        -- every vendor endpoint answers an object: a bare value is not it
        return nil, core.error {
          kind = "decode",
          message = "the response is not the JSON object expected (got a " .. type(res) .. ")",
          method = req.method,
          url = req.path,
          retryable = false,
          attempts = 1,
        }
      end
      return res, rerr
    end
  end
end

-- ------------------------------------------------------------------------
-- Documentation of the methods installed on the client
-- ------------------------------------------------------------------------

--- Query atendimentos page by page (POST .../atendimento/paginado/:itens_por_pagina).
-- `filtros`: `itens_por_pagina` (required, 1..500, also placed in the path),
-- `pagina` (from 0; sent as 0 when absent), `data_inicio`, `data_fim`
-- (`YYYY-MM-DD`), `tipo_atendimento`, `status_atendimento` (ids: array or
-- "1,2"), `id_servico`, `relacoes` (cliente_servico, usuarios_responsaveis,
-- atendimento_mensagem, checklists). `metodo_http = "GET"` uses the vendor's
-- GET form of the same endpoint instead: parameters in the query string,
-- `data_inicio` and `data_fim` required. Retried like a read.
-- @function consultar_atendimentos
-- @tparam table filtros
-- @treturn table the decoded response, or nil and an error table
-- @usage local r = assert(api:consultar_atendimentos{itens_por_pagina = 50,
--   data_inicio = "2022-08-01", data_fim = "2022-08-31"})

--- List atendimentos (GET .../atendimento/todos).
-- `filtros`: `pagina` (>= 0), `itens_por_pagina` (1..500), `data_inicio`,
-- `data_fim`, `relacoes` (as for consultar_atendimentos).
-- @function todos_atendimentos
-- @tparam[opt] table filtros
-- @treturn table the decoded response, or nil and an error table
-- @usage local r = assert(api:todos_atendimentos{pagina = 0, itens_por_pagina = 100})

--- Open an atendimento (POST .../atendimento). Sent once: not retried
-- unless nothing reached the server.
-- Required: `id_cliente_servico`, `descricao`, `nome`, `telefone` (10 or 11
-- digits). Optional: `id_tipo_atendimento`, `id_atendimento_status`,
-- `id_usuario_responsavel` and `id_disponibilidade` (ids: array or "1,2"),
-- `email`, `id_origem_contato`, `abrir_os` (boolean), `parametros` (a table or
-- an array of tables of scalars), `parametros_ordem_servico` (see
-- hubsoft.parametros_ordem_servico), `parametros_fechamento` (with
-- `id_motivo_fechamento_atendimento`).
-- @function abrir_atendimento
-- @tparam table dados
-- @treturn table the decoded response, or nil and an error table
-- @usage local r = assert(api:abrir_atendimento{id_cliente_servico = 1234,
--   descricao = "Sem conexão", nome = "João", telefone = "11987654321"})
-- print(r.atendimento.protocolo)

--- Edit an atendimento (PUT .../atendimento/:id_atendimento).
-- `dados`: `fechar_atendimento` (boolean, sent as false when absent),
-- `descricao`, `parametros` (table of scalars), `parametros_fechamento`
-- (`id_motivo_fechamento`, `descricao_fechamento`, `status_fechamento`),
-- `id_atendimento_status`, `id_tipo_atendimento`. Closing and changing the
-- status or type in the same call is refused.
-- @function editar_atendimento
-- @param id_atendimento positive id
-- @tparam[opt] table dados
-- @treturn table the decoded response, or nil and an error table
-- @usage assert(api:editar_atendimento(123, {id_atendimento_status = 3}))

--- Close an atendimento and its service orders: the edit PUT with
-- `fechar_atendimento = true`. `dados` (optional): `parametros`,
-- `parametros_fechamento` (`id_motivo_fechamento`, `descricao_fechamento`,
-- `status_fechamento`), `descricao`.
-- @function fechar_atendimento
-- @param id_atendimento positive id
-- @tparam[opt] table dados
-- @treturn table the decoded response, or nil and an error table
-- @usage assert(api:fechar_atendimento(123, {parametros_fechamento =
--   {id_motivo_fechamento = 108, descricao_fechamento = "Resolvido"}}))

--- Add a message to an atendimento (POST .../adicionar_mensagem/:id_atendimento).
-- @function adicionar_mensagem
-- @param id_atendimento positive id
-- @tparam string mensagem not empty
-- @treturn table the decoded response, or nil and an error table
-- @usage assert(api:adicionar_mensagem(123, "Cliente retornou a ligação"))

--- Attach files to an atendimento (multipart POST .../adicionar_anexo/:id_atendimento).
-- Each item of `arquivos` is a path, `{path=, filename=, content_type=}` or
-- `{data=, filename=, content_type=}`; every path must be readable before
-- anything is sent.
-- @function adicionar_anexos
-- @param id_atendimento positive id
-- @tparam table arquivos non-empty list
-- @treturn table the decoded response, or nil and an error table
-- @usage assert(api:adicionar_anexos(123, {"/tmp/speedtest.png",
--   {data = log, filename = "ping.txt", content_type = "text/plain"}}))

--- A customer's atendimentos (GET .../cliente/atendimento).
-- `opcoes`: `limit` (1..50), `apenas_pendente` ("sim", "nao" or a boolean),
-- `order_by` (data_cadastro, data_fechamento), `order_type` (asc, desc),
-- `data_inicio`, `data_fim`, `relacoes` (atendimento_mensagem,
-- ordem_servico_mensagem, checklists).
-- @function atendimentos_do_cliente
-- @tparam string busca codigo_cliente, cpf_cnpj, id_cliente_servico or protocolo
-- @param termo_busca non-empty string or whole number (keep CPFs and protocols as strings)
-- @tparam[opt] table opcoes
-- @treturn table the decoded response, or nil and an error table
-- @usage local r = assert(api:atendimentos_do_cliente("cpf_cnpj", "12345678901",
--   {apenas_pendente = false, limit = 50}))

--- A configuration list (GET .../configuracao/:recurso), e.g. "status_atendimento",
-- "disponibilidade", "tipo_atendimento".
-- @function configuracao
-- @tparam string recurso lower-case letters and underscores
-- @treturn table the decoded response, or nil and an error table
-- @usage local r = assert(api:configuracao("status_atendimento"))

return M
