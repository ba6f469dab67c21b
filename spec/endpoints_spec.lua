-- Every endpoint method against the fake server over real HTTP: what goes on
-- the wire (method, path, query, JSON body, headers), what the server's state
-- becomes, and what the method returns.
--
-- The rules themselves (bad and good values) are in validation_spec.lua;
-- here every call is valid and reaches the server.

local hubsoft = require "hubsoft"
local cjson = require "cjson"
local fake = require "spec.support.server"
local util = require "spec.support.util"

local API = "/api/v1/integracao"
local NOW_DAY = "2025-09-15"          -- the server's clock, fixed for each test
local NOW = NOW_DAY .. " 10:30:00"
local SEED = { tickets = 20, data_inicio = "2025-01-01", data_fim = "2025-06-30" }

-- Seeded tickets (see make_seed in lua/hubsoft/fake_server.lua): ids 5001..5020
-- by date; 5005, 5010, 5015, 5020 are closed; 5002, 5007, 5012, 5017 have an
-- open service order; services cycle 17812, 17813, 12345, 20001, 20002.
local OPEN_SEEDED = 5001
local OPEN_WITH_OS = 5002
local CLOSED_SEEDED = 5005
-- The company client has open and closed tickets (services 20001 and 20002).
local CNPJ = "11222333000181"

-- Texts with accents, emoji and the characters JSON must escape.
local TEXTO = "Conexão instável à noite; ping 80 ms — técnico avô ção ÇÃO é ô 🚀😀 \"aspas\" \\ barra / fim\nlinha 2\ttab"

local merge, parse_query, write_file = util.with, util.parse_query, util.write_file

local function hex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

