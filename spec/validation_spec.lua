-- Validation rules of the endpoint methods, table-driven.
--
-- The client points at http://127.0.0.1:9, where nothing listens: a call that
-- validation rejects comes back with kind "validation"; a call that passes
-- validation is sent and fails with kind "network". So every "bad" case
-- proves that nothing was sent, and every "good" case proves the rule lets
-- the value through.

local hubsoft = require "hubsoft"
local core = require "hubsoft.core"
local endpoints = require "hubsoft.endpoints"

local unpack = table.unpack or unpack -- luacheck: ignore 143

local NIL = {} -- stands for "leave this argument/key out"

local function new_client()
  return hubsoft.new {
    base_url = "http://127.0.0.1:9",
    client_id = "3",
    client_secret = "segredo",
    username = "integracao@example.com",
    password = "senha",
    access_token = "token-de-teste",
    retries = 0,
    timeout = 5,
    connect_timeout = 2,
  }
end

-- Files for the attachment rules.
local readable_file = os.tmpname()
do
  local f = assert(io.open(readable_file, "wb"))
  f:write("conteudo")
  f:close()
end
local a_directory = os.tmpname()
os.remove(a_directory)
assert(os.execute("mkdir '" .. a_directory .. "'"))
local missing_file = a_directory .. "/nao-existe.txt"

-- A valid call of each method: the position of its table of named
-- parameters (if any) and the arguments.
local VALID = {
  consultar_atendimentos = { opt = 1, args = function() return { { itens_por_pagina = 10 } } end },
  todos_atendimentos = { opt = 1, args = function() return { {} } end },
  abrir_atendimento = { opt = 1, args = function()
    return { { id_cliente_servico = 1234, descricao = "Sem conexão", nome = "João Silva", telefone = "11987654321" } }
  end },
  editar_atendimento = { opt = 2, args = function() return { 123, {} } end },
  fechar_atendimento = { opt = 2, args = function() return { 123, {} } end },
  adicionar_mensagem = { args = function() return { 123, "Cliente retornou" } end },
  adicionar_anexos = { args = function() return { 123, { readable_file } } end },
  atendimentos_do_cliente = { opt = 3, args = function() return { "cpf_cnpj", "12345678901", {} } end },
  configuracao = { args = function() return { "status_atendimento" } end },
  -- the rest of the support desk
  consultar_clientes = { opt = 3, args = function() return { "telefone", "81987654321", {} } end },
  todos_clientes = { opt = 1, args = function() return { { itens_por_pagina = 10 } } end },
  extrato_conexao = { opt = 3, args = function() return { "login", "cliente17812", {} } end },
  desbloqueio_confianca = { args = function() return { 17812 } end },
  solicitar_desconexao = { args = function() return { 17812 } end },
  resetar_mac = { args = function() return { "17812" } end },
  consultar_ordens_servico = { opt = 1, args = function()
    return { { consulta = "Joao", data_inicio = "2023-11-01", data_fim = "2023-11-20" } }
  end },
  todas_ordens_servico = { opt = 1, args = function() return { { itens_por_pagina = 10 } } end },
  ordens_servico_do_cliente = { opt = 3, args = function() return { "cpf_cnpj", "86214941081", {} } end },
  agendar_ordem_servico = { args = function() return { 1493 } end },
  reagendar_ordem_servico = { opt = 2, args = function()
    return { 1493, { data_inicio_programado = "2020-11-23", hora_inicio_programado = "08:00:00",
                     data_termino_programado = "2020-11-23", hora_termino_programado = "09:30:00" } }
  end },
  remover_agendamento = { opt = 2, args = function()
    return { 1493, { id_motivo_remocao_agendamento = 8, observacao = "Cliente pediu para ir no dia seguinte." } }
  end },
  notificar_ligacao = { opt = 1, args = function() return { { ramal = 111 } } end },
  cancelar_ligacao = { opt = 1, args = function() return { { identificador_interno = "joao01" } } end },
}

-- Build the argument list of a case: the valid call, with `set` merged into
-- its table of named parameters and `pos` replacing positional arguments.
local function arguments(case)
  local valid = VALID[case[1]]
  local args = valid.args()
  local n = #args
  for i, v in pairs(case.pos or {}) do
    args[i] = v
    if i > n then
      n = i
    end
  end
  if case.set then
    local t = args[valid.opt]
    for k, v in pairs(case.set) do
      t[k] = v
    end
  end
  for i = 1, n do
    if args[i] == NIL then
      args[i] = nil
    end
  end
  if case.set then
    local t = args[valid.opt]
    for k, v in pairs(t) do
      if v == NIL then
        t[k] = nil
      end
    end
  end
  return args, n
end

local function call(api, case)
  local args, n = arguments(case)
  return api[case[1]](api, unpack(args, 1, n))
end

