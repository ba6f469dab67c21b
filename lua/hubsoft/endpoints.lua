--- The vendor's endpoints, as data, and the one caller that runs them.
--
-- Each row of `rows` describes one method. Programs that read the rows
-- generically (the command line's `help`, the nginx wrapper) may rely on
-- these fields and their meaning; new fields are only ever added.
--
-- Row fields:
--
-- * `name`: the method's name (`api:name(...)`);
-- * `method`, `path`: the HTTP method and the path, with `:name`
--   placeholders filled from the parameter of that name;
-- * `body`: where the parameters go: "json" (a JSON object body), "query"
--   (the query string) or "multipart" (the `files` parameter as attachments);
-- * `retry`: the retry class: "read" may be retried freely; "write" creates
--   or changes something at the vendor and is never sent twice once a byte
--   of it may have reached the server (whatever its HTTP method: a GET can be
--   a write, see `solicitar_desconexao`);
-- * `positional`: the names of the positional arguments, in order; then,
--   when `options` is set, one optional table of named parameters, `options`
--   being its name in the docs ("filtros", "dados", "opcoes");
-- * `params`: every parameter (below), positional ones included;
-- * `checks`: cross-field checks (`V.date_order`, `V.together(a, b)`...),
--   each `check(values) -> field, message` or nil;
-- * `variants` (optional): an alternative form of the same endpoint chosen by
--   a control parameter (`consultar_atendimentos`' `metodo_http = "GET"`);
-- * `paging` (optional): the method is paginated and `api:pages` / `api:each`
--   walk it: `records` is the key of the answer holding the records (a list,
--   or a Laravel paginator whose `data` is the list), `page` the parameter
--   choosing the page, and `query_page`, when set, a second name under which
--   the page number also goes into the query string, counted from 1 (the
--   vendor's Laravel paginator reads only `?page=N`).
--
-- A parameter entry is `{name, rules = {...}, required =, default =, value =,
-- path_and_body =, control =, files =, shape =, spread =}`:
--
-- * `rules`: functions from `hubsoft.validate`, applied in order; each
--   returns nil and the value to send, or a message (see that module);
-- * `required`: the call is refused without it (nil or blank);
-- * `value`: fixed by the method; the caller may not pass it;
-- * `default`: used when the caller leaves it out;
-- * a name that appears in `path` goes into the path only, unless
--   `path_and_body` is set;
-- * `control`: chooses how the request is made, never sent;
-- * `files`: sent as the multipart attachments;
-- * `shape`: "object" or "objects" (an array of objects) marks how a table
--   is JSON-encoded, so an empty table is never ambiguous;
-- * `spread`: a table whose keys are sent as parameters of their own
--   (`configuracao`'s `filtros`).
--
-- The caller validates everything first and returns `nil, err` (kind
-- "validation", `err.field` naming the parameter) without sending anything
-- when a rule is broken.
-- @module hubsoft.endpoints

local V = require "hubsoft.validate"

local M = {}

local BASE = "/api/v1/integracao"

-- Relations each listing documents.
local REL_LISTAGEM = { "cliente_servico", "usuarios_responsaveis", "atendimento_mensagem", "checklists" }
local REL_CLIENTE = { "atendimento_mensagem", "ordem_servico_mensagem", "checklists" }
local REL_CLIENTES = {
  "endereco_instalacao", "endereco_cadastral", "endereco_cobranca", "endereco_fiscal", "pacotes",
  "interface", "interface_roteamento", "equipamento_conexao", "equipamento_roteamento", "grupos",
  "porta_atendimento", "senhas", "status_conexao",
}

local SERVICO_STATUS = {
  "agendado_para_instalacao", "aguardando_assinatura_contrato", "aguardando_configuracao",
  "aguardando_instalacao", "aguardando_liberacao_ti", "aguardando_migracao", "cancelado",
  "franquia_excedida", "inativo", "servico_habilitado", "suspenso_debito", "suspenso_parcialmente",
  "suspenso_pedido_cliente",
}

-- The dates a service-order range or order applies to.
local OS_DATAS = {
  "data_cadastro", "data_inicio_programado", "data_inicio_executado",
  "data_termino_programado", "data_termino_executado",
}
local ASC_DESC = V.one_of { "asc", "desc" }

-- The PBX calls take the same fields (the rst applies all six to both).
local LIGACAO_PARAMS = {
  { "ramal", rules = { V.digits } },
  { "identificador_interno", rules = { V.alphanumeric } },
  { "codigo_cliente", rules = { V.id } },
  { "id_cliente", rules = { V.id } },
  { "telefone", rules = { V.telefone } },
  { "ligacao_params", rules = { V.free_object }, shape = "object" },
}

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
      { "id_servico", rules = { V.id_or_id_list } },
      { "relacoes", rules = { V.relacoes(REL_LISTAGEM) } },
      { "metodo_http", control = true, rules = { V.one_of { "GET", "POST" } } },
    },
    checks = { V.date_order },
    -- The vendor's server is a Laravel paginator that reads the page only
    -- from ?page=N (from 1); the reference's form reads `pagina` (from 0).
    -- Both are sent, so either server gets the page asked for.
    paging = { records = "atendimentos", page = "pagina", query_page = "page" },
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
      -- the reference names no relations for this listing: any name goes
      { "relacoes", rules = { V.relacoes(nil) } },
    },
    checks = { V.date_order },
    paging = { records = "atendimentos", page = "pagina" },
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
    positional = { "recurso", "filtros" },
    params = {
      { "recurso", required = true, rules = { V.recurso } },
      -- e.g. {id_tipo_atendimento = 132} for motivo_fechamento_atendimento
      { "filtros", rules = { V.query_filters }, spread = true },
    },
  },

  -- The rest of the support desk (vendor docs: clientes, ordem_servico, pbx).
  {
    name = "consultar_clientes",
    method = "GET",
    path = BASE .. "/cliente",
    body = "query",
    retry = "read",
    positional = { "busca", "termo_busca" },
    options = "opcoes",
    params = {
      { "busca", required = true, rules = { V.one_of {
        "nome_razaosocial", "nome_fantasia", "cpf_cnpj", "codigo_cliente", "telefone",
        "login_radius", "ipv4", "mac", "id_cliente_servico" } } },
      { "termo_busca", required = true, rules = { V.termo_busca } },
      { "limit", rules = { V.integer(1, 100) } },
      { "cancelado", rules = { V.sim_nao } },
      { "ultima_conexao", rules = { V.sim_nao } },
      { "incluir_contrato", rules = { V.sim_nao } },
      { "inativo", rules = { V.sim_nao_todos } },
      { "incluir_alarmes", rules = { V.sim_nao } },
      { "servico_status", rules = { V.one_of(SERVICO_STATUS) } },
      { "order_by", rules = { V.one_of { "data_cadastro", "data_fechamento" } } },
      { "order_type", rules = { ASC_DESC } },
    },
  },
  {
    name = "todos_clientes",
    method = "GET",
    path = BASE .. "/cliente/todos",
    body = "query",
    retry = "read",
    options = "filtros",
    params = {
      -- the vendor requires it: page 0 when the caller leaves it out
      { "pagina", default = 0, rules = { V.integer(0) } },
      { "itens_por_pagina", required = true, rules = { V.integer(1, 500) } },
      { "data_inicio", rules = { V.date } },
      { "data_fim", rules = { V.date } },
      { "cancelado", rules = { V.sim_nao } },
      { "possui_pacote", rules = { V.sim_nao } },
      { "codigo_pacote", rules = { V.text_or_integer } },
      { "servico_status", rules = { V.one_of(SERVICO_STATUS) } },
      { "relacoes", rules = { V.relacoes(REL_CLIENTES) } },
    },
    checks = { V.date_order },
    paging = { records = "clientes", page = "pagina" },
  },
  {
    name = "extrato_conexao",
    method = "GET",
    path = BASE .. "/cliente/extrato_conexao",
    body = "query",
    retry = "read",
    positional = { "busca", "termo_busca" },
    options = "opcoes",
    params = {
      { "busca", required = true, rules = { V.one_of { "login", "ipv4", "ipv6_wan", "ipv6_lan", "mac" } } },
      { "termo_busca", required = true, rules = { V.termo_busca } },
      { "limit", rules = { V.integer(1, 50) } },
      { "data_inicio", rules = { V.date } },
      { "data_fim", rules = { V.date } },
    },
    checks = { V.date_order },
  },
  {
    name = "desbloqueio_confianca",
    method = "POST",
    path = BASE .. "/cliente/desbloqueio_confianca",
    body = "json",
    retry = "write",
    positional = { "id_cliente_servico", "dias_desbloqueio" },
    params = {
      { "id_cliente_servico", required = true, rules = { V.id } },
      { "dias_desbloqueio", rules = { V.integer(1) } },
    },
  },
  {
    name = "solicitar_desconexao",
    method = "GET",
    path = BASE .. "/cliente/solicitar_desconexao/:id_cliente_servico",
    body = "query",
    retry = "write", -- a GET that drops the customer's session
    positional = { "id_cliente_servico" },
    params = {
      { "id_cliente_servico", required = true, rules = { V.id } },
    },
  },
  {
    name = "resetar_mac",
    method = "POST",
    path = BASE .. "/cliente/reset_mac_addr",
    body = "json",
    retry = "write",
    positional = { "id_cliente_servico" },
    params = {
      { "id_cliente_servico", required = true, rules = { V.id } },
    },
  },
  {
    name = "consultar_ordens_servico",
    method = "POST",
    path = BASE .. "/ordem_servico/consultar",
    body = "json",
    retry = "read", -- a POST that only queries
    options = "filtros",
    params = {
      { "consulta", required = true, rules = { V.text_or_integer } },
      { "data_inicio", required = true, rules = { V.date_or_datetime } },
      { "data_fim", required = true, rules = { V.date_or_datetime } },
      { "tipo_data", rules = { V.one_of(OS_DATAS) } },
      { "order_by", rules = { V.one_of(OS_DATAS) } },
      { "order_by_key", rules = { ASC_DESC } },
      { "status", rules = { V.one_of { "pendente", "finalizado", "aguardando_agendamento" } } },
      { "tecnicos", rules = { V.tecnicos }, shape = "objects" },
      { "tipo_ordem_servicos", rules = { V.tipos_ordem_servico }, shape = "objects" },
      { "id_ordem_servico", rules = { V.id } },
    },
    checks = { V.datetime_order },
  },
  {
    name = "todas_ordens_servico",
    method = "GET",
    path = BASE .. "/ordem_servico/todos",
    body = "query",
    retry = "read",
    options = "filtros",
    params = {
      { "pagina", default = 0, rules = { V.integer(0) } },
      { "itens_por_pagina", required = true, rules = { V.integer(1, 500) } },
      { "data_inicio", rules = { V.date } },
      { "data_fim", rules = { V.date } },
      { "tipo_data", rules = { V.one_of(OS_DATAS) } },
      { "relacoes", rules = { V.relacoes { "tecnicos" } } },
    },
    checks = { V.date_order },
    paging = { records = "ordens_servico", page = "pagina" },
  },
  {
    name = "ordens_servico_do_cliente",
    method = "GET",
    path = BASE .. "/cliente/ordem_servico",
    body = "query",
    retry = "read",
    positional = { "busca", "termo_busca" },
    options = "opcoes",
    params = {
      { "busca", required = true,
        rules = { V.one_of { "codigo_cliente", "cpf_cnpj", "id_cliente_servico", "numero_ordem_servico" } } },
      -- documented as optional
      { "termo_busca", rules = { V.termo_busca } },
      { "limit", rules = { V.integer(1, 50) } },
      { "status", rules = { V.one_of { "pendente", "aguardando_agendamento", "finalizado" } } },
      { "order_by", rules = { V.one_of { "data_cadastro", "data_inicio_programado" } } },
      { "order_type", rules = { ASC_DESC } },
      { "data_inicio", rules = { V.date } },
      { "data_fim", rules = { V.date } },
    },
    checks = { V.date_order },
  },
  {
    name = "agendar_ordem_servico",
    method = "POST",
    path = BASE .. "/ordem_servico/agendar",
    body = "json",
    retry = "write",
    positional = { "id_ordem_servico" },
    params = {
      { "id_ordem_servico", required = true, rules = { V.id } },
    },
  },
  {
    name = "reagendar_ordem_servico",
    method = "POST",
    path = BASE .. "/ordem_servico/reagendar",
    body = "json",
    retry = "write",
    positional = { "id_ordem_servico" },
    options = "dados",
    params = {
      { "id_ordem_servico", required = true, rules = { V.id } },
      { "data_inicio_programado", required = true, rules = { V.date } },
      { "hora_inicio_programado", required = true, rules = { V.hora } },
      { "data_termino_programado", required = true, rules = { V.date } },
      { "hora_termino_programado", required = true, rules = { V.hora } },
      { "id_usuario_antigo", rules = { V.id } },
      { "id_usuario_novo", rules = { V.id } },
    },
    checks = { V.together("id_usuario_antigo", "id_usuario_novo"), V.schedule_order },
  },
  {
    name = "remover_agendamento",
    method = "POST",
    path = BASE .. "/ordem_servico/remove_agendamento",
    body = "json",
    retry = "write",
    positional = { "id_ordem_servico" },
    options = "dados",
    params = {
      { "id_ordem_servico", required = true, rules = { V.id } },
      { "id_motivo_remocao_agendamento", required = true, rules = { V.id } },
      { "observacao", required = true, rules = { V.min_chars(10) } },
    },
  },
  {
    name = "notificar_ligacao",
    method = "POST",
    path = BASE .. "/pbx/ligacao/notificar",
    body = "json",
    retry = "write",
    options = "dados",
    params = LIGACAO_PARAMS,
    checks = { V.one_required("ramal", "identificador_interno") },
  },
  {
    name = "cancelar_ligacao",
    method = "POST",
    path = BASE .. "/pbx/ligacao/cancelar",
    body = "json",
    retry = "write",
    options = "dados",
    params = LIGACAO_PARAMS,
    checks = { V.one_required("ramal", "identificador_interno") },
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
  row.npos = #row.positional
  -- params[i]'s position among the positional arguments, or false: a
  -- parameter entry may be shared by rows, so this lives on the row
  local param_pos = {}
  for i, p in ipairs(row.params) do
    param_pos[i] = false
    for j, name in ipairs(row.positional) do
      if name == p.name then
        param_pos[i] = j
      end
    end
  end
  row.param_pos = param_pos
  if row.variants then
    for j, name in ipairs(row.positional) do
      if name == row.variants.param then
        row.variants_pos = j
      end
    end
  end
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

local find, select, type = string.find, select, type
local blank, text = V.blank, V.text

-- Path pieces already checked against ^[%w_]+$: a call with the same id or
-- resource name again skips the pattern. Bounded, so it cannot grow without
-- limit on a long-running client that walks many ids.
local SAFE_PIECES_MAX = 256
local safe_pieces, n_safe_pieces = {}, 0

local function url_piece(v)
  local piece = type(v) == "string" and v or text(v)
  if safe_pieces[piece] then
    return piece
  end
  if not find(piece, "^[%w_]+$") then
    return nil
  end
  if n_safe_pieces >= SAFE_PIECES_MAX then
    safe_pieces, n_safe_pieces = {}, 0
  end
  safe_pieces[piece], n_safe_pieces = true, n_safe_pieces + 1
  return piece
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

-- A validation error for `field`: nothing was sent.
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

-- The options table's keys into `raw`; nil, or the failure to report.
-- A bad key: the first in sorted order is reported, so the message does not
-- depend on the table's hash order.
local function gather_options(core, row, method, options, raw)
  local bad = false
  for k, v in pairs(options) do
    local p = type(k) == "string" and row.spec[k]
    if not p or p.value ~= nil or row.is_positional[k] then
      bad = true
      break
    end
    raw[k] = v
  end
  if bad then
    for _, k in ipairs(sorted_keys(options)) do
      local p = type(k) == "string" and row.spec[k]
      if not p then
        return failure(core, row, method, tostring(k), "unknown parameter for " .. row.name
          .. " (allowed: " .. row.allowed_text .. ")")
      elseif p.value ~= nil then
        return failure(core, row, method, k, "is set by " .. row.name .. " itself")
      elseif row.is_positional[k] then
        return failure(core, row, method, k, "is an argument of " .. row.name .. ", not a key of " .. row.options)
      end
    end
  end
  return true
end

-- M.prepare's work, returning method, path, opts (no table around them, and
-- no closure, table or string built that the call does not need: this runs
-- on every call). Or nil and the validation error.
local function prepare(core, row, ...)
  local method, body = row.method, row.body

  -- The arguments: positional ones are read from `...` where they are
  -- needed; the options table, when there is one, is copied into `raw`.
  local npos = row.npos
  local raw
  local last = npos
  if row.options then
    last = npos + 1
    local options = (select(last, ...))
    if options ~= nil then
      if type(options) ~= "table" then
        return failure(core, row, method, row.options, "must be a table")
      end
      raw = {}
      local ok, err = gather_options(core, row, method, options, raw)
      if not ok then
        return nil, err
      end
    end
  end
  local nargs = select("#", ...)
  if nargs > last then
    for i = last + 1, nargs do
      if select(i, ...) ~= nil then
        return failure(core, row, method, "argument #" .. i, "unexpected argument to " .. row.name)
      end
    end
  end

  -- The vendor's alternative form of the same endpoint, if one was chosen.
  local variant
  local variants = row.variants
  if variants then
    local v
    if row.variants_pos then
      v = (select(row.variants_pos, ...))
    elseif raw then
      v = raw[variants.param]
    end
    variant = variants[v]
    if type(variant) ~= "table" then
      variant = nil
    end
    if variant then
      method, body = variant.method or method, variant.body or body
    end
  end
  local requires = variant and variant.requires

  -- Each parameter: required, then its rules (which also normalize it).
  local values = {}
  local params, param_pos = row.params, row.param_pos
  for i = 1, #params do
    local p = params[i]
    local name = p.name
    local v
    if p.value ~= nil then
      v = p.value
    else
      local pos = param_pos[i]
      if pos then
        v = (select(pos, ...))
      elseif raw then
        v = raw[name]
      end
      if v == nil then
        v = p.default
      end
    end
    if (p.required or (requires and requires[name])) and blank(v) then
      return failure(core, row, method, name, "is required")
    end
    if v ~= nil then
      local rules = p.rules
      for j = 1, #rules do
        local msg, x = rules[j](v)
        if msg then
          return failure(core, row, method, name .. (x or ""), msg)
        end
        v = x
      end
      values[name] = v
    end
  end
  local checks = row.checks
  if checks then
    for i = 1, #checks do
      local field, msg = checks[i](values)
      if field then
        return failure(core, row, method, field, msg)
      end
    end
  end

  -- Build the request.
  local path = row.path
  local pieces = row.path_pieces
  local npieces = #pieces
  if npieces == 3 then
    -- one placeholder: no table to concatenate
    local name = pieces[2][1]
    local piece = url_piece(values[name])
    -- The rules already made these digits or [a-z_]; this is the last guard
    -- before anything reaches the URL.
    if not piece then
      return failure(core, row, method, name, "cannot be placed in a URL path")
    end
    path = pieces[1] .. piece .. pieces[3]
  elseif npieces > 1 then
    local parts = {}
    for i = 1, npieces do
      local piece = pieces[i]
      if type(piece) == "table" then
        local name = piece[1]
        piece = url_piece(values[name])
        if not piece then
          return failure(core, row, method, name, "cannot be placed in a URL path")
        end
      end
      parts[i] = piece
    end
    path = table.concat(parts)
  end

  local query, json, files
  local in_path = row.in_path
  for i = 1, #params do
    local p = params[i]
    local name = p.name
    local v = values[name]
    if v ~= nil and not p.control and (p.path_and_body or not in_path[name]) then
      if p.files then
        files = v
      elseif p.spread then
        local keys = sorted_keys(v)
        for j = 1, #keys do
          local k = keys[j]
          if row.spec[k] then
            return failure(core, row, method, name .. "." .. k,
              "is a parameter of " .. row.name .. " itself, not a filter")
          end
          if body == "query" then
            query = query or {}
            query[k] = type(v[k]) == "table" and v[k] or text(v[k])
          else
            json = json or {}
            json[k] = v[k]
          end
        end
      elseif body == "query" then
        query = query or {}
        query[name] = text(v)
      else
        json = json or {}
        json[name] = shaped(core, p.shape, v)
      end
    end
  end
  -- The page number also in the query string, from 1 (see `paging` above).
  local paging = row.paging
  if paging and paging.query_page and values[paging.page] ~= nil then
    query = query or {}
    query[paging.query_page] = text(math.max(values[paging.page], 1))
  end

  -- A read may be re-sent; a write never once it may have reached the
  -- server. Said explicitly both ways: a GET may be a write.
  local idempotent = row.retry == "read"
  if body == "multipart" then
    return method, path, { idempotent = idempotent, files = files }
  elseif body == "query" then
    return method, path, { idempotent = idempotent, query = query }
  end
  return method, path, { idempotent = idempotent, query = query, json = core.object(json or {}) }
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
  local method, path, opts = prepare(core, row, ...)
  if not method then
    return nil, path
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
      local method, path, opts = prepare(core, row, ...)
      if not method then
        return nil, path
      end
      local res, rerr = api:request(method, path, opts)
      if res ~= nil and type(res) ~= "table" then
        -- every vendor endpoint answers an object: a bare value is not it
        return nil, core.error {
          kind = "decode",
          message = "the response is not the JSON object expected (got a " .. type(res) .. ")",
          method = method,
          url = path,
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
-- "1,2"), `id_servico` (an id or ids), `relacoes` (cliente_servico,
-- usuarios_responsaveis, atendimento_mensagem, checklists). The page goes as
-- `pagina` and also as `?page=N` (at least 1), which is all the vendor's
-- Laravel paginator reads. `metodo_http = "GET"` uses the vendor's
-- GET form of the same endpoint instead: parameters in the query string,
-- `data_inicio` and `data_fim` required. Retried like a read.
-- @function consultar_atendimentos
-- @tparam table filtros
-- @treturn table the decoded response, or nil and an error table
-- @usage local r = assert(api:consultar_atendimentos{itens_por_pagina = 50,
--   data_inicio = "2022-08-01", data_fim = "2022-08-31"})

--- List atendimentos (GET .../atendimento/todos).
-- `filtros`: `pagina` (>= 0), `itens_por_pagina` (1..500), `data_inicio`,
-- `data_fim`, `relacoes` (any relation names: the reference lists none here).
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
-- an array of tables, any nesting), `parametros_ordem_servico` (see
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
-- `descricao`, `parametros` (a table, any nesting), `parametros_fechamento`
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
-- "disponibilidade", "tipo_atendimento", "motivo_fechamento_atendimento".
-- `filtros` go to the query string: parameter names (letters, digits, `_`) to
-- strings, numbers, booleans or arrays of them.
-- @function configuracao
-- @tparam string recurso lower-case letters and underscores
-- @tparam[opt] table filtros e.g. `{id_tipo_atendimento = 132}`
-- @treturn table the decoded response, or nil and an error table
-- @usage local r = assert(api:configuracao("motivo_fechamento_atendimento", {id_tipo_atendimento = 132}))

--- Search customers (GET .../cliente). A read.
-- `opcoes`: `limit` (1..100, server default 5), `cancelado`, `ultima_conexao`,
-- `incluir_contrato`, `incluir_alarmes` ("sim", "nao" or a boolean), `inativo`
-- ("sim", "nao", "todos" or a boolean), `servico_status` (a service-status
-- prefix), `order_by` (data_cadastro, data_fechamento), `order_type` (asc, desc).
-- Answers `{clientes = {...}}`; each customer holds `servicos`, each with its
-- `id_cliente_servico` (see docs/METHODS.md, "What the records hold").
-- @function consultar_clientes
-- @tparam string busca nome_razaosocial, nome_fantasia, cpf_cnpj, codigo_cliente,
--   telefone, login_radius, ipv4, mac or id_cliente_servico
-- @param termo_busca non-empty string or whole number
-- @tparam[opt] table opcoes
-- @treturn table the decoded response, or nil and an error table
-- @usage local r = assert(api:consultar_clientes("telefone", hubsoft.telefone(caller_id), {limit = 1}))
-- local servico = r.clientes[1] and r.clientes[1].servicos[1]

--- Every customer, page by page (GET .../cliente/todos); walk it with
-- `api:each("todos_clientes", filtros)`. A read.
-- `filtros`: `itens_por_pagina` (required, 1..500), `pagina` (from 0; 0 when
-- absent), `data_inicio`, `data_fim` (registration date), `cancelado`,
-- `possui_pacote` ("sim"/"nao"/boolean), `codigo_pacote`, `servico_status`,
-- `relacoes` (endereco_instalacao, endereco_cadastral, endereco_cobranca,
-- endereco_fiscal, pacotes, interface, interface_roteamento, equipamento_conexao,
-- equipamento_roteamento, grupos, porta_atendimento, senhas, status_conexao).
-- @function todos_clientes
-- @tparam table filtros
-- @treturn table `{paginacao = {...}, clientes = {...}}`, or nil and an error table
-- @usage for cliente in api:each("todos_clientes", {itens_por_pagina = 100}) do print(cliente.nome_razaosocial) end

--- A service's RADIUS sessions (GET .../cliente/extrato_conexao). A read.
-- `opcoes`: `limit` (1..50), `data_inicio`, `data_fim`.
-- @function extrato_conexao
-- @tparam string busca login, ipv4, ipv6_wan, ipv6_lan or mac
-- @param termo_busca non-empty string
-- @tparam[opt] table opcoes
-- @treturn table `{registros = {...}, estatisticas = {...}}`, or nil and an error table
-- @usage local r = assert(api:extrato_conexao("login", servico.login, {limit = 10}))

--- Unlock a service on trust (POST .../cliente/desbloqueio_confianca). A
-- write: sent once. The ISP's maximum of days is enforced by the server (an
-- "api" error).
-- @function desbloqueio_confianca
-- @param id_cliente_servico positive id
-- @param[opt] dias_desbloqueio integer >= 1 (the server's default is 1: until tomorrow)
-- @treturn table `{status, msg}`, or nil and an error table
-- @usage local r, err = api:desbloqueio_confianca(17812)

--- Drop the service's connection so it reconnects (GET
-- .../cliente/solicitar_desconexao/:id_cliente_servico). A write despite the
-- GET: never re-sent once it may have reached the server.
-- @function solicitar_desconexao
-- @param id_cliente_servico positive id
-- @treturn table `{status, msg, login}`, or nil and an error table
-- @usage assert(api:solicitar_desconexao(17812))