-- The fake server's fingerprint of an attachment: size, first and last 16 bytes.
local function checksum(data)
  return string.format("%d:%s:%s", #data, hex(data:sub(1, 16)), hex(data:sub(-16)))
end

local function ids_of(list)
  local out = {}
  for i, a in ipairs(list) do out[i] = a.id_atendimento end
  return out
end

describe("endpoint methods against the fake server", function()
  local srv, api

  setup(function() srv = fake.start {} end)
  teardown(function() srv:stop() end)
  before_each(function()
    srv:reset()
    srv:seed(SEED)
    srv:set { now = NOW }
    -- a new client each time: reset() forgets the tokens the server issued
    api = hubsoft.new(merge(srv:config(), { retries = 0 }))
  end)
  after_each(function() api:close() end)

  -- The one request recorded under `path` (fails when there is not exactly one).
  local function sent(path, method)
    local found = {}
    for _, r in ipairs(srv:requests(path)) do
      if r.path == path and (not method or r.method == method) then found[#found + 1] = r end
    end
    assert.equals(1, #found, "requests to " .. path)
    return found[1]
  end

  local function json_of(r)
    assert.equals("application/json", r.headers["content-type"])
    return cjson.decode(r.body)
  end

  local function assert_authorized(r)
    assert.matches("^Bearer tok%-", r.headers.authorization)
    assert.equals("application/json", r.headers.accept)
    assert.matches("^lua%-hubsoft/", r.headers["user-agent"])
  end

  local function assert_bodyless_get(r)
    assert.equals("GET", r.method)
    assert.equals("", r.body)
    assert.is_nil(r.headers["content-type"])
    assert_authorized(r)
  end

  local function state_of(id)
    for _, t in ipairs(srv:state().atendimentos) do
      if t.id_atendimento == id then return t end
    end
    error("no ticket " .. tostring(id) .. " in the server state")
  end

  local function state_total() return srv:state().total end

  -- Services of a client, from the server's reference data.
  local function services_of(field, value)
    for _, c in ipairs(srv:state().clientes) do
      if tonumber(c[field]) == tonumber(value) then
        local set = {}
        for _, id in ipairs(c.id_cliente_servico) do set[id] = true end
        return set
      end
    end
    error("no client with " .. field .. " = " .. tostring(value))
  end

  local function open_ticket(extra)
    return assert(api:abrir_atendimento(merge({
      id_cliente_servico = 17812,
      descricao = "Cliente sem conexão desde ontem",
      nome = "João da Silva",
      telefone = "81987654321",
    }, extra))).atendimento
  end

  ----------------------------------------------------------------------------
  describe("consultar_atendimentos", function()
    it("POST form: filters as JSON, itens_por_pagina in the path, a Laravel paginator back", function()
      local r = assert(api:consultar_atendimentos {
        itens_por_pagina = 3,
        data_inicio = "2025-01-01", data_fim = "2025-06-30",
        tipo_atendimento = { 132, 28 },
        status_atendimento = "23, 1",
        relacoes = { "cliente_servico", "atendimento_mensagem" },
      })
      local req = sent(API .. "/atendimento/paginado/3", "POST")
      assert_authorized(req)
      -- the page also in the query string: the vendor's paginator reads only ?page=N
      assert.equals("page=1", req.query)
      assert.same({
        pagina = 0, itens_por_pagina = 3, data_inicio = "2025-01-01", data_fim = "2025-06-30",
        tipo_atendimento = "132,28", status_atendimento = "23,1",
        relacoes = "cliente_servico,atendimento_mensagem",
      }, json_of(req))

      local expected = {}
      for _, t in ipairs(srv:state().atendimentos) do
        if (t.id_tipo_atendimento == 132 or t.id_tipo_atendimento == 28)
          and (t.id_atendimento_status == 23 or t.id_atendimento_status == 1) then
          expected[#expected + 1] = t.id_atendimento
        end
      end
      assert.is_true(#expected > 3) -- the filter matches more than one page
      assert.equals("success", r.status)
      local p = r.atendimentos
      assert.equals(1, p.current_page)
      assert.equals(3, p.per_page)
      assert.equals(#expected, p.total)
      assert.equals(math.ceil(#expected / 3), p.last_page)
      assert.same({ expected[1], expected[2], expected[3] }, ids_of(p.data))
      for _, a in ipairs(p.data) do
        assert.is_table(a.status) -- an object in the paginated lists
        assert.is_string(a.status.descricao)
        assert.is_table(a.cliente_servico)
        assert.equals(a.id_cliente_servico, a.cliente_servico.id_cliente_servico)
        assert.is_table(a.atendimento_mensagem)
        assert.is_string(a.protocolo)
      end
    end)

    it("GET form (metodo_http = \"GET\"): the same filters in the query string, no body", function()
      local r = assert(api:consultar_atendimentos {
        metodo_http = "GET", itens_por_pagina = 5, pagina = 2,
        data_inicio = "2025-01-01", data_fim = "2025-06-30",
      })
      local req = sent(API .. "/atendimento/paginado/5", "GET")
      assert_bodyless_get(req)
      assert.same({ pagina = "2", page = "2", itens_por_pagina = "5", data_inicio = "2025-01-01",
                    data_fim = "2025-06-30" }, parse_query(req.query))
      assert.equals(2, r.atendimentos.current_page)
      assert.equals(20, r.atendimentos.total)
      assert.same({ 5006, 5007, 5008, 5009, 5010 }, ids_of(r.atendimentos.data))
    end)

    it("filters by id_servico", function()
      local r = assert(api:consultar_atendimentos {
        itens_por_pagina = 50, data_inicio = "2025-01-01", data_fim = "2025-06-30", id_servico = 2735,
      })
      assert.equals(2735, json_of(sent(API .. "/atendimento/paginado/50")).id_servico)
      assert.equals(4, #r.atendimentos.data) -- every 5th seeded ticket is on service 17812
      for _, a in ipairs(r.atendimentos.data) do assert.equals(17812, a.id_cliente_servico) end
    end)
  end)

  ----------------------------------------------------------------------------
  describe("todos_atendimentos", function()
    it("sends the filters in the query string and answers a paginacao block", function()
      local r = assert(api:todos_atendimentos {
        pagina = 1, itens_por_pagina = 5, data_inicio = "2025-01-01", data_fim = "2025-06-30",
        relacoes = "atendimento_mensagem",
      })
      local req = sent(API .. "/atendimento/todos")
      assert_bodyless_get(req)
      assert.same({ pagina = "1", itens_por_pagina = "5", data_inicio = "2025-01-01",
                    data_fim = "2025-06-30", relacoes = "atendimento_mensagem" }, parse_query(req.query))
      assert.same({ primeira_pagina = 0, ultima_pagina = 3, pagina_atual = 1, total_registros = 20 },
                  r.paginacao)
      assert.same({ 5006, 5007, 5008, 5009, 5010 }, ids_of(r.atendimentos))
      for _, a in ipairs(r.atendimentos) do
        assert.is_table(a.atendimento_mensagem)
        -- seeded tickets 3, 6, 9... have one message
        assert.equals((a.id_atendimento - 5000) % 3 == 0 and 1 or 0, #a.atendimento_mensagem)
      end
    end)

    it("works without filtros (the server's defaults: page 0 of 20)", function()
      local r = assert(api:todos_atendimentos())
      assert.equals("", sent(API .. "/atendimento/todos").query)
      assert.equals(0, r.paginacao.pagina_atual)
      assert.equals(20, #r.atendimentos)
    end)
  end)

  ----------------------------------------------------------------------------
  describe("abrir_atendimento", function()
    it("plain: sends the JSON body, creates the ticket, returns it with its protocolo", function()
      local r = assert(api:abrir_atendimento {
        id_cliente_servico = 17812,
        descricao = "Cliente sem conexão desde ontem",
        nome = "João da Silva",
        telefone = "81987654321",
        email = "joao.silva@example.com.br",
        id_tipo_atendimento = 132,
        id_origem_contato = 3,
        id_usuario_responsavel = { 22 },
        id_disponibilidade = { 1, 2 },
      })
      local req = sent(API .. "/atendimento", "POST")
      assert_authorized(req)
      assert.same({
        id_cliente_servico = 17812, descricao = "Cliente sem conexão desde ontem",
        nome = "João da Silva", telefone = "81987654321", email = "joao.silva@example.com.br",
        id_tipo_atendimento = 132, id_origem_contato = 3,
        id_usuario_responsavel = "22", id_disponibilidade = "1,2",
      }, json_of(req))

      assert.equals("success", r.status)
      local at = r.atendimento
      assert.equals(5021, at.id_atendimento)
      assert.is_string(at.protocolo)
      assert.matches("^%d+$", at.protocolo)
      assert.equals(20, #at.protocolo)
      assert.truthy(r.msg:find(at.protocolo, 1, true))
      assert.equals("Aguardando Análise", at.status) -- a label in the create answer
      assert.equals("TÉCNICO - QUEDAS DE CONEXÃO", at.tipo_atendimento)
      assert.equals("15/09/2025", at.data_cadastro)
      assert.equals("86214941081", at.cliente.cpf_cnpj)
      assert.equals(0, #at.ordens_servico)

      local t = state_of(5021)
      assert.equals(21, state_total())
      assert.equals(at.protocolo, t.protocolo)
      assert.equals("aguardando_analise", t.status)
      assert.equals(132, t.id_tipo_atendimento)
      assert.equals("João da Silva", t.nome)
      assert.equals("81987654321", t.telefone)
      assert.equals("joao.silva@example.com.br", t.email)
      assert.equals("1,2", t.id_disponibilidade)
      assert.equals(3, t.id_origem_contato)
      assert.is_false(t.abrir_os)
      assert.is_false(t.fechado)
      assert.equals(NOW, t.data_cadastro)
    end)

    it("with parametros: one table is sent as an array of one object and kept", function()
      local at = open_ticket { parametros = { conversa_id = "wa-558199990000-42", canal = "whatsapp",
                                              tentativa = 2, bot = true } }
      local body = json_of(sent(API .. "/atendimento"))
      assert.same({ { conversa_id = "wa-558199990000-42", canal = "whatsapp", tentativa = 2, bot = true } },
                  body.parametros)
      assert.same(body.parametros, state_of(at.id_atendimento).parametros)
    end)

    it("with parametros as a list of tables, in order", function()
      local at = open_ticket { parametros = { { origem = "ura" }, { fila = "suporte", posicao = 3 } } }
      assert.same({ { origem = "ura" }, { fila = "suporte", posicao = 3 } },
                  state_of(at.id_atendimento).parametros)
    end)

    it("with abrir_os and parametros_ordem_servico built by the helper: opens a service order", function()
      local r = assert(api:abrir_atendimento {
        id_cliente_servico = 12345, descricao = "Visita técnica: cabo rompido", nome = "Bianca",
        telefone = "8133334444", abrir_os = true, id_disponibilidade = "1",
        parametros_ordem_servico = hubsoft.parametros_ordem_servico {
          id_tipo_ordem_servico = 15, status = "aguardando_agendamento",
          ids_tecnicos = { 5, 10 }, id_disponibilidade = { 1, 2 },
        },
      })
      local body = json_of(sent(API .. "/atendimento"))
      assert.is_true(body.abrir_os)
      assert.same({ { id_tipo_ordem_servico = 15, status = "aguardando_agendamento",
                      ids_tecnicos = "5,10", id_disponibilidade = "1,2" } }, body.parametros_ordem_servico)

      local at = r.atendimento
      assert.matches("ordem de serviço", r.msg)
      assert.equals("Pendente", at.status) -- the default status with abrir_os
      assert.equals(1, #at.ordens_servico)
      assert.equals("VISITA TÉCNICA", at.ordens_servico[1].tipo)
      assert.equals("aguardando_agendamento", at.ordens_servico[1].status)

      local t = state_of(at.id_atendimento)
      assert.is_true(t.abrir_os)
      assert.equals("pendente", t.status)
      assert.same(body.parametros_ordem_servico, t.parametros_ordem_servico)
      assert.equals(1, #t.ordens_servico)
      assert.equals("aguardando_agendamento", t.ordens_servico[1].status)
    end)

    it("with parametros_fechamento (the create's spelling) sent as an array and kept", function()
      local at = open_ticket {
        parametros_fechamento = hubsoft.parametros_fechamento {
          id_motivo_fechamento_atendimento = 5, descricao_fechamento = "Resolvido no primeiro contato",
          status_fechamento = "concluido",
        },
      }
      local expected = { { id_motivo_fechamento_atendimento = 5,
                           descricao_fechamento = "Resolvido no primeiro contato",
                           status_fechamento = "concluido" } }
      assert.same(expected, json_of(sent(API .. "/atendimento")).parametros_fechamento)
      assert.same(expected, state_of(at.id_atendimento).parametros_fechamento)
    end)

    it("a server-side validation failure (HTTP 200, status error) is kind api with err.errors", function()
      local r, err = api:abrir_atendimento {
        id_cliente_servico = 999999, id_tipo_atendimento = 77,
        descricao = "Serviço que não existe", nome = "Ninguém", telefone = "1133334444",
      }
      assert.is_nil(r)
      assert.equals("api", err.kind)
      assert.equals(200, err.status)
      assert.matches("Favor preencher os campos obrigatórios", err.message)
      assert.same({ "O campo id_cliente_servico selecionado é inválido.",
                    "O campo id_tipo_atendimento selecionado é inválido." }, err.errors)
      assert.equals("POST", err.method)
      assert.equals(1, err.attempts)
      assert.is_false(err.retryable)
      assert.equals(1, #srv:requests(API .. "/atendimento")) -- a write is sent once
      assert.equals(20, state_total())
    end)
  end)

  ----------------------------------------------------------------------------
  describe("editar_atendimento", function()
    it("changes the status: PUT with fechar_atendimento false", function()
      local r = assert(api:editar_atendimento(OPEN_SEEDED, { id_atendimento_status = 3 }))
      local req = sent(API .. "/atendimento/" .. OPEN_SEEDED, "PUT")
      assert_authorized(req)
      assert.same({ fechar_atendimento = false, id_atendimento_status = 3 }, json_of(req))
      assert.equals("Atendimento atualizado com sucesso", r.msg)
      assert.equals(OPEN_SEEDED, r.atendimento.id_atendimento)
      assert.equals(3, r.atendimento.id_atendimento_status)
      local t = state_of(OPEN_SEEDED)
      assert.equals("em_analise", t.status)
      assert.equals(1, t.edicoes)
      assert.is_false(t.fechado)
      local listed = assert(api:todos_atendimentos { itens_por_pagina = 1 }).atendimentos[1]
      assert.equals("Em Análise", listed.status.descricao)
    end)

    it("changes the type", function()
      local r = assert(api:editar_atendimento(OPEN_SEEDED, { id_tipo_atendimento = 150 }))
      assert.same({ fechar_atendimento = false, id_tipo_atendimento = 150 },
                  json_of(sent(API .. "/atendimento/" .. OPEN_SEEDED)))
      assert.equals(150, r.atendimento.id_tipo_atendimento)
      local t = state_of(OPEN_SEEDED)
      assert.equals(150, t.id_tipo_atendimento)
      local c = assert(api:atendimentos_do_cliente("protocolo", t.protocolo))
      assert.equals("SUPORTE TÉCNICO ESPECIALIZADO", c.atendimentos[1].tipo_atendimento)
    end)

    it("edits descricao and parametros (sent as an object)", function()
      local r = assert(api:editar_atendimento(OPEN_SEEDED, {
        descricao = "Atendimento em análise pela equipe técnica",
        parametros = { atualizado_por = "bot_telegram", analise_tecnica = "em_andamento", prioridade = 2 },
      }))
      local req = sent(API .. "/atendimento/" .. OPEN_SEEDED)
      assert.truthy(req.body:find('"parametros":{', 1, true))
      assert.same({
        fechar_atendimento = false, descricao = "Atendimento em análise pela equipe técnica",
        parametros = { atualizado_por = "bot_telegram", analise_tecnica = "em_andamento", prioridade = 2 },
      }, json_of(req))
      assert.equals("Atendimento em análise pela equipe técnica", r.atendimento.descricao_abertura)
      local t = state_of(OPEN_SEEDED)
      assert.equals("Atendimento em análise pela equipe técnica", t.descricao)
      assert.same({ atualizado_por = "bot_telegram", analise_tecnica = "em_andamento", prioridade = 2 },
                  t.parametros)
      assert.equals("aguardando_analise", t.status) -- untouched
    end)

    it("an id the server does not know is kind api, and nothing changes", function()
      local r, err = api:editar_atendimento(OPEN_SEEDED, { id_atendimento_status = 99 })
      assert.is_nil(r)
      assert.equals("api", err.kind)
      assert.same({ "O campo id_atendimento_status selecionado é inválido." }, err.errors)
      assert.equals(0, state_of(OPEN_SEEDED).edicoes)
      r, err = api:editar_atendimento(999999, { descricao = "x" })
      assert.is_nil(r)
      assert.equals("api", err.kind)
      assert.matches("não encontrado", err.message)
    end)
  end)

  ----------------------------------------------------------------------------
  describe("fechar_atendimento", function()
    it("closes with hubsoft.parametros_fechamento, closing its service orders", function()
      local at = open_ticket {
        abrir_os = true,
        parametros_ordem_servico = hubsoft.parametros_ordem_servico { id_tipo_ordem_servico = 15 },
      }
      assert.equals("aguardando_agendamento", state_of(at.id_atendimento).ordens_servico[1].status)
      srv:set { now = NOW_DAY .. " 11:45:10" }
      local r = assert(api:fechar_atendimento(at.id_atendimento, {
        parametros_fechamento = hubsoft.parametros_fechamento {
          id_motivo_fechamento = 108, descricao_fechamento = "Rota otimizada; ping normalizado",
          status_fechamento = "concluido",
        },
        parametros = { resolucao = "otimizacao_qos", satisfacao_cliente = 5 },
      }))
      local req = sent(API .. "/atendimento/" .. at.id_atendimento, "PUT")
      assert.same({
        fechar_atendimento = true,
        parametros_fechamento = { id_motivo_fechamento = 108, descricao_fechamento = "Rota otimizada; ping normalizado",
                                  status_fechamento = "concluido" },
        parametros = { resolucao = "otimizacao_qos", satisfacao_cliente = 5 },
      }, json_of(req))
      assert.truthy(req.body:find('"parametros_fechamento":{', 1, true)) -- an object in the PUT

      local a = r.atendimento
      assert.equals("2025-09-15 11:45:10", a.data_fechamento)
      assert.equals(108, a.id_motivo_fechamento_atendimento)
      assert.equals("concluido", a.status_fechamento)
      assert.equals("Rota otimizada; ping normalizado", a.descricao_fechamento)

      local t = state_of(at.id_atendimento)
      assert.is_true(t.fechado)
      assert.equals("resolvido", t.status)
      assert.equals("2025-09-15 11:45:10", t.data_fechamento)
      assert.equals(108, t.id_motivo_fechamento_atendimento)
      assert.same({ resolucao = "otimizacao_qos", satisfacao_cliente = 5 }, t.parametros)
      assert.equals(1, #t.ordens_servico)
      for _, o in ipairs(t.ordens_servico) do
        assert.equals("finalizado", o.status)
        assert.equals("concluido", o.status_fechamento)
      end

      -- no longer pending for the customer; listed among all with its reason
      local pend = assert(api:atendimentos_do_cliente("protocolo", at.protocolo, { apenas_pendente = true }))
      assert.equals(0, #pend.atendimentos)
      local all = assert(api:atendimentos_do_cliente("protocolo", at.protocolo, { apenas_pendente = false }))
      assert.equals("Resolvido remotamente", all.atendimentos[1].motivo_fechamento)
      assert.equals("finalizado", all.atendimentos[1].ordens_servico[1].status)
    end)

    it("with no dados sends only fechar_atendimento = true and closes a seeded ticket's open order", function()
      assert.equals("aguardando_agendamento", state_of(OPEN_WITH_OS).ordens_servico[1].status)
      assert(api:fechar_atendimento(OPEN_WITH_OS))
      assert.same({ fechar_atendimento = true }, json_of(sent(API .. "/atendimento/" .. OPEN_WITH_OS)))
      local t = state_of(OPEN_WITH_OS)
      assert.is_true(t.fechado)
      assert.equals("Atendimento finalizado via API", t.descricao_fechamento)
      assert.equals("finalizado", t.ordens_servico[1].status)
    end)

    it("closing an already closed ticket is kind api and changes nothing", function()
      local before = state_of(CLOSED_SEEDED)
      assert.is_true(before.fechado)
      local r, err = api:fechar_atendimento(CLOSED_SEEDED, {
        parametros_fechamento = hubsoft.parametros_fechamento { descricao_fechamento = "de novo" },
      })
      assert.is_nil(r)
      assert.equals("api", err.kind)
      assert.equals(200, err.status)
      assert.same({ "O atendimento " .. CLOSED_SEEDED .. " já está fechado." }, err.errors)
      assert.equals(1, err.attempts)
      assert.matches("^hubsoft api error: ", tostring(err))
      assert.same(before, state_of(CLOSED_SEEDED))
    end)
  end)

  ----------------------------------------------------------------------------
  describe("adicionar_mensagem", function()
    it("sends {mensagem} and keeps every message in order", function()
      local at = open_ticket()
      local r1 = assert(api:adicionar_mensagem(at.id_atendimento, "Cliente enviou o teste de velocidade."))
      local r2 = assert(api:adicionar_mensagem(at.id_atendimento, "Técnico agendado para amanhã."))
      local reqs = srv:requests(API .. "/atendimento/adicionar_mensagem/" .. at.id_atendimento)
      assert.equals(2, #reqs)
      assert.equals("POST", reqs[1].method)
      assert_authorized(reqs[1])
      assert.same({ mensagem = "Cliente enviou o teste de velocidade." }, json_of(reqs[1]))
      assert.same({ mensagem = "Técnico agendado para amanhã." }, json_of(reqs[2]))

      assert.equals("success", r1.status)
      assert.equals(at.id_atendimento, r1.mensagem.id_atendimento)
      assert.equals("Cliente enviou o teste de velocidade.", r1.mensagem.mensagem)
      -- data_cadastro is an object in this answer
      assert.same({ date = NOW .. ".000000", timezone_type = 3, timezone = "America/Recife" },
                  r1.mensagem.data_cadastro)
      assert.is_true(r2.mensagem.id_atendimento_mensagem > r1.mensagem.id_atendimento_mensagem)

      local msgs = state_of(at.id_atendimento).mensagens
      assert.equals(2, #msgs)
      assert.equals("Cliente enviou o teste de velocidade.", msgs[1].mensagem)
      assert.equals("Técnico agendado para amanhã.", msgs[2].mensagem)
      assert.equals(r1.mensagem.id_atendimento_mensagem, msgs[1].id_atendimento_mensagem)
    end)

    it("to a closed ticket is kind api and nothing is kept", function()
      local r, err = api:adicionar_mensagem(CLOSED_SEEDED, "Ainda sem internet")
      assert.is_nil(r)
      assert.equals("api", err.kind)
      assert.equals(1, #err.errors)
      assert.equals(0, #state_of(CLOSED_SEEDED).mensagens)
    end)
  end)

  ----------------------------------------------------------------------------
  describe("adicionar_anexos", function()
    local dir
    setup(function()
      dir = os.tmpname()
      os.remove(dir)
      assert(os.execute("mkdir '" .. dir .. "'"))
    end)
    teardown(function() os.execute("rm -rf '" .. dir .. "'") end)

    -- Every byte value, CRLFs, NULs and lines that look like multipart boundaries.
    local ALL_BYTES = {}
    for i = 0, 255 do ALL_BYTES[#ALL_BYTES + 1] = string.char(i) end
    ALL_BYTES = table.concat(ALL_BYTES)
    local TRAPS = "\r\n--\r\n------------------------abc\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n\0\0"

    it("streams a binary file over 1 MB from disk and an in-memory item with NULs, byte for byte", function()
      local big = "\137PNG\r\n\26\n" .. string.rep(ALL_BYTES .. TRAPS, 4000) .. "\r\n--fim\0\255"
      assert.is_true(#big > 1024 * 1024)
      local big_path = dir .. "/speedtest.png"
      write_file(big_path, big)
      local small = "config\0\r\n" .. ALL_BYTES .. TRAPS
      local small_path = dir .. "/mikrotik.rsc"
      write_file(small_path, small)
      local mem = "\0\0inicio\r\n" .. ALL_BYTES .. "\r\n--\0fim\0"
      local raw = "sem extensão\0\1\2"

      local at = open_ticket()
      local r = assert(api:adicionar_anexos(at.id_atendimento, {
        big_path,                                                    -- type from the extension
        { data = mem, filename = "ping.txt" },                       -- in memory, type from the extension
        { path = small_path, filename = "roteador.cfg", content_type = "application/vnd.mikrotik" },
        { data = raw, filename = "leia-me" },                        -- no extension
      }))

      -- what went over the wire
      local req = sent(API .. "/atendimento/adicionar_anexo/" .. at.id_atendimento, "POST")
      assert_authorized(req)
      assert.matches("^multipart/form%-data; boundary=", req.headers["content-type"])
      assert.is_true(req.body.multipart)
      local parts = req.body.parts
      assert.equals(4, #parts)
      assert.same({ name = "files[0]", filename = "speedtest.png", content_type = "image/png", size = #big }, parts[1])
      assert.same({ name = "files[1]", filename = "ping.txt", content_type = "text/plain", size = #mem }, parts[2])
      assert.same({ name = "files[2]", filename = "roteador.cfg", content_type = "application/vnd.mikrotik",
                    size = #small }, parts[3])
      assert.same({ name = "files[3]", filename = "leia-me", content_type = "application/octet-stream",
                    size = #raw }, parts[4])

      -- what the server kept
      local anexos = state_of(at.id_atendimento).anexos
      assert.equals(4, #anexos)
      assert.equals("files[0]", anexos[1].campo)
      assert.equals("speedtest.png", anexos[1].nome)
      assert.equals(#big, anexos[1].tamanho)
      assert.equals(checksum(big), anexos[1].checksum)
      assert.equals(hex(mem), anexos[2].data_hex)
      assert.equals("text/plain", anexos[2].tipo)
      assert.equals(hex(small), anexos[3].data_hex)
      assert.equals("application/vnd.mikrotik", anexos[3].tipo)
      assert.equals(hex(raw), anexos[4].data_hex)

      -- what came back
      assert.equals("Anexo Adicionado com sucesso", r.msg)
      assert.equals(at.id_atendimento, r.atendimento.id_atendimento)
      assert.equals(at.protocolo, r.atendimento.protocolo)
      assert.equals(4, #r.anexos)
      assert.equals(#big, r.anexos[1].tamanho)
    end)

    it("keeps earlier attachments when more are added", function()
      local at = open_ticket()
      assert(api:adicionar_anexos(at.id_atendimento, { { data = "primeiro", filename = "a.log" } }))
      assert(api:adicionar_anexos(at.id_atendimento, { { data = "segundo", filename = "b.json" },
                                                       { data = "terceiro", filename = "c.PDF" } }))
      local anexos = state_of(at.id_atendimento).anexos
      assert.equals(3, #anexos)
      assert.same({ "a.log", "b.json", "c.PDF" }, { anexos[1].nome, anexos[2].nome, anexos[3].nome })
      assert.same({ "text/plain", "application/json", "application/pdf" },
                  { anexos[1].tipo, anexos[2].tipo, anexos[3].tipo })
      assert.same({ hex("primeiro"), hex("segundo"), hex("terceiro") },
                  { anexos[1].data_hex, anexos[2].data_hex, anexos[3].data_hex })
      -- each call numbers its own files from files[0]
      assert.same({ "files[0]", "files[0]", "files[1]" }, { anexos[1].campo, anexos[2].campo, anexos[3].campo })
    end)
  end)

  ----------------------------------------------------------------------------
  describe("atendimentos_do_cliente", function()
    -- Expected answer from the server state: the client's tickets, oldest first.
    local function expected(match, pending_only)
      local out = {}
      for _, t in ipairs(srv:state().atendimentos) do
        if match(t) and (not pending_only or not t.fechado) then out[#out + 1] = t.id_atendimento end
      end
      table.sort(out)
      return out
    end

    for _, case in ipairs {
      { busca = "cpf_cnpj", termo = "86214941081", field = "cpf_cnpj" },
      { busca = "codigo_cliente", termo = 1204, field = "codigo_cliente" },
      { busca = "id_cliente_servico", termo = 20001 },
      { busca = "protocolo" },
    } do
      it("busca = " .. case.busca .. " (pending only, by default on the server)", function()
        local termo = case.termo
        local match
        if case.busca == "protocolo" then
          local t = state_of(5003)
          termo = t.protocolo
          match = function(x) return x.id_atendimento == 5003 end
        elseif case.busca == "id_cliente_servico" then
          match = function(x) return x.id_cliente_servico == termo end
        else
          local services = services_of(case.field, termo)
          match = function(x) return services[x.id_cliente_servico] end
        end
        local r = assert(api:atendimentos_do_cliente(case.busca, termo))
        local req = sent(API .. "/cliente/atendimento")
        assert_bodyless_get(req)
        assert.same({ busca = case.busca, termo_busca = tostring(termo) }, parse_query(req.query))
        assert.equals("suscess", r.status) -- sic, as the vendor answers
        local want = expected(match, true)
        assert.is_true(#want >= 1)
        assert.same(want, ids_of(r.atendimentos))
        for _, a in ipairs(r.atendimentos) do
          assert.is_string(a.status) -- a label in this endpoint
          assert.is_table(a.cliente)
        end
      end)
    end

    it("apenas_pendente = true sends sim (open only); false sends nao (closed too)", function()
      local services = services_of("cpf_cnpj", CNPJ)
      local match = function(x) return services[x.id_cliente_servico] end
      local pend = assert(api:atendimentos_do_cliente("cpf_cnpj", CNPJ, { apenas_pendente = true }))
      local all = assert(api:atendimentos_do_cliente("cpf_cnpj", CNPJ, { apenas_pendente = false }))
      local reqs = srv:requests(API .. "/cliente/atendimento")
      assert.equals("sim", parse_query(reqs[1].query).apenas_pendente)
      assert.equals("nao", parse_query(reqs[2].query).apenas_pendente)
      assert.same(expected(match, true), ids_of(pend.atendimentos))
      assert.same(expected(match, false), ids_of(all.atendimentos))
      assert.is_true(#all.atendimentos > #pend.atendimentos)
      local closed = 0
      for _, a in ipairs(all.atendimentos) do
        if a.data_fechamento then closed = closed + 1 end
      end
      assert.equals(#all.atendimentos - #pend.atendimentos, closed)
    end)

    it("limit caps the list", function()
      local r = assert(api:atendimentos_do_cliente("codigo_cliente", "2001", { limit = 2, apenas_pendente = "nao" }))
      local q = parse_query(sent(API .. "/cliente/atendimento").query)
      assert.equals("2", q.limit)
      assert.equals("nao", q.apenas_pendente)
      assert.equals(2, #r.atendimentos)
      local services = services_of("codigo_cliente", 2001)
      local want = expected(function(x) return services[x.id_cliente_servico] end, false)
      assert.same({ want[1], want[2] }, ids_of(r.atendimentos))
    end)

    it("order_by and order_type decide the order", function()
      local services = services_of("cpf_cnpj", CNPJ)
      local want = expected(function(x) return services[x.id_cliente_servico] end, false)
      local r = assert(api:atendimentos_do_cliente("cpf_cnpj", CNPJ, {
        apenas_pendente = false, order_by = "data_cadastro", order_type = "desc",
      }))
      local q = parse_query(sent(API .. "/cliente/atendimento").query)
      assert.equals("data_cadastro", q.order_by)
      assert.equals("desc", q.order_type)
      local reversed = {}
      for i = #want, 1, -1 do reversed[#reversed + 1] = want[i] end
      assert.same(reversed, ids_of(r.atendimentos))

      -- by closing date: the open ones (no date) first, then the closed ones by date
      r = assert(api:atendimentos_do_cliente("cpf_cnpj", CNPJ, {
        apenas_pendente = false, order_by = "data_fechamento", order_type = "asc",
      }))
      local seen_closed = false
      for _, a in ipairs(r.atendimentos) do
        if a.data_fechamento then seen_closed = true else assert.is_false(seen_closed) end
      end
      assert.is_true(seen_closed)
    end)

    it("data_inicio, data_fim and relacoes reach the server", function()
      local at = open_ticket()
      assert(api:adicionar_mensagem(at.id_atendimento, "Primeira mensagem"))
      local r = assert(api:atendimentos_do_cliente("cpf_cnpj", "86214941081", {
        data_inicio = NOW_DAY, data_fim = NOW_DAY, relacoes = { "atendimento_mensagem" },
      }))
      local q = parse_query(sent(API .. "/cliente/atendimento").query)
      assert.same({ busca = "cpf_cnpj", termo_busca = "86214941081", data_inicio = NOW_DAY,
                    data_fim = NOW_DAY, relacoes = "atendimento_mensagem" }, q)
      assert.same({ at.id_atendimento }, ids_of(r.atendimentos))
      assert.equals("Primeira mensagem", r.atendimentos[1].atendimento_mensagem[1].mensagem)
    end)
  end)

  ----------------------------------------------------------------------------
  describe("configuracao", function()
    for _, case in ipairs {
      { "status_atendimento", "status_atendimento", "descricao", "Em Análise" },
      { "tipo_atendimento", "tipos_atendimento", "descricao", "SAC" },
      { "disponibilidade", "disponibilidades", "descricao", "Manhã (08:00 às 12:00)" },
      { "motivo_fechamento_atendimento", "motivos_fechamento", "descricao", "Resolvido remotamente" },
      { "tecnico", "tecnicos", "name", "Maria da Conceição" },
      { "tipo_ordem_servico", "tipos_ordem_servico", "descricao", "VISITA TÉCNICA" },
    } do
      local recurso, key, field, value = case[1], case[2], case[3], case[4]
      it(recurso .. " -> " .. key, function()
        local r = assert(api:configuracao(recurso))
        local req = sent(API .. "/configuracao/" .. recurso)
        assert_bodyless_get(req)
        assert.equals("", req.query)
        assert.equals("success", r.status)
        assert.is_table(r[key])
        local found = false
        for _, item in ipairs(r[key]) do
          if item[field] == value then found = true end
        end
        assert.is_true(found, value .. " in " .. key)
      end)
    end

    it("a resource the server does not have is kind api with its HTTP status", function()
      local r, err = api:configuracao("cidade")
      assert.is_nil(r)
      assert.equals("api", err.kind)
      assert.equals(404, err.status)
      assert.matches("cidade", err.message)
    end)
  end)

  ----------------------------------------------------------------------------
  describe("state across calls", function()
    it("a created ticket shows up in todos, in paginado and in cliente/atendimento, with its messages", function()
      local at = open_ticket { id_cliente_servico = 20001, parametros = { canal = "telegram" } }
      assert(api:adicionar_mensagem(at.id_atendimento, "Mensagem guardada"))
      assert(api:adicionar_anexos(at.id_atendimento, { { data = "log", filename = "ping.log" } }))
      local day = { data_inicio = NOW_DAY, data_fim = NOW_DAY }

      local todos = assert(api:todos_atendimentos(merge(day, { relacoes = "atendimento_mensagem" })))
      assert.same({ at.id_atendimento }, ids_of(todos.atendimentos))
      assert.equals(at.protocolo, todos.atendimentos[1].protocolo)
      assert.equals("Mensagem guardada", todos.atendimentos[1].atendimento_mensagem[1].mensagem)

      local pag = assert(api:consultar_atendimentos(merge(day, { itens_por_pagina = 10 })))
      assert.same({ at.id_atendimento }, ids_of(pag.atendimentos.data))

      local found = {}
      for a in api:each("todos_atendimentos", { data_inicio = "2025-01-01", data_fim = "2025-12-31",
                                               itens_por_pagina = 7 }) do
        found[#found + 1] = a.id_atendimento
      end
      assert.equals(21, #found)
      assert.equals(at.id_atendimento, found[21])

      local cli = assert(api:atendimentos_do_cliente("protocolo", at.protocolo,
                                                    { relacoes = "atendimento_mensagem" }))
      assert.equals(1, #cli.atendimentos)
      assert.equals("Cliente sem conexão desde ontem", cli.atendimentos[1].descricao_abertura)
      assert.equals("Mensagem guardada", cli.atendimentos[1].atendimento_mensagem[1].mensagem)

      local t = state_of(at.id_atendimento)
      assert.equals(1, #t.mensagens)
      assert.equals(1, #t.anexos)
      assert.same({ { canal = "telegram" } }, t.parametros)
    end)
  end)

  ----------------------------------------------------------------------------
  describe("accents, emoji and JSON escapes", function()
    local function variant(tag) return TEXTO .. " [" .. tag .. "]" end

    it("survive the round trip byte for byte in every text field of create, edit, message and close", function()
      local email = "joão.conceição@provedor-ção.com.br"
      local r = assert(api:abrir_atendimento {
        id_cliente_servico = 17812,
        descricao = variant("descricao"),
        nome = "José Ângelo da Conceição Ôliveira 😀",
        telefone = "81987654321",
        email = email,
        parametros = { ["observação"] = variant("parametros"), canal = "WhatsApp ✓" },
        abrir_os = true,
        parametros_ordem_servico = hubsoft.parametros_ordem_servico { status = variant("status_os") },
        parametros_fechamento = hubsoft.parametros_fechamento {
          descricao_fechamento = variant("fechamento_criar"), status_fechamento = "concluído 🚀",
        },
      })
      local id = r.atendimento.id_atendimento
      assert.equals(variant("descricao"), r.atendimento.descricao_abertura)
      local body = json_of(sent(API .. "/atendimento"))
      assert.equals(variant("descricao"), body.descricao)
      assert.equals("José Ângelo da Conceição Ôliveira 😀", body.nome)
      local t = state_of(id)
      assert.equals(variant("descricao"), t.descricao)
      assert.equals("José Ângelo da Conceição Ôliveira 😀", t.nome)
      assert.equals(email, t.email)
      assert.same({ { ["observação"] = variant("parametros"), canal = "WhatsApp ✓" } }, t.parametros)
      assert.equals(variant("status_os"), t.parametros_ordem_servico[1].status)
      assert.equals(variant("status_os"), t.ordens_servico[1].status)
      assert.same({ { descricao_fechamento = variant("fechamento_criar"), status_fechamento = "concluído 🚀" } },
                  t.parametros_fechamento)

      local e = assert(api:editar_atendimento(id, {
        descricao = variant("editar"),
        parametros = { ["situação"] = variant("parametros_editar") },
      }))
      assert.equals(variant("editar"), e.atendimento.descricao_abertura)
      t = state_of(id)
      assert.equals(variant("editar"), t.descricao)
      assert.same({ ["situação"] = variant("parametros_editar") }, t.parametros)

      local m = assert(api:adicionar_mensagem(id, variant("mensagem")))
      assert.equals(variant("mensagem"), m.mensagem.mensagem)
      assert.equals(variant("mensagem"), state_of(id).mensagens[1].mensagem)

      local c = assert(api:fechar_atendimento(id, {
        descricao = variant("descricao_fechar"),
        parametros = { ["conclusão"] = variant("parametros_fechar") },
        parametros_fechamento = hubsoft.parametros_fechamento {
          id_motivo_fechamento = 5, descricao_fechamento = variant("fechamento"),
          status_fechamento = "concluído ✓",
        },
      }))
      assert.equals(variant("fechamento"), c.atendimento.descricao_fechamento)
      assert.equals("concluído ✓", c.atendimento.status_fechamento)
      t = state_of(id)
      assert.equals(variant("descricao_fechar"), t.descricao)
      assert.equals(variant("fechamento"), t.descricao_fechamento)
      assert.equals("concluído ✓", t.status_fechamento)
      assert.same({ ["conclusão"] = variant("parametros_fechar") }, t.parametros)
      assert.same({ id_motivo_fechamento = 5, descricao_fechamento = variant("fechamento"),
                    status_fechamento = "concluído ✓" }, t.parametros_fechamento)

      -- and read back through the listings
      local cli = assert(api:atendimentos_do_cliente("protocolo", r.atendimento.protocolo, {
        apenas_pendente = false, relacoes = "atendimento_mensagem" }))
      local a = cli.atendimentos[1]
      assert.equals(variant("descricao_fechar"), a.descricao_abertura)
      assert.equals(variant("fechamento"), a.descricao_fechamento)
      assert.equals(variant("mensagem"), a.atendimento_mensagem[1].mensagem)
    end)
  end)
end)
