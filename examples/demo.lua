-- lua-hubsoft demo: starts the bundled fake HubSoft server on loopback and
-- walks a ticket's whole life: login, lookups, open, message, attachment,
-- find by CPF, list the month, close.
--
--   bash scripts/demo.sh            (installs, builds and runs this)
--   lua5.4 examples/demo.lua        (with LUA_PATH/LUA_CPATH set as in scripts/demo.sh)
local hubsoft = require "hubsoft"
local fake = require "hubsoft.fake_server"

local srv = fake.start { seed_tickets = 40 }
local ok, failure = pcall(function()
  local cfg = srv:config() -- base_url, client_id, client_secret, username, password
  cfg.on_request = function(info)
    io.stderr:write(string.format("  -> %s %s %s (%.1f ms, attempt %d)\n", info.method,
      info.url:gsub("^https?://[^/]+", ""), tostring(info.status), info.elapsed * 1000, info.attempt))
  end
  local api = hubsoft.new(cfg)
  print(("lua-hubsoft %s against the fake server at %s"):format(hubsoft.VERSION, srv.url))

  local tok = assert(api:authenticate())
  print(("1. logged in: token type %s, valid for %d days"):format(tok.token_type,
    math.floor(tok.expires_in / 86400)))

  local st = assert(api:configuracao("status_atendimento"))
  print(("2. %d ticket statuses, e.g. %q"):format(#st.status_atendimento,
    st.status_atendimento[1].descricao))

  local cpf = "86214941081"
  local abertos = assert(api:atendimentos_do_cliente("cpf_cnpj", cpf, {apenas_pendente = true}))
  print(("3. customer %s has %d open ticket(s)"):format(cpf, #abertos.atendimentos))

  local novo = assert(api:abrir_atendimento {
    id_cliente_servico = 17812,
    descricao = "Cliente relata lentidão à noite; ping 80 ms em jogos",
    nome = "João da Silva",
    telefone = "11987654321",
    email = "joao.silva@example.com",
    parametros = {origem_bot = "demo", conversa = "c-123"},
  })
  local at = novo.atendimento
  print(("4. opened ticket %d, protocolo %s"):format(at.id_atendimento, at.protocolo))

  assert(api:adicionar_mensagem(at.id_atendimento, "Cliente enviou o teste de velocidade."))
  print("5. message added")

  local anexo = assert(api:adicionar_anexos(at.id_atendimento, {
    {data = "download 48.2 Mbps\nupload 9.7 Mbps\nping 81 ms\n", filename = "speedtest.txt"},
  }))
  print(("6. attachment added: %s"):format(anexo.msg))

  local n, pages = 0, {}
  for _, pagina in api:pages("todos_atendimentos", {data_inicio = "2025-01-01",
                                                    data_fim = "2026-12-31",
                                                    itens_por_pagina = 10}) do
    pages[#pages + 1] = pagina
  end
  for _ in api:each("todos_atendimentos", {data_inicio = "2025-01-01", data_fim = "2026-12-31",
                                          itens_por_pagina = 10}) do
    n = n + 1
  end
  print(("7. listed %d tickets over %d pages"):format(n, #pages))

  local fechado = assert(api:fechar_atendimento(at.id_atendimento, {
    parametros_fechamento = hubsoft.parametros_fechamento {
      id_motivo_fechamento = 108,
      descricao_fechamento = "Rota otimizada; ping normalizado",
      status_fechamento = "concluido",
    },
  }))
  print(("8. closed: %s"):format(fechado.msg))

  local _, err = api:abrir_atendimento {id_cliente_servico = 17812, descricao = "x",
                                        nome = "Maria", telefone = "123"}
  print(("9. a bad phone is refused before sending: %s"):format(tostring(err)))
  api:close()
end)
srv:stop()
if not ok then
  io.stderr:write("demo failed: ", tostring(failure), "\n")
  os.exit(1)
end
print("demo finished")