--- Clear the MAC address bound to the service (POST .../cliente/reset_mac_addr). A write.
-- @function resetar_mac
-- @param id_cliente_servico positive id
-- @treturn table `{status, msg}`, or nil and an error table
-- @usage assert(api:resetar_mac(17812))

--- Search service orders (POST .../ordem_servico/consultar). A read despite the POST.
-- `filtros`: `consulta` (required: an O.S. number or a customer's name),
-- `data_inicio`, `data_fim` (required, `YYYY-MM-DD` or `YYYY-MM-DD HH:MM:SS`),
-- `tipo_data`, `order_by` (data_cadastro, data_inicio_programado,
-- data_inicio_executado, data_termino_programado, data_termino_executado),
-- `order_by_key` (asc, desc), `status` (pendente, finalizado,
-- aguardando_agendamento), `tecnicos` (ids or `{id = n}` tables),
-- `tipo_ordem_servicos` (ids or `{id_tipo_ordem_servico = n}` tables),
-- `id_ordem_servico`.
-- @function consultar_ordens_servico
-- @tparam table filtros
-- @treturn table `{ordens_servico = {...}}`, or nil and an error table
-- @usage local r = assert(api:consultar_ordens_servico{consulta = "João",
--   data_inicio = "2025-09-01", data_fim = "2025-09-30", tecnicos = {4}})

--- Every service order, page by page (GET .../ordem_servico/todos); walk it
-- with `api:each("todas_ordens_servico", filtros)`. A read.
-- `filtros`: `itens_por_pagina` (required, 1..500), `pagina` (from 0),
-- `data_inicio`, `data_fim`, `tipo_data` (as for consultar_ordens_servico),
-- `relacoes` ("tecnicos").
-- @function todas_ordens_servico
-- @tparam table filtros
-- @treturn table `{paginacao = {...}, ordens_servico = {...}}`, or nil and an error table
-- @usage for os in api:each("todas_ordens_servico", {itens_por_pagina = 100}) do print(os.numero) end

--- A customer's service orders (GET .../cliente/ordem_servico). A read.
-- `opcoes`: `limit` (1..50), `status` (pendente, aguardando_agendamento,
-- finalizado), `order_by` (data_cadastro, data_inicio_programado),
-- `order_type` (asc, desc), `data_inicio`, `data_fim`.
-- @function ordens_servico_do_cliente
-- @tparam string busca codigo_cliente, cpf_cnpj, id_cliente_servico or numero_ordem_servico
-- @param[opt] termo_busca non-empty string or whole number (optional, as documented)
-- @tparam[opt] table opcoes
-- @treturn table `{status = "suscess", ordens_servico = {...}}`, or nil and an error table
-- @usage local r = assert(api:ordens_servico_do_cliente("cpf_cnpj", cpf, {status = "pendente"}))

--- Schedule a service order awaiting scheduling (POST .../ordem_servico/agendar). A write.
-- @function agendar_ordem_servico
-- @param id_ordem_servico positive id
-- @treturn table `{ordem_servico = {...}}`, or nil and an error table
-- @usage assert(api:agendar_ordem_servico(1493))

--- Reschedule a service order (POST .../ordem_servico/reagendar). A write.
-- `dados`: `data_inicio_programado`, `data_termino_programado` (`YYYY-MM-DD`),
-- `hora_inicio_programado`, `hora_termino_programado` (`HH:MM:SS`), all
-- required, the end not before the start; `id_usuario_antigo` and
-- `id_usuario_novo` (technician user ids) together or not at all.
-- @function reagendar_ordem_servico
-- @param id_ordem_servico positive id
-- @tparam table dados
-- @treturn table `{ordem_servico = {...}}`, or nil and an error table
-- @usage assert(api:reagendar_ordem_servico(1493, {data_inicio_programado = "2025-11-23",
--   hora_inicio_programado = "08:00:00", data_termino_programado = "2025-11-23",
--   hora_termino_programado = "09:30:00", id_usuario_antigo = 4, id_usuario_novo = 1}))

--- Remove a service order's schedule (POST .../ordem_servico/remove_agendamento). A write.
-- `dados`: `id_motivo_remocao_agendamento` (required id), `observacao`
-- (required, at least 10 characters).
-- @function remover_agendamento
-- @param id_ordem_servico positive id
-- @tparam table dados
-- @treturn table `{ordem_servico = {...}}`, or nil and an error table
-- @usage assert(api:remover_agendamento(1493, {id_motivo_remocao_agendamento = 8,
--   observacao = "Cliente pediu para ir no dia seguinte."}))

--- Pop a call up on a HubSoft user's screen (POST .../pbx/ligacao/notificar). A write.
-- `dados`: `ramal` (digits) or `identificador_interno` (letters and digits),
-- one of them required; `codigo_cliente`, `id_cliente` (ids), `telefone` (the
-- caller, DDNNNNNNNNN: see hubsoft.telefone), `ligacao_params` (a table, any
-- nesting).
-- @function notificar_ligacao
-- @tparam table dados
-- @treturn table `{status, msg}`, or nil and an error table
-- @usage assert(api:notificar_ligacao{ramal = 111, telefone = "37999912222",
--   ligacao_params = {origem = "PBX", atendente = "João"}})

--- Close the pop-up of a call that was not answered (POST .../pbx/ligacao/cancelar).
-- A write; the same fields as notificar_ligacao.
-- @function cancelar_ligacao
-- @tparam table dados
-- @treturn table `{status, msg}`, or nil and an error table
-- @usage assert(api:cancelar_ligacao{ramal = 111, telefone = "37999912222"})

return M