local function describe_case(case)
  local parts = {}
  for k, v in pairs(case.set or {}) do
    parts[#parts + 1] = tostring(k) .. "=" .. (v == NIL and "nil" or tostring(v))
  end
  for i, v in pairs(case.pos or {}) do
    parts[#parts + 1] = "#" .. i .. "=" .. (v == NIL and "nil" or tostring(v))
  end
  table.sort(parts)
  return case[1] .. " " .. table.concat(parts, " ")
end

-- Every rule, with values it must refuse: {method, set|pos, field, rule}.
-- `rule` is a plain substring the message must contain.
local BAD = {
  -- unknown keys
  { "consultar_atendimentos", set = { itens_por_pagna = 10 }, field = "itens_por_pagna", rule = "unknown parameter" },
  { "todos_atendimentos", set = { paginas = 1 }, field = "paginas", rule = "unknown parameter" },
  { "todos_atendimentos", set = { tipo_atendimento = "1" }, field = "tipo_atendimento", rule = "unknown parameter" },
  { "abrir_atendimento", set = { telefon = "11987654321" }, field = "telefon", rule = "unknown parameter" },
  { "editar_atendimento", set = { fechar = true }, field = "fechar", rule = "unknown parameter" },
  { "fechar_atendimento", set = { motivo = 1 }, field = "motivo", rule = "unknown parameter" },
  { "atendimentos_do_cliente", set = { limite = 5 }, field = "limite", rule = "unknown parameter" },
  { "atendimentos_do_cliente", set = { busca = "cpf_cnpj" }, field = "busca", rule = "is an argument" },
  { "editar_atendimento", set = { id_atendimento = 5 }, field = "id_atendimento", rule = "is an argument" },
  { "fechar_atendimento", set = { fechar_atendimento = true }, field = "fechar_atendimento", rule = "is set by" },
  { "abrir_atendimento", pos = { "texto" }, field = "dados", rule = "must be a table" },
  { "configuracao", pos = { [3] = { x = 1 } }, field = "argument #3", rule = "unexpected argument" },
  -- configuracao's filtros: parameter names to scalars (or arrays of them)
  { "configuracao", pos = { [2] = "id_tipo_atendimento=5" }, field = "filtros", rule = "table of parameter names" },
  { "configuracao", pos = { [2] = { ["a b"] = 1 } }, field = "filtros[a b]", rule = "parameter names" },
  { "configuracao", pos = { [2] = { x = { y = 1 } } }, field = "filtros.x", rule = "or an array of them" },
  { "configuracao", pos = { [2] = { recurso = "x" } }, field = "filtros.recurso", rule = "is a parameter of" },

  -- required and non-empty
  { "consultar_atendimentos", set = { itens_por_pagina = NIL }, field = "itens_por_pagina", rule = "is required" },
  { "consultar_atendimentos", set = { metodo_http = "GET", data_fim = "2025-01-31" },
    field = "data_inicio", rule = "is required" },
  { "consultar_atendimentos", set = { metodo_http = "GET", data_inicio = "2025-01-01" },
    field = "data_fim", rule = "is required" },
  { "abrir_atendimento", set = { id_cliente_servico = NIL }, field = "id_cliente_servico", rule = "is required" },
  { "abrir_atendimento", set = { descricao = NIL }, field = "descricao", rule = "is required" },
  { "abrir_atendimento", set = { descricao = "   " }, field = "descricao", rule = "is required" },
  { "abrir_atendimento", set = { nome = "" }, field = "nome", rule = "is required" },
  { "abrir_atendimento", set = { telefone = NIL }, field = "telefone", rule = "is required" },
  { "editar_atendimento", pos = { NIL }, field = "id_atendimento", rule = "is required" },
  { "adicionar_mensagem", pos = { [2] = NIL }, field = "mensagem", rule = "is required" },
  { "adicionar_anexos", pos = { [2] = NIL }, field = "arquivos", rule = "is required" },
  { "atendimentos_do_cliente", pos = { NIL }, field = "busca", rule = "is required" },
  { "atendimentos_do_cliente", pos = { [2] = "" }, field = "termo_busca", rule = "is required" },
  { "configuracao", pos = { NIL }, field = "recurso", rule = "is required" },

  -- dates: a real calendar date written YYYY-MM-DD
  { "todos_atendimentos", set = { data_inicio = "2025-02-29" }, field = "data_inicio", rule = "YYYY-MM-DD" },
  { "todos_atendimentos", set = { data_inicio = "1900-02-29" }, field = "data_inicio", rule = "YYYY-MM-DD" },
  { "todos_atendimentos", set = { data_fim = "2025-13-01" }, field = "data_fim", rule = "YYYY-MM-DD" },
  { "todos_atendimentos", set = { data_fim = "2025-00-10" }, field = "data_fim", rule = "YYYY-MM-DD" },
  { "todos_atendimentos", set = { data_fim = "2025-04-31" }, field = "data_fim", rule = "YYYY-MM-DD" },
  { "todos_atendimentos", set = { data_fim = "2025-01-00" }, field = "data_fim", rule = "YYYY-MM-DD" },
  { "consultar_atendimentos", set = { data_inicio = "01/02/2025" }, field = "data_inicio", rule = "YYYY-MM-DD" },
  { "consultar_atendimentos", set = { data_inicio = "2025-1-5" }, field = "data_inicio", rule = "YYYY-MM-DD" },
  { "consultar_atendimentos", set = { data_fim = "2025-01-31 10:00:00" }, field = "data_fim", rule = "YYYY-MM-DD" },
  { "atendimentos_do_cliente", set = { data_inicio = 20250101 }, field = "data_inicio", rule = "YYYY-MM-DD" },
  { "atendimentos_do_cliente", set = { data_fim = "2100-02-29" }, field = "data_fim", rule = "YYYY-MM-DD" },
  -- data_fim >= data_inicio
  { "todos_atendimentos", set = { data_inicio = "2025-02-01", data_fim = "2025-01-31" },
    field = "data_fim", rule = "must not be before data_inicio" },
  { "consultar_atendimentos", set = { data_inicio = "2025-01-02", data_fim = "2025-01-01" },
    field = "data_fim", rule = "must not be before data_inicio" },
  { "atendimentos_do_cliente", set = { data_inicio = "2026-01-01", data_fim = "2025-12-31" },
    field = "data_fim", rule = "must not be before data_inicio" },

  -- itens_por_pagina 1..500, limit 1..50, pagina >= 0
  { "consultar_atendimentos", set = { itens_por_pagina = 0 }, field = "itens_por_pagina", rule = "from 1 to 500" },
  { "consultar_atendimentos", set = { itens_por_pagina = 501 }, field = "itens_por_pagina", rule = "from 1 to 500" },
  { "consultar_atendimentos", set = { itens_por_pagina = 1.5 }, field = "itens_por_pagina", rule = "from 1 to 500" },
  { "consultar_atendimentos", set = { itens_por_pagina = "10/../x" }, field = "itens_por_pagina",
    rule = "from 1 to 500" },
  { "todos_atendimentos", set = { itens_por_pagina = -1 }, field = "itens_por_pagina", rule = "from 1 to 500" },
  { "todos_atendimentos", set = { itens_por_pagina = true }, field = "itens_por_pagina", rule = "from 1 to 500" },
  { "atendimentos_do_cliente", set = { limit = 0 }, field = "limit", rule = "from 1 to 50" },
  { "atendimentos_do_cliente", set = { limit = 51 }, field = "limit", rule = "from 1 to 50" },
  { "todos_atendimentos", set = { pagina = -1 }, field = "pagina", rule = "integer >= 0" },
  { "todos_atendimentos", set = { pagina = 0.5 }, field = "pagina", rule = "integer >= 0" },
  { "consultar_atendimentos", set = { pagina = "x" }, field = "pagina", rule = "integer >= 0" },

  -- enumerations
  { "atendimentos_do_cliente", pos = { "cpf" }, field = "busca", rule = "must be one of: codigo_cliente" },
  { "atendimentos_do_cliente", set = { apenas_pendente = "yes" }, field = "apenas_pendente", rule = '"sim", "nao"' },
  { "atendimentos_do_cliente", set = { apenas_pendente = 1 }, field = "apenas_pendente", rule = '"sim", "nao"' },
  { "atendimentos_do_cliente", set = { order_by = "id" }, field = "order_by", rule = "must be one of: data_cadastro" },
  { "atendimentos_do_cliente", set = { order_type = "ascending" }, field = "order_type",
    rule = "must be one of: asc, desc" },
  { "consultar_atendimentos", set = { metodo_http = "PUT" }, field = "metodo_http", rule = "must be one of: GET" },
  { "atendimentos_do_cliente", pos = { [2] = { 1 } }, field = "termo_busca",
    rule = "non-empty string or a whole number" },
  { "atendimentos_do_cliente", pos = { [2] = 1.5 }, field = "termo_busca",
    rule = "non-empty string or a whole number" },

  -- relacoes: from the endpoint's own list
  { "consultar_atendimentos", set = { relacoes = "cliente" }, field = "relacoes", rule = "comma list or array of" },
  { "consultar_atendimentos", set = { relacoes = "ordem_servico_mensagem" }, field = "relacoes",
    rule = "comma list or array of" },
  -- todos_atendimentos: the reference names no list, so any relation name, but names only
  { "todos_atendimentos", set = { relacoes = { "checklists", "Tecnicos" } }, field = "relacoes",
    rule = "relation names" },
  { "todos_atendimentos", set = { relacoes = "checklists,../x" }, field = "relacoes", rule = "relation names" },
  { "todos_atendimentos", set = { relacoes = 5 }, field = "relacoes", rule = "comma list or array of" },
  { "atendimentos_do_cliente", set = { relacoes = "cliente_servico" }, field = "relacoes",
    rule = "comma list or array of" },

  -- telefone and email
  { "abrir_atendimento", set = { telefone = "119876543" }, field = "telefone", rule = "10 or 11 digits" },
  { "abrir_atendimento", set = { telefone = "119876543210" }, field = "telefone", rule = "10 or 11 digits" },
  { "abrir_atendimento", set = { telefone = "(11) 98765-4321" }, field = "telefone", rule = "10 or 11 digits" },
  { "abrir_atendimento", set = { telefone = "1198765432a" }, field = "telefone", rule = "10 or 11 digits" },
  { "abrir_atendimento", set = { telefone = 1198765432.5 }, field = "telefone", rule = "10 or 11 digits" },
  { "abrir_atendimento", set = { email = "joao" }, field = "email", rule = "e-mail address" },
  { "abrir_atendimento", set = { email = "joao@host" }, field = "email", rule = "e-mail address" },
  { "abrir_atendimento", set = { email = "jo ao@email.com" }, field = "email", rule = "e-mail address" },
  { "abrir_atendimento", set = { email = "a@b@c.com" }, field = "email", rule = "e-mail address" },

  -- booleans only
  { "abrir_atendimento", set = { abrir_os = "true" }, field = "abrir_os", rule = "must be a boolean" },
  { "abrir_atendimento", set = { abrir_os = 1 }, field = "abrir_os", rule = "must be a boolean" },
  { "editar_atendimento", set = { fechar_atendimento = "false" }, field = "fechar_atendimento",
    rule = "must be a boolean" },

  -- ids: positive integers; in a path, digits only
  { "abrir_atendimento", set = { id_cliente_servico = 0 }, field = "id_cliente_servico", rule = "positive integer id" },
  { "abrir_atendimento", set = { id_cliente_servico = -1 }, field = "id_cliente_servico",
    rule = "positive integer id" },
  { "abrir_atendimento", set = { id_cliente_servico = 1.5 }, field = "id_cliente_servico",
    rule = "positive integer id" },
  { "abrir_atendimento", set = { id_cliente_servico = "12a" }, field = "id_cliente_servico",
    rule = "positive integer id" },
  { "abrir_atendimento", set = { id_cliente_servico = true }, field = "id_cliente_servico",
    rule = "positive integer id" },
  { "abrir_atendimento", set = { id_tipo_atendimento = "x" }, field = "id_tipo_atendimento",
    rule = "positive integer id" },
  { "abrir_atendimento", set = { id_atendimento_status = 0 }, field = "id_atendimento_status",
    rule = "positive integer id" },
  { "abrir_atendimento", set = { id_origem_contato = "1.5" }, field = "id_origem_contato",
    rule = "positive integer id" },
  { "consultar_atendimentos", set = { id_servico = 0 }, field = "id_servico", rule = "positive integer id" },
  { "editar_atendimento", set = { id_tipo_atendimento = -2 }, field = "id_tipo_atendimento",
    rule = "positive integer id" },
  { "editar_atendimento", pos = { "12/../cliente" }, field = "id_atendimento", rule = "positive integer id" },
  { "editar_atendimento", pos = { "12a" }, field = "id_atendimento", rule = "positive integer id" },
  { "fechar_atendimento", pos = { "-1" }, field = "id_atendimento", rule = "positive integer id" },
  { "fechar_atendimento", pos = { "0" }, field = "id_atendimento", rule = "positive integer id" },
  { "adicionar_mensagem", pos = { 1.5 }, field = "id_atendimento", rule = "positive integer id" },
  { "adicionar_mensagem", pos = { 0 }, field = "id_atendimento", rule = "positive integer id" },
  { "adicionar_anexos", pos = { "12 " }, field = "id_atendimento", rule = "positive integer id" },
  { "adicionar_anexos", pos = { "" }, field = "id_atendimento", rule = "is required" },
  { "editar_atendimento", pos = { 1 / 0 }, field = "id_atendimento", rule = "positive integer id" },

  -- comma lists of ids
  { "consultar_atendimentos", set = { tipo_atendimento = "1,x" }, field = "tipo_atendimento",
    rule = "list of positive integer ids" },
  { "consultar_atendimentos", set = { tipo_atendimento = "1,,2" }, field = "tipo_atendimento",
    rule = "list of positive integer ids" },
  { "consultar_atendimentos", set = { status_atendimento = { 1, 0 } }, field = "status_atendimento",
    rule = "list of positive integer ids" },
  { "consultar_atendimentos", set = { status_atendimento = {} }, field = "status_atendimento",
    rule = "list of positive integer ids" },
  { "abrir_atendimento", set = { id_disponibilidade = "a" }, field = "id_disponibilidade",
    rule = "list of positive integer ids" },
  { "abrir_atendimento", set = { id_usuario_responsavel = { 1.5 } }, field = "id_usuario_responsavel",
    rule = "list of positive integer ids" },
  { "abrir_atendimento", set = { parametros_ordem_servico = { ids_tecnicos = "5;10" } },
    field = "parametros_ordem_servico[1].ids_tecnicos", rule = "list of positive integer ids" },
  { "abrir_atendimento", set = { parametros_ordem_servico = { { id_disponibilidade = { "x" } } } },
    field = "parametros_ordem_servico[1].id_disponibilidade", rule = "list of positive integer ids" },

  -- a PUT may not close and change status or type at once
  { "editar_atendimento", set = { fechar_atendimento = true, id_atendimento_status = 3 },
    field = "id_atendimento_status", rule = "cannot be changed while closing" },
  { "editar_atendimento", set = { fechar_atendimento = true, id_tipo_atendimento = 150 },
    field = "id_tipo_atendimento", rule = "cannot be changed while closing" },
  { "fechar_atendimento", set = { id_atendimento_status = 3 }, field = "id_atendimento_status",
    rule = "cannot be changed while closing" },
  { "fechar_atendimento", set = { id_tipo_atendimento = 150 }, field = "id_tipo_atendimento",
    rule = "cannot be changed while closing" },

  -- mensagem and other texts not empty
  { "adicionar_mensagem", pos = { [2] = "   \n" }, field = "mensagem", rule = "is required" },
  { "adicionar_mensagem", pos = { [2] = 42 }, field = "mensagem", rule = "non-empty string" },
  { "editar_atendimento", set = { descricao = "" }, field = "descricao", rule = "non-empty string" },

  -- recurso
  { "configuracao", pos = { "Status" }, field = "recurso", rule = "^[a-z_]+$" },
  { "configuracao", pos = { "status/../x" }, field = "recurso", rule = "^[a-z_]+$" },
  { "configuracao", pos = { 5 }, field = "recurso", rule = "^[a-z_]+$" },

  -- parametros (create: table or array of tables; edit: one table): "any
  -- information" for the vendor, so nested tables pass; what JSON cannot hold does not
  { "abrir_atendimento", set = { parametros = "x" }, field = "parametros", rule = "table or an array of tables" },
  { "abrir_atendimento", set = { parametros = { "a" } }, field = "parametros[1]", rule = "string keys" },
  { "abrir_atendimento", set = { parametros = { { jogo = { nome = print } } } }, field = "parametros[1].jogo.nome",
    rule = "a string, a number, a boolean or a table" },
  { "editar_atendimento", set = { parametros = { "a", "b" } }, field = "parametros",
    rule = "table of string keys" },
  { "editar_atendimento", set = { parametros = { nota = 0 / 0 } }, field = "parametros.nota",
    rule = "a string, a number, a boolean or a table" },
  { "editar_atendimento", set = { parametros = { lista = { 1, { [true] = 1 } } } }, field = "parametros.lista[2][true]",
    rule = "keys must be non-empty strings" },

  -- parametros_ordem_servico blocks
  { "abrir_atendimento", set = { parametros_ordem_servico = { tecnicos = "5" } },
    field = "parametros_ordem_servico[1].tecnicos", rule = "unknown key" },
  { "abrir_atendimento", set = { parametros_ordem_servico = { { status = 5 } } },
    field = "parametros_ordem_servico[1].status", rule = "non-empty string" },
  { "abrir_atendimento", set = { parametros_ordem_servico = { {}, { id_tipo_ordem_servico = "a" } } },
    field = "parametros_ordem_servico[2].id_tipo_ordem_servico", rule = "positive integer id" },

  -- parametros_fechamento: either spelling of the reason, but only one of them
  { "abrir_atendimento", set = { parametros_fechamento = { id_motivo_fechamento = 108,
                                                           id_motivo_fechamento_atendimento = 108 } },
    field = "parametros_fechamento[1].id_motivo_fechamento", rule = "closing reason twice" },
  { "fechar_atendimento", set = { parametros_fechamento = { id_motivo_fechamento = 108,
                                                            id_motivo_fechamento_atendimento = 108 } },
    field = "parametros_fechamento.id_motivo_fechamento_atendimento", rule = "closing reason twice" },
  { "fechar_atendimento", set = { parametros_fechamento = { motivo = 1 } },
    field = "parametros_fechamento.motivo", rule = "unknown key" },
  { "editar_atendimento", set = { parametros_fechamento = { descricao_fechamento = "" } },
    field = "parametros_fechamento.descricao_fechamento", rule = "non-empty string" },
  { "fechar_atendimento", set = { parametros_fechamento = "concluido" },
    field = "parametros_fechamento", rule = "must be a table" },

  -- arquivos
  { "adicionar_anexos", pos = { [2] = {} }, field = "arquivos", rule = "non-empty list" },
  { "adicionar_anexos", pos = { [2] = readable_file }, field = "arquivos", rule = "non-empty list" },
  { "adicionar_anexos", pos = { [2] = { readable_file, missing_file } }, field = "arquivos[2]",
    rule = "cannot be opened" },
  { "adicionar_anexos", pos = { [2] = { { path = missing_file } } }, field = "arquivos[1]", rule = "cannot be opened" },
  { "adicionar_anexos", pos = { [2] = { a_directory } }, field = "arquivos[1]", rule = "cannot be read" },
  { "adicionar_anexos", pos = { [2] = { readable_file, { data = "x" } } }, field = "arquivos[2]",
    rule = "needs a filename" },
  { "adicionar_anexos", pos = { [2] = { { data = 5, filename = "a.txt" } } }, field = "arquivos[1]",
    rule = "data must be a string" },
  { "adicionar_anexos", pos = { [2] = { { path = readable_file, data = "x", filename = "a" } } },
    field = "arquivos[1]", rule = "exactly one of path or data" },
  { "adicionar_anexos", pos = { [2] = { { path = readable_file, nome = "a" } } }, field = "arquivos[1]",
    rule = "unknown key" },
  { "adicionar_anexos", pos = { [2] = { { data = "x", filename = "a\r\nX-Evil: 1" } } }, field = "arquivos[1]",
    rule = "filename must be" },
  { "adicionar_anexos", pos = { [2] = { { path = readable_file, content_type = "texto" } } }, field = "arquivos[1]",
    rule = "content_type" },
  { "adicionar_anexos", pos = { [2] = { 42 } }, field = "arquivos[1]", rule = "must be a path string" },

  ---------------------------------------------------------------- the rest of the support desk
  -- consultar_clientes
  { "consultar_clientes", pos = { "email" }, field = "busca", rule = "must be one of" },
  { "consultar_clientes", pos = { NIL }, field = "busca", rule = "is required" },
  { "consultar_clientes", pos = { [2] = " " }, field = "termo_busca", rule = "is required" },
  { "consultar_clientes", pos = { [2] = {} }, field = "termo_busca", rule = "non-empty string or a whole number" },
  { "consultar_clientes", set = { limit = 101 }, field = "limit", rule = "integer from 1 to 100" },
  { "consultar_clientes", set = { limit = 0 }, field = "limit", rule = "integer from 1 to 100" },
  { "consultar_clientes", set = { cancelado = "s" }, field = "cancelado", rule = '"sim", "nao"' },
  { "consultar_clientes", set = { ultima_conexao = 1 }, field = "ultima_conexao", rule = '"sim", "nao"' },
  { "consultar_clientes", set = { incluir_contrato = "yes" }, field = "incluir_contrato", rule = '"sim", "nao"' },
  { "consultar_clientes", set = { incluir_alarmes = "true" }, field = "incluir_alarmes", rule = '"sim", "nao"' },
  { "consultar_clientes", set = { inativo = "tudo" }, field = "inativo", rule = '"todos"' },
  { "consultar_clientes", set = { servico_status = "habilitado" }, field = "servico_status", rule = "must be one of" },
  { "consultar_clientes", set = { order_by = "nome" }, field = "order_by", rule = "must be one of" },
  { "consultar_clientes", set = { order_type = "ASC" }, field = "order_type", rule = "must be one of" },
  { "consultar_clientes", set = { pagina = 1 }, field = "pagina", rule = "unknown parameter" },
  -- todos_clientes
  { "todos_clientes", set = { itens_por_pagina = NIL }, field = "itens_por_pagina", rule = "is required" },
  { "todos_clientes", set = { itens_por_pagina = 501 }, field = "itens_por_pagina", rule = "integer from 1 to 500" },
  { "todos_clientes", set = { pagina = -1 }, field = "pagina", rule = "integer >= 0" },
  { "todos_clientes", set = { data_inicio = "01/09/2025" }, field = "data_inicio", rule = "YYYY-MM-DD" },
  { "todos_clientes", set = { data_fim = "2025-02-30" }, field = "data_fim", rule = "YYYY-MM-DD" },
  { "todos_clientes", set = { data_inicio = "2025-09-02", data_fim = "2025-09-01" }, field = "data_fim",
    rule = "must not be before data_inicio" },
  { "todos_clientes", set = { cancelado = "x" }, field = "cancelado", rule = '"sim", "nao"' },
  { "todos_clientes", set = { possui_pacote = "x" }, field = "possui_pacote", rule = '"sim", "nao"' },
  { "todos_clientes", set = { codigo_pacote = "" }, field = "codigo_pacote",
      rule = "non-empty string or a whole number" },
  { "todos_clientes", set = { servico_status = "ativo" }, field = "servico_status", rule = "must be one of" },
  { "todos_clientes", set = { relacoes = "pacotes,contratos" }, field = "relacoes", rule = "comma list or array of" },
  -- extrato_conexao
  { "extrato_conexao", pos = { "cpf_cnpj" }, field = "busca", rule = "must be one of" },
  { "extrato_conexao", pos = { [2] = NIL }, field = "termo_busca", rule = "is required" },
  { "extrato_conexao", set = { limit = 51 }, field = "limit", rule = "integer from 1 to 50" },
  { "extrato_conexao", set = { data_inicio = "2025-9-1" }, field = "data_inicio", rule = "YYYY-MM-DD" },
  { "extrato_conexao", set = { data_inicio = "2025-09-02", data_fim = "2025-09-01" }, field = "data_fim",
    rule = "must not be before data_inicio" },
  -- desbloqueio_confianca, solicitar_desconexao, resetar_mac
  { "desbloqueio_confianca", pos = { NIL }, field = "id_cliente_servico", rule = "is required" },
  { "desbloqueio_confianca", pos = { 0 }, field = "id_cliente_servico", rule = "positive integer id" },
  { "desbloqueio_confianca", pos = { [2] = 0 }, field = "dias_desbloqueio", rule = "integer >= 1" },
  { "desbloqueio_confianca", pos = { [2] = 1.5 }, field = "dias_desbloqueio", rule = "integer >= 1" },
  { "desbloqueio_confianca", pos = { [3] = 1 }, field = "argument #3", rule = "unexpected argument" },
  { "solicitar_desconexao", pos = { NIL }, field = "id_cliente_servico", rule = "is required" },
  { "solicitar_desconexao", pos = { "17812/../1" }, field = "id_cliente_servico", rule = "positive integer id" },
  { "resetar_mac", pos = { -3 }, field = "id_cliente_servico", rule = "positive integer id" },
  -- consultar_ordens_servico
  { "consultar_ordens_servico", set = { consulta = NIL }, field = "consulta", rule = "is required" },
  { "consultar_ordens_servico", set = { consulta = true }, field = "consulta",
      rule = "non-empty string or a whole number" },
  { "consultar_ordens_servico", set = { data_inicio = NIL }, field = "data_inicio", rule = "is required" },
  { "consultar_ordens_servico", set = { data_fim = NIL }, field = "data_fim", rule = "is required" },
  { "consultar_ordens_servico", set = { data_inicio = "2023-11-01 25:00:00" }, field = "data_inicio",
    rule = "YYYY-MM-DD HH:MM:SS" },
  { "consultar_ordens_servico", set = { data_fim = "20/11/2023" }, field = "data_fim", rule = "YYYY-MM-DD" },
  { "consultar_ordens_servico", set = { data_inicio = "2023-11-21" }, field = "data_fim",
    rule = "must not be before data_inicio" },
  { "consultar_ordens_servico", set = { tipo_data = "data_fechamento" }, field = "tipo_data", rule = "must be one of" },
  { "consultar_ordens_servico", set = { order_by = "numero" }, field = "order_by", rule = "must be one of" },
  { "consultar_ordens_servico", set = { order_by_key = "up" }, field = "order_by_key", rule = "must be one of" },
  { "consultar_ordens_servico", set = { status = "aberto" }, field = "status", rule = "must be one of" },
  { "consultar_ordens_servico", set = { tecnicos = { { id = 0 } } }, field = "tecnicos[1]",
      rule = "positive integer id" },
  { "consultar_ordens_servico", set = { tecnicos = { { nome = "x" } } }, field = "tecnicos[1].nome",
    rule = "unknown key" },
  { "consultar_ordens_servico", set = { tecnicos = { id = 1 } }, field = "tecnicos", rule = "list of ids" },
  { "consultar_ordens_servico", set = { tipo_ordem_servicos = { { id = 1 } } }, field = "tipo_ordem_servicos[1].id",
    rule = "unknown key" },
  { "consultar_ordens_servico", set = { id_ordem_servico = "x" }, field = "id_ordem_servico",
      rule = "positive integer id" },
  -- todas_ordens_servico
  { "todas_ordens_servico", set = { itens_por_pagina = NIL }, field = "itens_por_pagina", rule = "is required" },
  { "todas_ordens_servico", set = { itens_por_pagina = 0 }, field = "itens_por_pagina",
      rule = "integer from 1 to 500" },
  { "todas_ordens_servico", set = { pagina = "um" }, field = "pagina", rule = "integer >= 0" },
  { "todas_ordens_servico", set = { data_fim = "2025-13-01" }, field = "data_fim", rule = "YYYY-MM-DD" },
  { "todas_ordens_servico", set = { data_inicio = "2025-09-02", data_fim = "2025-09-01" }, field = "data_fim",
    rule = "must not be before data_inicio" },
  { "todas_ordens_servico", set = { tipo_data = "x" }, field = "tipo_data", rule = "must be one of" },
  { "todas_ordens_servico", set = { relacoes = "cliente" }, field = "relacoes",
      rule = "comma list or array of: tecnicos" },
  -- ordens_servico_do_cliente
  { "ordens_servico_do_cliente", pos = { "protocolo" }, field = "busca", rule = "must be one of" },
  { "ordens_servico_do_cliente", pos = { [2] = "" }, field = "termo_busca", rule = "non-empty string" },
  { "ordens_servico_do_cliente", set = { limit = 51 }, field = "limit", rule = "integer from 1 to 50" },
  { "ordens_servico_do_cliente", set = { status = "aberta" }, field = "status", rule = "must be one of" },
  { "ordens_servico_do_cliente", set = { order_by = "data_fechamento" }, field = "order_by", rule = "must be one of" },
  { "ordens_servico_do_cliente", set = { order_type = 1 }, field = "order_type", rule = "must be one of" },
  { "ordens_servico_do_cliente", set = { data_inicio = "2025-09-02", data_fim = "2025-09-01" }, field = "data_fim",
    rule = "must not be before data_inicio" },
  -- agendar, reagendar, remover_agendamento
  { "agendar_ordem_servico", pos = { NIL }, field = "id_ordem_servico", rule = "is required" },
  { "agendar_ordem_servico", pos = { "1493a" }, field = "id_ordem_servico", rule = "positive integer id" },
  { "reagendar_ordem_servico", pos = { 0 }, field = "id_ordem_servico", rule = "positive integer id" },
  { "reagendar_ordem_servico", set = { data_inicio_programado = NIL }, field = "data_inicio_programado",
    rule = "is required" },
  { "reagendar_ordem_servico", set = { hora_inicio_programado = "8:00" }, field = "hora_inicio_programado",
    rule = "HH:MM:SS" },
  { "reagendar_ordem_servico", set = { hora_termino_programado = "24:00:00" }, field = "hora_termino_programado",
    rule = "HH:MM:SS" },
  { "reagendar_ordem_servico", set = { data_termino_programado = "2020-11-23 09:30:00" },
    field = "data_termino_programado", rule = "YYYY-MM-DD" },
  { "reagendar_ordem_servico", set = { hora_termino_programado = NIL }, field = "hora_termino_programado",
    rule = "is required" },
  { "reagendar_ordem_servico", set = { id_usuario_antigo = 4 }, field = "id_usuario_novo",
    rule = "send both or neither" },
  { "reagendar_ordem_servico", set = { id_usuario_novo = 1 }, field = "id_usuario_antigo",
    rule = "send both or neither" },
  { "reagendar_ordem_servico", set = { id_usuario_antigo = 4, id_usuario_novo = "x" }, field = "id_usuario_novo",
    rule = "positive integer id" },
  { "reagendar_ordem_servico", set = { hora_termino_programado = "07:59:59" }, field = "data_termino_programado",
    rule = "must not be before" },
  { "remover_agendamento", set = { id_motivo_remocao_agendamento = NIL }, field = "id_motivo_remocao_agendamento",
    rule = "is required" },
  { "remover_agendamento", set = { observacao = NIL }, field = "observacao", rule = "is required" },
  { "remover_agendamento", set = { observacao = "Remarcar" }, field = "observacao", rule = "at least 10 characters" },
  -- nine letters, eleven bytes: characters are counted, not bytes
  { "remover_agendamento", set = { observacao = "Ação boa!" }, field = "observacao", rule = "at least 10 characters" },
  { "remover_agendamento", set = { observacao = "   curto   " }, field = "observacao",
      rule = "at least 10 characters" },
  -- notificar_ligacao, cancelar_ligacao
  { "notificar_ligacao", set = { ramal = NIL }, field = "ramal", rule = "give ramal or identificador_interno" },
  { "cancelar_ligacao", set = { identificador_interno = NIL }, field = "ramal",
    rule = "give ramal or identificador_interno" },
  { "notificar_ligacao", pos = { NIL }, field = "ramal", rule = "give ramal or identificador_interno" },
  { "notificar_ligacao", set = { ramal = "11a" }, field = "ramal", rule = "string of digits" },
  { "notificar_ligacao", set = { identificador_interno = "joão" }, field = "identificador_interno",
    rule = "letters and digits" },
  { "notificar_ligacao", set = { codigo_cliente = "abc" }, field = "codigo_cliente", rule = "positive integer id" },
  { "notificar_ligacao", set = { id_cliente = 0 }, field = "id_cliente", rule = "positive integer id" },
  { "notificar_ligacao", set = { telefone = "+55 37 99991-2222" }, field = "telefone", rule = "10 or 11 digits" },
  { "notificar_ligacao", set = { ligacao_params = "origem=PBX" }, field = "ligacao_params",
      rule = "table of string keys" },
  { "notificar_ligacao", set = { ligacao_params = { "PBX" } }, field = "ligacao_params",
      rule = "table of string keys" },
  { "cancelar_ligacao", set = { ligacao_params = { origem = io.stdout } }, field = "ligacao_params.origem",
    rule = "a string, a number, a boolean or a table" },
  { "cancelar_ligacao", set = { ramal = 111, fila = "x" }, field = "fila", rule = "unknown parameter" },
  -- consultar_atendimentos' id_servico takes ids (the reference says "IDs dos Serviços")
  { "consultar_atendimentos", set = { id_servico = { 1, 0 } }, field = "id_servico", rule = "item 2 is not one" },
}

-- Values each rule must let through: {method, set|pos}.
local GOOD = {
  { "consultar_atendimentos" }, -- pagina absent: sent as 0
  { "consultar_atendimentos", set = { pagina = 0, itens_por_pagina = 500 } },
  { "consultar_atendimentos", set = { itens_por_pagina = 1, pagina = 7 } },
  { "consultar_atendimentos", set = { itens_por_pagina = "50" } },
  { "consultar_atendimentos", set = { itens_por_pagina = 50.0 } },
  { "consultar_atendimentos", set = { metodo_http = "GET", data_inicio = "2022-08-01", data_fim = "2022-08-31" } },
  { "consultar_atendimentos", set = { metodo_http = "POST" } },
  { "consultar_atendimentos", set = { data_inicio = "2024-02-29", data_fim = "2024-02-29" } },
  { "consultar_atendimentos", set = { tipo_atendimento = "132,28", status_atendimento = { 1, 2, 3 } } },
  { "consultar_atendimentos", set = { tipo_atendimento = "1, 2", status_atendimento = 7 } },
  { "consultar_atendimentos", set = { id_servico = 1234 } },
  { "consultar_atendimentos", set = { relacoes = "cliente_servico,usuarios_responsaveis" } },
  { "consultar_atendimentos", set = { relacoes = { "atendimento_mensagem", "checklists" } } },
  { "todos_atendimentos" },
  { "todos_atendimentos", set = { pagina = 0, itens_por_pagina = 10, data_inicio = "2000-02-29",
    data_fim = "2025-12-31", relacoes = "atendimento_mensagem,cliente_servico" } },
  { "abrir_atendimento" },
  { "abrir_atendimento", set = { telefone = "1198765432" } },
  { "abrir_atendimento", set = { telefone = 11987654321 } },
  { "abrir_atendimento", set = { id_cliente_servico = 5448.0 } },
  { "abrir_atendimento", set = { id_cliente_servico = "5448" } },
  { "abrir_atendimento", set = { email = "joao.silva@email.com", abrir_os = true, id_disponibilidade = "1,2",
    id_usuario_responsavel = { 1, 2 }, id_tipo_atendimento = 132, id_atendimento_status = 3,
    id_origem_contato = 2 } },
  { "abrir_atendimento", set = { abrir_os = false } },
  { "abrir_atendimento", set = { parametros = { jogo_afetado = "Valorant", ping = 80, bot = true } } },
  { "abrir_atendimento", set = { parametros = { { a = "1" }, { b = 2 } } } },
  { "abrir_atendimento", set = { parametros = {} } },
  { "abrir_atendimento", set = { parametros_ordem_servico = { id_tipo_ordem_servico = 15,
    status = "aguardando_agendamento", ids_tecnicos = "5,10", id_disponibilidade = { 1, 2 } } } },
  { "abrir_atendimento", set = { parametros_ordem_servico = { { id_tipo_ordem_servico = 15 }, {} } } },
  { "abrir_atendimento", set = { parametros_ordem_servico = hubsoft.parametros_ordem_servico {
    ids_tecnicos = { 5, 10 } } } },
  { "abrir_atendimento", set = { parametros_fechamento = { id_motivo_fechamento_atendimento = 5,
    descricao_fechamento = "Finalizado" } } },
  { "editar_atendimento" },
  { "editar_atendimento", pos = { "123" } },
  { "editar_atendimento", pos = { 123.0 } },
  { "editar_atendimento", set = { id_atendimento_status = 3, descricao = "Em análise", fechar_atendimento = false } },
  { "editar_atendimento", set = { id_tipo_atendimento = 150, parametros = { reclassificado = "sim" } } },
  { "editar_atendimento", set = { fechar_atendimento = true, parametros_fechamento = { id_motivo_fechamento = 108,
    descricao_fechamento = "Finalizado", status_fechamento = "concluido" } } },
  { "fechar_atendimento", pos = { [2] = NIL } },
  { "fechar_atendimento", set = { parametros = { url_ligacao = "https://x/3", outro = 123456 },
    parametros_fechamento = hubsoft.parametros_fechamento { id_motivo_fechamento = 108 },
    descricao = "Encerrado" } },
  { "adicionar_mensagem" },
  { "adicionar_mensagem", pos = { "456", "Bot: ping 25ms" } },
  { "adicionar_anexos" },
  { "adicionar_anexos", pos = { [2] = { readable_file,
    { path = readable_file, filename = "log.txt", content_type = "text/plain" },
    { data = "conteudo", filename = "ping.txt", content_type = "text/plain; charset=utf-8" } } } },
  { "atendimentos_do_cliente" },
  { "atendimentos_do_cliente", pos = { "codigo_cliente", 1234 } },
  { "atendimentos_do_cliente", pos = { "id_cliente_servico", "5678" } },
  { "atendimentos_do_cliente", pos = { "protocolo", "20221229180833379797", NIL } },
  { "atendimentos_do_cliente", set = { limit = 1, apenas_pendente = "sim", order_by = "data_fechamento",
    order_type = "desc" } },
  { "atendimentos_do_cliente", set = { limit = 50, apenas_pendente = false, order_by = "data_cadastro",
    order_type = "asc", data_inicio = "2025-09-01", data_fim = "2025-09-30" } },
  { "atendimentos_do_cliente", set = { apenas_pendente = true, relacoes = { "ordem_servico_mensagem" } } },
  { "atendimentos_do_cliente", set = { apenas_pendente = "nao", relacoes = "atendimento_mensagem,checklists" } },
  { "configuracao" },
  { "configuracao", pos = { "disponibilidade" } },
  { "configuracao", pos = { "motivo_fechamento_atendimento" } },
  { "configuracao", pos = { "motivo_fechamento_atendimento", { id_tipo_atendimento = 132 } } },
  { "configuracao", pos = { "tecnico", { ids = { 1, 5 }, ativo = true } } },
  { "abrir_atendimento", set = { parametros = { { jogo = { "x", { servidor = "BR" } } } } } },
  { "editar_atendimento", set = { parametros = { ligacao = { origem = "PBX", ramais = { 111, 112 } } } } },
  { "todos_atendimentos", set = { relacoes = "atendimento_mensagem,cliente_servico,ordem_servico" } },
  { "consultar_atendimentos", set = { id_servico = { 2735, 2801 } } },
  { "consultar_atendimentos", set = { id_servico = "2735,2801" } },
  -- the rest of the support desk
  { "consultar_clientes", pos = { "nome_razaosocial", "joão" }, set = { limit = 100, cancelado = true,
    ultima_conexao = "sim", incluir_contrato = false, inativo = "todos", incluir_alarmes = "nao",
    servico_status = "suspenso_debito", order_by = "data_fechamento", order_type = "desc" } },
  { "consultar_clientes", pos = { "codigo_cliente", 1864 } },
  { "todos_clientes", set = { pagina = 3, itens_por_pagina = 500, data_inicio = "2022-09-01", data_fim = "2022-09-30",
    cancelado = "nao", possui_pacote = true, codigo_pacote = "PLAY", servico_status = "servico_habilitado",
    relacoes = { "pacotes", "senhas", "status_conexao" } } },
  { "extrato_conexao", pos = { "mac", "58:10:8C:4B:FF:AA" }, set = { limit = 50, data_inicio = "2025-09-01" } },
  { "desbloqueio_confianca", pos = { "11000", "1" } },
  { "desbloqueio_confianca", pos = { 11000, 3 } },
  { "consultar_ordens_servico", set = { data_inicio = "2023-11-01 00:00:00", data_fim = "2023-11-20 23:59:59",
    tipo_data = "data_cadastro", order_by = "data_termino_executado", order_by_key = "asc", status = "pendente",
    tecnicos = { { id = 1 } }, tipo_ordem_servicos = { 1, 2 }, id_ordem_servico = 1493 } },
  { "consultar_ordens_servico", set = { consulta = 1262, data_fim = "2023-11-01 18:00:00" } },
  { "todas_ordens_servico", set = { pagina = 0, tipo_data = "data_cadastro", relacoes = "tecnicos" } },
  { "ordens_servico_do_cliente", pos = { "numero_ordem_servico", NIL } },
  { "ordens_servico_do_cliente", pos = { [3] = { limit = 50, status = "finalizado", order_by = "data_inicio_programado",
    order_type = "asc", data_inicio = "2025-01-01", data_fim = "2025-01-31" } } },
  { "agendar_ordem_servico", pos = { "99991" } },
  { "reagendar_ordem_servico", set = { id_usuario_antigo = 4, id_usuario_novo = "1" } },
  { "remover_agendamento", set = { observacao = "Ação ótima" } },
  { "notificar_ligacao", set = { identificador_interno = "joao01", telefone = "37999912222", codigo_cliente = 1864,
    id_cliente = "24930", ligacao_params = { origem = "PBX", atendente = "João", fila = { nome = "suporte",
        posicao = 2 } } } },
  { "cancelar_ligacao", set = { ramal = "111", identificador_interno = NIL, telefone = 3799991222 } },
}

describe("endpoint validation", function()
  local api

  setup(function()
    api = new_client()
  end)

  teardown(function()
    api:close()
  end)

  describe("refuses, sending nothing:", function()
    for _, case in ipairs(BAD) do
      it(describe_case(case) .. " -> " .. case.field .. ": " .. case.rule, function()
        local res, err = call(api, case)
        assert.is_nil(res)
        assert.is_table(err)
        assert.are.equal("validation", err.kind, tostring(err))
        assert.are.equal(case.field, err.field)
        assert.truthy(err.message:find(case.rule, 1, true),
          "message does not name the rule: " .. tostring(err.message))
        assert.truthy(err.message:find(case.field .. ": ", 1, true))
        assert.are.equal(false, err.retryable)
        assert.are.equal(0, err.attempts)
        assert.truthy(core.is_error(err))
      end)
    end
  end)

  describe("lets through (the request is sent):", function()
    for _, case in ipairs(GOOD) do
      it(describe_case(case), function()
        local res, err = call(api, case)
        assert.is_nil(res)
        assert.is_table(err)
        assert.are.equal("network", err.kind, tostring(err))
      end)
    end
  end)

  it("does not modify the caller's tables", function()
    local dados = { id_cliente_servico = 5448.0, descricao = "x", nome = "n", telefone = 11987654321,
      id_disponibilidade = { 1, 2 }, parametros = { a = 1 } }
    local disponibilidade, parametros = dados.id_disponibilidade, dados.parametros
    api:abrir_atendimento(dados)
    assert.are.equal(5448.0, dados.id_cliente_servico)
    assert.are.equal(11987654321, dados.telefone)
    assert.are.equal(disponibilidade, dados.id_disponibilidade)
    assert.are.same({ 1, 2 }, dados.id_disponibilidade)
    assert.are.equal(parametros, dados.parametros)
    assert.are.same({ a = 1 }, dados.parametros)
  end)

  it("refuses a call without the colon", function()
    assert.has_error(function()
      api.configuracao("status_atendimento")
    end)
  end)
end)

describe("what is sent", function()
  local function prepare(...)
    return assert(endpoints.prepare(core, ...))
  end

  it("formats ids in the path as integers", function()
    assert.are.equal("/api/v1/integracao/atendimento/5448", prepare("editar_atendimento", 5448.0).path)
    assert.are.equal("/api/v1/integracao/atendimento/adicionar_mensagem/77",
      prepare("adicionar_mensagem", "77", "oi").path)
  end)

  it("puts itens_por_pagina in the path and the body, pagina 0 by default", function()
    local req = prepare("consultar_atendimentos", { itens_por_pagina = 50.0, tipo_atendimento = { 132, 28 },
      relacoes = { "cliente_servico", "checklists" }, id_servico = 1234.0 })
    assert.are.equal("POST", req.method)
    assert.are.equal("/api/v1/integracao/atendimento/paginado/50", req.path)
    assert.is_true(req.opts.idempotent)
    local body = core.decode(core.encode(req.opts.json))
    assert.are.same({ pagina = 0, itens_por_pagina = 50, tipo_atendimento = "132,28",
      relacoes = "cliente_servico,checklists", id_servico = 1234 }, body)
    assert.is_nil(core.encode(req.opts.json):find("%.0"))
  end)

  it("uses the query string for the GET form of consultar_atendimentos", function()
    local req = prepare("consultar_atendimentos", { itens_por_pagina = 10, metodo_http = "GET",
      data_inicio = "2022-08-01", data_fim = "2022-08-31", pagina = 1.0 })
    assert.are.equal("GET", req.method)
    assert.are.equal("/api/v1/integracao/atendimento/paginado/10", req.path)
    assert.is_nil(req.opts.json)
    assert.are.same({ pagina = "1", itens_por_pagina = "10", data_inicio = "2022-08-01",
      data_fim = "2022-08-31", page = "1" }, req.opts.query)
  end)

  it("normalizes query values of atendimentos_do_cliente", function()
    local req = prepare("atendimentos_do_cliente", "cpf_cnpj", 12345678901,
      { limit = 10.0, apenas_pendente = true, relacoes = { "atendimento_mensagem", "checklists" } })
    assert.are.same({ busca = "cpf_cnpj", termo_busca = "12345678901", limit = "10",
      apenas_pendente = "sim", relacoes = "atendimento_mensagem,checklists" }, req.opts.query)
    assert.is_true(req.opts.idempotent)
    req = prepare("atendimentos_do_cliente", "protocolo", "201806191505251", { apenas_pendente = false })
    assert.are.equal("nao", req.opts.query.apenas_pendente)
  end)

  it("sends fechar_atendimento always, true for fechar_atendimento", function()
    local req = prepare("editar_atendimento", 123, { id_atendimento_status = 3 })
    assert.are.equal("PUT", req.method)
    assert.is_false(req.opts.idempotent)
    assert.are.same({ fechar_atendimento = false, id_atendimento_status = 3 },
      core.decode(core.encode(req.opts.json)))
    req = prepare("fechar_atendimento", 123)
    assert.are.same({ fechar_atendimento = true }, core.decode(core.encode(req.opts.json)))
  end)

  it("wraps a single parametros table in an array for the create, keeps an object for the edit", function()
    local req = prepare("abrir_atendimento", { id_cliente_servico = 1, descricao = "d", nome = "n",
      telefone = 1198765432, parametros = { jogo = "Valorant" }, parametros_ordem_servico = {
        ids_tecnicos = { 5, 10 } }, parametros_fechamento = { id_motivo_fechamento_atendimento = 5.0 } })
    local body = core.decode(core.encode(req.opts.json))
    assert.are.equal("1198765432", body.telefone)
    assert.are.same({ { jogo = "Valorant" } }, body.parametros)
    assert.are.same({ { ids_tecnicos = "5,10" } }, body.parametros_ordem_servico)
    assert.are.same({ { id_motivo_fechamento_atendimento = 5 } }, body.parametros_fechamento)

    -- the other endpoint's spelling of the closing reason is renamed, both ways
    req = prepare("abrir_atendimento", { id_cliente_servico = 1, descricao = "d", nome = "n",
      telefone = "1198765432", parametros_fechamento = { id_motivo_fechamento = 7 } })
    body = core.decode(core.encode(req.opts.json))
    assert.are.same({ { id_motivo_fechamento_atendimento = 7 } }, body.parametros_fechamento)
    req = prepare("fechar_atendimento", 123, { parametros_fechamento = { id_motivo_fechamento_atendimento = 8 } })
    body = core.decode(core.encode(req.opts.json))
    assert.are.same({ id_motivo_fechamento = 8 }, body.parametros_fechamento)

    req = prepare("abrir_atendimento", { id_cliente_servico = 1, descricao = "d", nome = "n",
      telefone = "1198765432", parametros = {} })
    assert.truthy(core.encode(req.opts.json):find('"parametros":[]', 1, true))

    req = prepare("editar_atendimento", 9, { parametros = {}, parametros_fechamento = {} })
    local json = core.encode(req.opts.json)
    assert.truthy(json:find('"parametros":{}', 1, true))
    assert.truthy(json:find('"parametros_fechamento":{}', 1, true))
  end)

  it("hands the attachments to the core as files", function()
    local files = { readable_file, { data = "abc", filename = "a.txt" } }
    local req = prepare("adicionar_anexos", 5, files)
    assert.are.equal("/api/v1/integracao/atendimento/adicionar_anexo/5", req.path)
    assert.are.same(files, req.opts.files)
    assert.is_nil(req.opts.json)
    assert.is_false(req.opts.idempotent)
  end)

  it("marks reads and writes", function()
    assert.is_true(prepare("todos_atendimentos").opts.idempotent)
    assert.is_true(prepare("configuracao", "disponibilidade").opts.idempotent)
    assert.is_false(prepare("adicionar_mensagem", 1, "x").opts.idempotent)
    assert.is_false(prepare("abrir_atendimento", { id_cliente_servico = 1, descricao = "d", nome = "n",
      telefone = "1198765432" }).opts.idempotent)
  end)
end)

describe("hubsoft.ids", function()
  it("joins valid ids", function()
    assert.are.equal("1,2,3", hubsoft.ids { 1, 2, 3 })
    assert.are.equal("5448,7", hubsoft.ids { 5448.0, "7" })
    assert.are.equal("1,2,3", hubsoft.ids "1,2,3")
    assert.are.equal("1,2", hubsoft.ids "1, 2")
    assert.are.equal("9", hubsoft.ids(9))
  end)

  it("raises naming the bad item", function()
    for _, bad in ipairs { { 1, "x" }, { 1, 0 }, { 1, 1.5 }, "1,x", "1,,3" } do
      local ok, msg = pcall(hubsoft.ids, bad)
      assert.is_false(ok)
      assert.truthy(tostring(msg):find("item 2", 1, true), tostring(msg))
    end
    assert.has_error(function() hubsoft.ids {} end)
    assert.has_error(function() hubsoft.ids(nil) end)
    assert.has_error(function() hubsoft.ids { a = 1 } end)
  end)
end)

describe("hubsoft.parametros_ordem_servico", function()
  it("builds an array of blocks from one block", function()
    local t = hubsoft.parametros_ordem_servico { id_tipo_ordem_servico = 15.0, status = "aguardando_agendamento",
      ids_tecnicos = { 5, 10 }, id_disponibilidade = "1,2" }
    assert.are.same({ { id_tipo_ordem_servico = 15, status = "aguardando_agendamento", ids_tecnicos = "5,10",
      id_disponibilidade = "1,2" } }, t)
    assert.are.equal('[{"ids_tecnicos":"5"}]', core.encode(hubsoft.parametros_ordem_servico { ids_tecnicos = 5 }))
  end)

  it("takes an array of blocks", function()
    local t = hubsoft.parametros_ordem_servico { { id_tipo_ordem_servico = 1 }, { ids_tecnicos = { 2 } } }
    assert.are.same({ { id_tipo_ordem_servico = 1 }, { ids_tecnicos = "2" } }, t)
  end)

  it("raises naming an unknown key or a key of the wrong type", function()
    local ok, msg = pcall(hubsoft.parametros_ordem_servico, { tecnicos = { 5 } })
    assert.is_false(ok)
    assert.truthy(tostring(msg):find("tecnicos", 1, true))
    ok, msg = pcall(hubsoft.parametros_ordem_servico, { { status = "x" }, { ids_tecnicos = "5,a" } })
    assert.is_false(ok)
    assert.truthy(tostring(msg):find("[2].ids_tecnicos", 1, true), tostring(msg))
    ok, msg = pcall(hubsoft.parametros_ordem_servico, { status = false })
    assert.is_false(ok)
    assert.truthy(tostring(msg):find("status", 1, true))
    assert.has_error(function() hubsoft.parametros_ordem_servico "x" end)
  end)
end)

describe("hubsoft.parametros_fechamento", function()
  it("accepts both spellings of the closing reason", function()
    assert.are.same(
      { id_motivo_fechamento = 108, descricao_fechamento = "Finalizado", status_fechamento = "concluido" },
      hubsoft.parametros_fechamento { id_motivo_fechamento = 108, descricao_fechamento = "Finalizado",
        status_fechamento = "concluido" })
    assert.are.same({ id_motivo_fechamento_atendimento = "5", descricao_fechamento = "ok" },
      hubsoft.parametros_fechamento { id_motivo_fechamento_atendimento = "5", descricao_fechamento = "ok" })
    assert.are.equal("{}", core.encode(hubsoft.parametros_fechamento {}))
  end)

  it("raises naming an unknown key or a key of the wrong type", function()
    local ok, msg = pcall(hubsoft.parametros_fechamento, { motivo = 1 })
    assert.is_false(ok)
    assert.truthy(tostring(msg):find("motivo", 1, true))
    ok, msg = pcall(hubsoft.parametros_fechamento, { id_motivo_fechamento = "x" })
    assert.is_false(ok)
    assert.truthy(tostring(msg):find("id_motivo_fechamento", 1, true))
    ok, msg = pcall(hubsoft.parametros_fechamento, { descricao_fechamento = 5 })
    assert.is_false(ok)
    assert.truthy(tostring(msg):find("descricao_fechamento", 1, true))
  end)
end)

describe("hubsoft.array and hubsoft.object", function()
  it("decide how an empty table is encoded", function()
    assert.are.equal("[]", core.encode(hubsoft.array {}))
    assert.are.equal("{}", core.encode(hubsoft.object {}))
    assert.are.equal('{"a":[]}', core.encode { a = hubsoft.array {} })
    local t = {}
    assert.are.equal(t, hubsoft.array(t))
    assert.are.equal(t, hubsoft.object(t))
  end)
end)

describe("the module", function()
  it("exports the contract", function()
    assert.are.equal(core.VERSION, hubsoft.VERSION)
    assert.truthy(hubsoft.VERSION:match("^%d+%.%d+%.%d+"))
    assert.are.equal(core.null, hubsoft.null)
    assert.are.equal(core.new, hubsoft.new)
    for _, name in ipairs { "ids", "parametros_ordem_servico", "parametros_fechamento", "file_token_store" } do
      assert.is_function(hubsoft[name])
    end
    for _, name in ipairs { "consultar_atendimentos", "todos_atendimentos", "abrir_atendimento",
      "editar_atendimento", "fechar_atendimento", "adicionar_mensagem", "adicionar_anexos",
      "atendimentos_do_cliente", "configuracao", "pages", "each", "request", "authenticate", "close" } do
      assert.is_function(core.methods[name], name)
    end
  end)

  it("can be loaded twice", function()
    package.loaded.hubsoft = nil
    local again = require "hubsoft"
    assert.are.equal(hubsoft.VERSION, again.VERSION)
    local api = new_client()
    local _, err = api:configuracao("X")
    assert.are.equal("validation", err.kind)
    _, err = api:configuracao("disponibilidade")
    assert.are.equal("network", err.kind)
    api:close()
  end)
end)

describe("iterator arguments", function()
  local api

  setup(function()
    api = new_client()
  end)

  teardown(function()
    api:close()
  end)

  it("refuses an unknown method or a bad concurrency at once", function()
    assert.has_error(function() api:pages("abrir_atendimento", {}) end)
    assert.has_error(function() api:each("consultar", {}) end)
    for _, bad in ipairs { 0, 9, 1.5, "2", true } do
      assert.has_error(function() api:pages("todos_atendimentos", {}, { concurrency = bad }) end)
      assert.has_error(function() api:each("todos_atendimentos", {}, { concurrency = bad }) end)
    end
    assert.has_error(function() api:pages("todos_atendimentos", {}, { concorrencia = 2 }) end)
    assert.has_error(function() api:pages("todos_atendimentos", "x") end)
    for _, good in ipairs { 1, 2, 8, 4.0 } do
      assert.is_function(api:pages("todos_atendimentos", {}, { concurrency = good }))
    end
    assert.is_function(api:each("todos_atendimentos", {}))
  end)

  it("raises the validation error of the filtros", function()
    local ok, err = pcall(function()
      for _ in api:pages("todos_atendimentos", { data_inicio = "2025-02-29" }) do -- luacheck: ignore 512
      end
    end)
    assert.is_false(ok)
    assert.are.equal("validation", err.kind)
    assert.are.equal("data_inicio", err.field)
  end)

  it("raises the error table of a failed request", function()
    local filtros = { itens_por_pagina = 10 }
    local ok, err = pcall(function()
      for _ in api:each("consultar_atendimentos", filtros) do -- luacheck: ignore 512
      end
    end)
    assert.is_false(ok)
    assert.are.equal("network", err.kind)
    assert.are.same({ itens_por_pagina = 10 }, filtros)
  end)
end)

teardown(function()
  os.remove(readable_file)
  os.remove(a_directory)
end)
