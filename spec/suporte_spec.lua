-- The rest of the support desk (clientes, ordens de serviço, PBX) against the
-- fake server over real HTTP: what each method puts on the wire, what the
-- server answers (the vendor's example shapes), the retry class of each
-- method (reads retried, writes never sent twice), and the two new paginated
-- lists walked by api:each. The rules themselves are in validation_spec.lua.

local hubsoft = require "hubsoft"
local cjson = require "cjson"
local fake = require "spec.support.server"
local util = require "spec.support.util"

local API = "/api/v1/integracao"
local merge, parse_query = util.with, util.parse_query

-- Fixed customers of the fake server: LAVYNIA (id 24930, codigo 1864, CPF
-- 86214941081, phone 3733334444, services 17812 and 17813), BIANCA (24931,
-- 1204, phone 81987654321, service 12345), the company (24932, 2001, services
-- 20001 without authentication data and 20002 behind an offline concentrator).

describe("support desk methods against the fake server", function()
  local srv, api

  setup(function() srv = fake.start {} end)
  teardown(function() srv:stop() end)
  before_each(function()
    srv:reset()
    srv:seed { tickets = 20, data_inicio = "2025-01-01", data_fim = "2025-06-30" }
    srv:set { now = "2025-09-15 10:30:00" }
    api = hubsoft.new(merge(srv:config(), { retries = 0 }))
  end)
  after_each(function() api:close() end)

  -- The one request recorded for `path` (exactly one).
  local function sent(path)
    local found = {}
    for _, r in ipairs(srv:requests(API .. path)) do
      if r.path == API .. path then found[#found + 1] = r end
    end
    assert.equals(1, #found, "requests to " .. path)
    return found[1]
  end

  local function json_of(r)
    assert.equals("application/json", r.headers["content-type"])
    return cjson.decode(r.body)
  end

  local function bodyless_get(r)
    assert.equals("GET", r.method)
    assert.equals("", r.body)
    assert.is_nil(r.headers["content-type"])
  end

  ----------------------------------------------------------------------------
  describe("request shapes and answers", function()
    it("consultar_clientes: GET /cliente with the query; finds a caller by phone", function()
      local r = assert(api:consultar_clientes("telefone", "81987654321", { limit = 1, ultima_conexao = true }))
      local req = sent("/cliente")
      bodyless_get(req)
      assert.same({ busca = "telefone", termo_busca = "81987654321", limit = "1", ultima_conexao = "sim" },
        parse_query(req.query))
      assert.equals("success", r.status)
      assert.equals(1, #r.clientes)
      local c = r.clientes[1]
      assert.equals(24931, c.id_cliente)
      assert.equals("12345678901", c.cpf_cnpj)
      assert.equals(12345, c.servicos[1].id_cliente_servico)
      assert.is_table(c.servicos[1].ultima_conexao)
      assert.is_true(c.servicos[1].ultima_conexao.conectado)
      assert.equals("MG", (assert(api:consultar_clientes("cpf_cnpj", "86214941081"))).clientes[1]
        .servicos[1].endereco_instalacao.estado)
    end)

    it("consultar_clientes: a service that is not connected has ultima_conexao = [] (an empty array)", function()
      local r = assert(api:consultar_clientes("codigo_cliente", 2001, { ultima_conexao = "sim" }))
      local s2 = r.clientes[1].servicos[2]
      assert.equals("suspenso_parcialmente", s2.status_prefixo)
      assert.same({}, s2.ultima_conexao)
      assert.same({ busca = "codigo_cliente", termo_busca = "2001", ultima_conexao = "sim" },
        parse_query(sent("/cliente").query))
    end)

    it("todos_clientes: GET /cliente/todos, pagina 0 when left out, a paginacao block", function()
      srv:seed_suporte { clientes = 4 }
      local r = assert(api:todos_clientes { itens_por_pagina = 3, relacoes = { "pacotes", "senhas" },
                                            possui_pacote = false })
      local req = sent("/cliente/todos")
      bodyless_get(req)
      assert.same({ pagina = "0", itens_por_pagina = "3", relacoes = "pacotes,senhas", possui_pacote = "nao" },
        parse_query(req.query))
      assert.same({ primeira_pagina = 0, ultima_pagina = 2, pagina_atual = 0, total_registros = 7 }, r.paginacao)
      assert.equals(3, #r.clientes)
      local s = r.clientes[1].servicos[1]
      assert.is_number(s.id_servico)
      assert.matches("| CEP: ", s.endereco_cadastral.completo, 1, true)
    end)

    it("extrato_conexao: GET /cliente/extrato_conexao; registros and estatisticas", function()
      local r = assert(api:extrato_conexao("login", "cliente17812", { limit = 2, data_inicio = "2025-09-01" }))
      assert.same({ busca = "login", termo_busca = "cliente17812", limit = "2", data_inicio = "2025-09-01" },
        parse_query(sent("/cliente/extrato_conexao").query))
      assert.equals(2, #r.registros)
      assert.equals(2, r.estatisticas.total_conexoes)
      assert.equals("cliente17812", r.registros[1].username)
      assert.equals("86214941081", r.registros[1].cliente.cpf_cnpj)
    end)

    it("desbloqueio_confianca: POST JSON {id_cliente_servico, dias_desbloqueio}", function()
      local r = assert(api:desbloqueio_confianca(17812, 2))
      assert.same({ id_cliente_servico = 17812, dias_desbloqueio = 2 }, json_of(sent("/cliente/desbloqueio_confianca")))
      assert.equals("Desbloqueio em confiança realizado com sucesso até a data 17/09/2025", r.msg)
      assert.same({ { id_cliente_servico = 17812, dias_desbloqueio = 2, ate = "17/09/2025" } },
          srv:suporte().desbloqueios)
      -- without the days: the vendor's default (one day); an id as a string goes as given
      assert(api:desbloqueio_confianca("17813"))
      local last = srv:requests(API .. "/cliente/desbloqueio_confianca")
      assert.same({ id_cliente_servico = "17813" }, cjson.decode(last[#last].body))
    end)

    it("desbloqueio_confianca: the ISP's day limit is the server's answer, kind api", function()
      local r, err = api:desbloqueio_confianca(17812, 4)
      assert.is_nil(r)
      assert.equals("api", err.kind)
      assert.matches("limite de dias", err.message)
    end)

    it("solicitar_desconexao: GET with the id in the path, no query, no body; its error body", function()
      local r = assert(api:solicitar_desconexao(17812))
      bodyless_get(sent("/cliente/solicitar_desconexao/17812"))
      assert.equals("", sent("/cliente/solicitar_desconexao/17812").query)
      assert.equals("cliente17812", r.login)
      local _, err = api:solicitar_desconexao("20002")
      assert.equals("api", err.kind)
      assert.matches("não foi bem sucedida", err.message)
      assert.same({}, err.errors)
    end)

    it("resetar_mac: POST /cliente/reset_mac_addr {id_cliente_servico}", function()
      local r = assert(api:resetar_mac("17812"))
      assert.same({ id_cliente_servico = "17812" }, json_of(sent("/cliente/reset_mac_addr")))
      assert.equals("Endereço MAC resetado com sucesso!", r.msg)
      local _, err = api:resetar_mac(20001)
      assert.equals("api", err.kind)
      assert.equals(1, #srv:suporte().resets_mac) -- the refused one left no trace
    end)

    it("ordens_servico_do_cliente: GET /cliente/ordem_servico; \"suscess\" is success", function()
      local r = assert(api:ordens_servico_do_cliente("id_cliente_servico", 17813,
          { status = "aguardando_agendamento" }))
      local req = sent("/cliente/ordem_servico")
      bodyless_get(req)
      assert.same({ busca = "id_cliente_servico", termo_busca = "17813", status = "aguardando_agendamento" },
        parse_query(req.query))
      assert.equals("suscess", r.status)
      assert.is_true(#r.ordens_servico >= 1)
      local o = r.ordens_servico[1]
      assert.is_string(o.numero_ordem_servico)
      assert.matches("^%d%d/%d%d/%d%d%d%d %d%d:%d%d:%d%d$", o.data_cadastro)
      assert.equals("17813", o.servico.id_cliente_servico)
      assert.is_string(o.atendimento.protocolo)
      -- termo_busca is optional, as documented
      assert(api:ordens_servico_do_cliente("numero_ordem_servico"))
    end)

    it("consultar_ordens_servico: POST JSON, tecnicos and tipos as arrays of objects, a read", function()
      srv:seed_suporte { ordens_servico = 6 }
      local r = assert(api:consultar_ordens_servico {
        consulta = "LAVYNIA", data_inicio = "2024-01-01", data_fim = "2024-12-31 23:59:59",
        tipo_data = "data_inicio_programado", tecnicos = { 10, { id = 5 } }, tipo_ordem_servicos = { 15, 99 },
      })
      assert.same({ consulta = "LAVYNIA", data_inicio = "2024-01-01", data_fim = "2024-12-31 23:59:59",
        tipo_data = "data_inicio_programado", tecnicos = { { id = 10 }, { id = 5 } },
        tipo_ordem_servicos = { { id_tipo_ordem_servico = 15 }, { id_tipo_ordem_servico = 99 } } },
        json_of(sent("/ordem_servico/consultar")))
      assert.is_true(#r.ordens_servico >= 1)
      for _, o in ipairs(r.ordens_servico) do
        assert.is_string(o.numero)
        assert.matches("^%(1864%) LAVYNIA", o.cliente)
        assert.is_table(o.tecnicos[1].pivot)
      end
    end)

    it("todas_ordens_servico: GET /ordem_servico/todos, numero a number, tecnicos with display", function()
      srv:seed_suporte { ordens_servico = 5 }
      local r = assert(api:todas_ordens_servico { itens_por_pagina = 50, relacoes = "tecnicos",
                                                  data_inicio = "2024-01-01", data_fim = "2024-12-31" })
      assert.same({ pagina = "0", itens_por_pagina = "50", relacoes = "tecnicos", data_inicio = "2024-01-01",
        data_fim = "2024-12-31" }, parse_query(sent("/ordem_servico/todos").query))
      assert.equals(5, r.paginacao.total_registros)
      assert.is_number(r.ordens_servico[2].numero)
      assert.equals(r.ordens_servico[2].tecnicos[1].name, r.ordens_servico[2].tecnicos[1].display)
    end)

    it("agendar, reagendar and remover_agendamento: POST JSON, the O.S. moves", function()
      srv:seed_suporte { ordens_servico = 3 } -- 90001 pending with technician 10, 90003 awaiting scheduling
      local r = assert(api:agendar_ordem_servico(90003))
      assert.same({ id_ordem_servico = 90003 }, json_of(sent("/ordem_servico/agendar")))
      assert.equals("Pendente", r.ordem_servico.status)

      r = assert(api:reagendar_ordem_servico(90001, {
        data_inicio_programado = "2025-09-20", hora_inicio_programado = "08:00:00",
        data_termino_programado = "2025-09-20", hora_termino_programado = "09:30:00",
        id_usuario_antigo = 10, id_usuario_novo = 5,
      }))
      assert.same({ id_ordem_servico = 90001, data_inicio_programado = "2025-09-20",
          hora_inicio_programado = "08:00:00",
        data_termino_programado = "2025-09-20", hora_termino_programado = "09:30:00",
        id_usuario_antigo = 10, id_usuario_novo = 5 }, json_of(sent("/ordem_servico/reagendar")))
      assert.equals("2025-09-20 08:00", r.ordem_servico.data_inicio_programado) -- no seconds, as the vendor's
      assert.equals(1, #r.ordem_servico.tecnicos) -- only the new technician
      assert.equals(5, r.ordem_servico.tecnicos[1].id)

      r = assert(api:remover_agendamento(90001, { id_motivo_remocao_agendamento = 8,
                                                  observacao = "Cliente pediu para ir no dia seguinte." }))
      assert.same({ id_ordem_servico = 90001, id_motivo_remocao_agendamento = 8,
        observacao = "Cliente pediu para ir no dia seguinte." }, json_of(sent("/ordem_servico/remove_agendamento")))
      assert.equals("Aguardando Agendamento", r.ordem_servico.status)
      local os = {}
      for _, o in ipairs(srv:suporte().ordens_servico) do os[o.id_ordem_servico] = o end
      assert.equals("aguardando_agendamento", os[90001].status)
      assert.equals("pendente", os[90003].status)
    end)

    it("notificar_ligacao and cancelar_ligacao: POST JSON; the pop-up opens and closes", function()
      assert(api:notificar_ligacao { ramal = 111, telefone = "37999912222", codigo_cliente = 1864,
                                     ligacao_params = { origem = "PBX", atendente = "João",
                                         fila = { nome = "suporte" } } })
      assert.same({ ramal = 111, telefone = "37999912222", codigo_cliente = 1864,
        ligacao_params = { origem = "PBX", atendente = "João", fila = { nome = "suporte" } } },
        json_of(sent("/pbx/ligacao/notificar")))
      local l = srv:suporte().ligacoes
      assert.equals(1, #l)
      assert.is_true(l[1].aberta)
      local r = assert(api:cancelar_ligacao { ramal = "111", telefone = "37999912222" })
      assert.equals("Ligação cancelada com sucesso", r.msg)
      assert.same({ ramal = "111", telefone = "37999912222" }, json_of(sent("/pbx/ligacao/cancelar")))
      assert.is_false(srv:suporte().ligacoes[1].aberta)
      -- ligacao_params must be an object, even empty
      assert(api:notificar_ligacao { identificador_interno = "maria2", ligacao_params = {} })
      local last = srv:requests(API .. "/pbx/ligacao/notificar")
      assert.truthy(last[2].body:find('"ligacao_params":{}', 1, true))
    end)
  end)

  it("answers with the vendor's nulls: nome_fantasia, an O.S. without a ticket (keep_nulls)", function()
    srv:seed_suporte { ordens_servico = 3 } -- 90003 is on service 12345 and has no ticket
    local raw = hubsoft.new(merge(srv:config(), { keep_nulls = true }))
    local r = assert(raw:consultar_clientes("cpf_cnpj", "86214941081"))
    assert.equals(hubsoft.null, r.clientes[1].nome_fantasia)
    assert.equals(hubsoft.null, r.clientes[1].email_secundario)
    r = assert(raw:ordens_servico_do_cliente("numero_ordem_servico", "3003"))
    assert.equals(1, #r.ordens_servico)
    assert.equals(hubsoft.null, r.ordens_servico[1].atendimento)
    assert.equals("BIANCA COUTO ARAÚJO", r.ordens_servico[1].cliente.nome_razaosocial)
    raw:close()
  end)

  ----------------------------------------------------------------------------
  describe("vendor fidelity (each was refused or impossible before)", function()
    it("parametros are \"any information\": nested tables reach the server as sent", function()
      local dados = { id_cliente_servico = 17812, descricao = "Sem conexão", nome = "Ana", telefone = "81987654321",
        parametros = { canal = "whatsapp", conversa = { id = "c-1", mensagens = { "oi", "sem internet" } } } }
      local r = assert(api:abrir_atendimento(dados))
      local t = srv:state().atendimentos
      t = t[#t]
      assert.equals(r.atendimento.id_atendimento, t.id_atendimento)
      assert.same({ dados.parametros }, t.parametros)
      assert(api:editar_atendimento(t.id_atendimento, { parametros = { diagnostico = { ping = { 80, 95 },
          ok = false } } }))
      t = srv:state().atendimentos
      assert.same({ diagnostico = { ping = { 80, 95 }, ok = false } }, t[#t].parametros)
    end)

    it("todos_atendimentos takes relations beyond the four of the paginated query", function()
      assert(api:todos_atendimentos { itens_por_pagina = 5, relacoes = { "cliente_servico", "ordem_servico" } })
      assert.equals("cliente_servico,ordem_servico", parse_query(sent("/atendimento/todos").query).relacoes)
    end)

    it("configuracao takes filtros: motivo_fechamento_atendimento by id_tipo_atendimento", function()
      local all = assert(api:configuracao("motivo_fechamento_atendimento"))
      local some = assert(api:configuracao("motivo_fechamento_atendimento", { id_tipo_atendimento = 150 }))
      assert.is_true(#some.motivos_fechamento < #all.motivos_fechamento)
      for _, m in ipairs(some.motivos_fechamento) do assert.is_nil(m.id_tipo_atendimento) end
      local q = {}
      for _, r in ipairs(srv:requests(API .. "/configuracao/")) do q[#q + 1] = r.query end
      assert.same({ "", "id_tipo_atendimento=150" }, q)
    end)

    it("consultar_atendimentos takes several id_servico, as the reference's \"ids\"", function()
      local r = assert(api:consultar_atendimentos { itens_por_pagina = 50, data_inicio = "2025-01-01",
                                                    data_fim = "2025-06-30", id_servico = { 2735, 2801 } })
      assert.equals("2735,2801", json_of(sent("/atendimento/paginado/50")).id_servico)
      local services = {}
      for _, a in ipairs(r.atendimentos.data) do services[a.id_cliente_servico] = true end
      assert.same({ [17812] = true, [17813] = true }, services)
    end)
  end)

  ----------------------------------------------------------------------------
  describe("retry class", function()
    local retrying
    before_each(function()
      srv:seed_suporte { ordens_servico = 3 }
      retrying = hubsoft.new(merge(srv:config(), { retries = 2, retry_delay = 0.01 }))
    end)
    after_each(function() retrying:close() end)

    local READS = {
      { "consultar_clientes", "/cliente", function(a) return a:consultar_clientes("cpf_cnpj", "86214941081") end },
      { "todos_clientes", "/cliente/todos", function(a) return a:todos_clientes { itens_por_pagina = 2 } end },
      { "extrato_conexao", "/cliente/extrato_conexao", function(a) return a:extrato_conexao("login",
          "cliente17812") end },
      { "consultar_ordens_servico", "/ordem_servico/consultar", function(a)
        return a:consultar_ordens_servico { consulta = "LAVYNIA", data_inicio = "2024-01-01", data_fim = "2025-12-31" }
      end },
      { "todas_ordens_servico", "/ordem_servico/todos",
          function(a) return a:todas_ordens_servico { itens_por_pagina = 2 } end },
      { "ordens_servico_do_cliente", "/cliente/ordem_servico", function(a)
        return a:ordens_servico_do_cliente("cpf_cnpj", "86214941081")
      end },
      { "configuracao with filtros", "/configuracao/motivo_fechamento_atendimento", function(a)
        return a:configuracao("motivo_fechamento_atendimento", { id_tipo_atendimento = 132 })
      end },
    }
    for _, case in ipairs(READS) do
      it(case[1] .. " is a read: a 502 is retried and the answer comes back", function()
        srv:fault { kind = "html502", match = API .. case[2] .. "$" }
        assert(case[3](retrying))
        assert.equals(2, #srv:requests(API .. case[2]))
      end)
    end

    local WRITES = {
      { "desbloqueio_confianca", "/cliente/desbloqueio_confianca",
          function(a) return a:desbloqueio_confianca(17812) end,
        function(s) return #s.desbloqueios end },
      -- a GET that drops the customer's session: a write all the same
      { "solicitar_desconexao", "/cliente/solicitar_desconexao/17812",
          function(a) return a:solicitar_desconexao(17812) end,
        function(s) return #s.desconexoes end },
      { "resetar_mac", "/cliente/reset_mac_addr", function(a) return a:resetar_mac(17812) end,
        function(s) return #s.resets_mac end },
      { "agendar_ordem_servico", "/ordem_servico/agendar", function(a) return a:agendar_ordem_servico(90003) end },
      { "reagendar_ordem_servico", "/ordem_servico/reagendar", function(a)
        return a:reagendar_ordem_servico(90001, { data_inicio_programado = "2025-09-20",
            hora_inicio_programado = "08:00:00",
          data_termino_programado = "2025-09-20", hora_termino_programado = "09:00:00" })
      end },
      { "remover_agendamento", "/ordem_servico/remove_agendamento", function(a)
        return a:remover_agendamento(90001, { id_motivo_remocao_agendamento = 8,
            observacao = "Cliente remarcou a visita." })
      end },
      { "notificar_ligacao", "/pbx/ligacao/notificar", function(a) return a:notificar_ligacao { ramal = 111 } end,
        function(s) return #s.ligacoes end },
      { "cancelar_ligacao", "/pbx/ligacao/cancelar", function(a) return a:cancelar_ligacao { ramal = 111 } end },
    }
    for _, case in ipairs(WRITES) do
      it(case[1] .. " is a write: the answer lost after the server acted is not sent again", function()
        srv:fault { kind = "drop_after", match = API .. case[2] .. "$" }
        local r, err = case[3](retrying)
        assert.is_nil(r)
        assert.equals("network", err.kind)
        assert.is_false(err.retryable)
        assert.equals(1, err.attempts)
        assert.equals(1, #srv:requests(API .. case[2]))
        if case[4] then assert.equals(1, case[4](srv:suporte())) end -- done once, at the server
      end)

      it(case[1] .. " is a write: a 502 is not retried", function()
        srv:fault { kind = "html502", match = API .. case[2] .. "$" }
        local r, err = case[3](retrying)
        assert.is_nil(r)
        assert.equals("http", err.kind)
        assert.equals(502, err.status)
        assert.equals(1, #srv:requests(API .. case[2]))
      end)
    end
  end)

  ----------------------------------------------------------------------------
  describe("the two new paginated lists", function()
    local function range(a, b)
      local t = {}
      for i = a, b do t[#t + 1] = i end
      return t
    end

    local LISTS = {
      { metodo = "todos_clientes", path = "/cliente/todos", id = "id_cliente",
        seed = function(n) srv:seed_suporte { clientes = n - 3 } end,
        expected = function(n)
          local ids = { 24930, 24931, 24932 }
          for _, id in ipairs(range(30001, 30000 + n - 3)) do ids[#ids + 1] = id end
          return ids
        end },
      { metodo = "todas_ordens_servico", path = "/ordem_servico/todos", id = "id_ordem_servico",
        seed = function(n) srv:seed { tickets = 0 } srv:seed_suporte { ordens_servico = n } end,
        expected = function(n) return range(90001, 90000 + n) end },
    }

    for _, list in ipairs(LISTS) do
      for _, concurrency in ipairs { 1, 2, 4 } do
        for _, case in ipairs { { n = 23, per = 5 }, { n = 20, per = 5 }, { n = 4, per = 500 } } do
          it(("%s: %d records, %d per page, concurrency %d: each once, in order, each page once")
            :format(list.metodo, case.n, case.per, concurrency), function()
            list.seed(case.n)
            local ids, pages = {}, {}
            for rec, pagina in api:each(list.metodo, { itens_por_pagina = case.per }, { concurrency = concurrency }) do
              ids[#ids + 1] = rec[list.id]
              pages[#pages + 1] = pagina
            end
            assert.same(list.expected(case.n), ids)
            for i, p in ipairs(pages) do assert.equals(math.floor((i - 1) / case.per), p) end
            local requested = {}
            for _, r in ipairs(srv:requests(API .. list.path)) do
              requested[#requested + 1] = tonumber(parse_query(r.query).pagina)
            end
            table.sort(requested)
            assert.same(range(0, math.ceil(case.n / case.per) - 1), requested)
          end)
        end
      end

      it(list.metodo .. ": pages yields the paginacao pages; a filter that matches nothing yields nothing", function()
        list.seed(12)
        local numbers = {}
        for n, resp in api:pages(list.metodo, { itens_por_pagina = 5 }) do
          numbers[#numbers + 1] = n
          assert.is_true(#resp[list.metodo == "todos_clientes" and "clientes" or "ordens_servico"] > 0)
        end
        assert.same({ 0, 1, 2 }, numbers)
        local n = 0
        for _ in api:each(list.metodo, { itens_por_pagina = 5, data_inicio = "1999-01-01", data_fim = "1999-01-31" }) do
          n = n + 1
        end
        assert.equals(0, n)
      end)
    end

    it("a method that is not paginated is refused by the iterators, naming the paginated ones", function()
      local ok, msg = pcall(api.each, api, "consultar_clientes", {})
      assert.is_false(ok)
      assert.matches("todos_clientes", msg)
      assert.matches("todas_ordens_servico", msg)
    end)
  end)
end)
