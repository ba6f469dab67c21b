-- lua-hubsoft example: the ticket side of a support chat bot.
--
-- Two conversations with the same customer, as a WhatsApp bot would have them:
--
--   1. "Estou sem internet": the bot looks for the customer's open tickets by
--      CPF; finding none recent, it opens one (with the conversation id and the
--      channel in `parametros`), adds the customer's message and attaches the
--      speed-test screenshot the customer sent (a PNG made here, in memory).
--   2. "Voltou!": the bot looks again, finds the ticket from conversation 1
--      open and adds the message to it instead of opening a new one, then
--      closes it with hubsoft.parametros_fechamento.
--   3. "Liberar minha internet" and "quando vem o técnico?": the bot finds the
--      customer's service (consultar_clientes by CPF), unlocks it on trust for
--      a day (desbloqueio_confianca: what ISP bots are asked most), and tells
--      the technician's scheduled visit from the customer's service orders
--      (ordens_servico_do_cliente).
--
-- Run it from the repository root, after building (see scripts/demo.sh):
--
--   LUA_PATH='lua/?.lua;lua/?/init.lua;./?.lua;;' LUA_CPATH='build/?.so;;' lua5.4 examples/chatbot.lua
--
-- Without HUBSOFT_BASE_URL (or HUBSOFT_URL) it starts the bundled fake server
-- (hubsoft.fake_server) on 127.0.0.1. Against a real HubSoft, set the variables
-- the `hubsoft` command reads, HUBSOFT_BASE_URL, HUBSOFT_CLIENT_ID,
-- HUBSOFT_CLIENT_SECRET, HUBSOFT_USERNAME, HUBSOFT_PASSWORD, and the customer:
-- CHATBOT_CPF, CHATBOT_ID_CLIENTE_SERVICO, CHATBOT_TELEFONE (optionally
-- CHATBOT_ID_MOTIVO_FECHAMENTO). It writes real tickets there.
--
-- Exits 0 when the whole flow worked, 1 otherwise.
local hubsoft = require "hubsoft"

-- `assert(api:metodo(...))` is fine on Lua 5.2+ and LuaJIT; Lua 5.1's assert
-- wants a string message and would hide the error table, so raise it as is.
local function must(result, err)
  if result == nil then error(err, 2) end
  return result
end

-- How far back an open ticket still counts as "the same problem".
local RECENT_DAYS = 7

---------------------------------------------------------------- a PNG in memory
-- A speed-test "screenshot": a small RGB image with three bars, encoded as a
-- valid PNG (signature, IHDR, one IDAT holding a stored zlib stream, IEND,
-- each chunk with its CRC-32). Plain arithmetic, so it runs on every Lua.

local function bxor(a, b)
  local r, bit = 0, 1
  while a > 0 or b > 0 do
    local x, y = a % 2, b % 2
    if x ~= y then r = r + bit end
    a, b, bit = (a - x) / 2, (b - y) / 2, bit * 2
  end
  return r
end

local CRC_TABLE = {}
for n = 0, 255 do
  local c = n
  for _ = 1, 8 do
    if c % 2 == 1 then c = bxor(0xEDB88320, (c - 1) / 2) else c = c / 2 end
  end
  CRC_TABLE[n] = c
end

local function crc32(s)
  local c = 0xFFFFFFFF
  for i = 1, #s do
    local idx = bxor(c % 256, s:byte(i))
    c = bxor(CRC_TABLE[idx], math.floor(c / 256))
  end
  return bxor(c, 0xFFFFFFFF)
end

local function adler32(s)
  local a, b = 1, 0
  for i = 1, #s do
    a = (a + s:byte(i)) % 65521
    b = (b + a) % 65521
  end
  return b * 65536 + a
end

local function u32be(n)
  return string.char(math.floor(n / 16777216) % 256, math.floor(n / 65536) % 256,
                     math.floor(n / 256) % 256, n % 256)
end

local function chunk(kind, data)
  return u32be(#data) .. kind .. data .. u32be(crc32(kind .. data))
end

local function speedtest_png()
  local w, h = 24, 16
  local bars = { { 4, 7, 13, { 46, 204, 113 } },   -- download: tall, green
                 { 10, 13, 5, { 52, 152, 219 } },  -- upload: short, blue
                 { 16, 19, 9, { 231, 76, 60 } } }  -- ping: red
  local rows = {}
  for y = 0, h - 1 do
    local px = { "\0" } -- filter type 0 (None) for each scanline
    for x = 0, w - 1 do
      local r, g, b = 250, 250, 250
      for _, bar in ipairs(bars) do
        if x >= bar[1] and x <= bar[2] and y >= h - bar[3] then r, g, b = bar[4][1], bar[4][2], bar[4][3] end
      end
      px[#px + 1] = string.char(r, g, b)
    end
    rows[#rows + 1] = table.concat(px)
  end
  local raw = table.concat(rows)
  -- zlib: header, one final stored block (LEN, NLEN little-endian), Adler-32
  local len = #raw
  local nlen = 65535 - len
  local zlib = "\120\1" .. "\1" .. string.char(len % 256, math.floor(len / 256), nlen % 256, math.floor(nlen / 256))
    .. raw .. u32be(adler32(raw))
  local ihdr = u32be(w) .. u32be(h) .. string.char(8, 2, 0, 0, 0) -- 8-bit RGB
  return "\137PNG\r\n\26\n" .. chunk("IHDR", ihdr) .. chunk("IDAT", zlib) .. chunk("IEND", "")
end

---------------------------------------------------------------- connecting

local function getenv(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then return default end
  return v
end

-- The client and the customer: the real server when HUBSOFT_BASE_URL (or
-- HUBSOFT_URL) is set, else
-- the bundled fake server (returned too, to be stopped at the end).
local function connect()
  local base_url = getenv("HUBSOFT_BASE_URL") or getenv("HUBSOFT_URL")
  if base_url then
    local api = hubsoft.new {
      base_url = base_url,
      client_id = getenv("HUBSOFT_CLIENT_ID"),
      client_secret = getenv("HUBSOFT_CLIENT_SECRET"),
      username = getenv("HUBSOFT_USERNAME"),
      password = getenv("HUBSOFT_PASSWORD"),
    }
    local cliente = {
      cpf = assert(getenv("CHATBOT_CPF"), "set CHATBOT_CPF"),
      id_cliente_servico = assert(getenv("CHATBOT_ID_CLIENTE_SERVICO"), "set CHATBOT_ID_CLIENTE_SERVICO"),
      telefone = assert(getenv("CHATBOT_TELEFONE"), "set CHATBOT_TELEFONE"),
      nome = getenv("CHATBOT_NOME", "Cliente via chat"),
    }
    return api, cliente, nil
  end
  local fake = require "hubsoft.fake_server"
  local srv = fake.start { seed_tickets = 20 }
  local api = hubsoft.new(srv:config())
  -- The ISP's back office schedules one of her service orders (simulated
  -- here), so conversation 3 has a visit to tell.
  local r = must(api:ordens_servico_do_cliente("cpf_cnpj", "86214941081", { status = "aguardando_agendamento" }))
  if r.ordens_servico[1] then must(api:agendar_ordem_servico(r.ordens_servico[1].id_ordem_servico)) end
  return api, {
    cpf = "86214941081", id_cliente_servico = 17812, telefone = "81987654321", nome = "Lavynia de Assunção",
  }, srv
end

---------------------------------------------------------------- the bot

local function say(who, text)
  print(("%-8s %s"):format(who .. ":", text))
end

local function note(text)
  print(("         · %s"):format(text))
end

-- The customer's open tickets registered in the last RECENT_DAYS days.
local function open_tickets(api, cpf)
  local r = must(api:atendimentos_do_cliente("cpf_cnpj", cpf, {
    apenas_pendente = true,
    data_inicio = os.date("%Y-%m-%d", os.time() - RECENT_DAYS * 86400),
    data_fim = os.date("%Y-%m-%d", os.time() + 86400),
    order_by = "data_cadastro", order_type = "desc",
    limit = 5,
  }))
  return r.atendimentos
end

-- A closing reason for "resolved", looked up rather than hard-coded.
local function closing_reason(api)
  local id = tonumber(getenv("CHATBOT_ID_MOTIVO_FECHAMENTO", ""))
  if id then return id end
  local r = must(api:configuracao("motivo_fechamento_atendimento"))
  for _, m in ipairs(r.motivos_fechamento or {}) do
    if tostring(m.descricao):lower():find("resolvido", 1, true) then
      return m.id_motivo_fechamento_atendimento
    end
  end
  return nil -- the server then uses its default reason
end

-- Finds the customer's open ticket, or opens one. Returns the ticket
-- (id_atendimento, protocolo) and whether it is new.
local function ticket_for(api, cliente, conversa, problema)
  local abertos = open_tickets(api, cliente.cpf)
  note(("busca por CPF %s: %d atendimento(s) aberto(s) recente(s)"):format(cliente.cpf, #abertos))
  if #abertos > 0 then
    return abertos[1], false
  end
  local r = must(api:abrir_atendimento {
    id_cliente_servico = cliente.id_cliente_servico,
    descricao = problema,
    nome = cliente.nome,
    telefone = cliente.telefone,
    parametros = { conversa_id = conversa, canal = "whatsapp", origem = "chatbot" },
  })
  return r.atendimento, true
end

local function conversation_1(api, cliente)
  print("== conversa 1 / conversation 1 ==")
  local texto = "Estou sem internet desde ontem à noite, o teste de velocidade dá 2 Mbps."
  say("cliente", texto)
  local at, novo = ticket_for(api, cliente, "wa-conversa-0001", "Chatbot: " .. texto)
  if novo then
    say("bot", ("Abri o atendimento, protocolo %s. / Ticket opened."):format(at.protocolo))
  else
    say("bot", ("Você já tem o atendimento %s aberto; vou registrar lá. / Added to your open ticket.")
      :format(at.protocolo))
  end
  must(api:adicionar_mensagem(at.id_atendimento, "Cliente (chat): " .. texto))
  note("mensagem registrada / message added")

  say("cliente", "[envia captura do teste de velocidade / sends a speed-test screenshot]")
  local png = speedtest_png()
  local r = must(api:adicionar_anexos(at.id_atendimento, {
    { data = png, filename = "teste-velocidade.png" },
  }))
  note(("anexo de %d bytes: %s"):format(#png, r.msg))
  say("bot", "Recebi a imagem, um técnico vai analisar. / Screenshot received.")
  return at
end

local function conversation_2(api, cliente, esperado)
  print("== conversa 2 / conversation 2 ==")
  local texto = "Voltou! Agora está tudo normal, 300 Mbps."
  say("cliente", texto)
  local at, novo = ticket_for(api, cliente, "wa-conversa-0002", "Chatbot: " .. texto)
  if novo then
    error("the ticket of conversation 1 was not found open: a second one was opened")
  end
  if esperado and at.id_atendimento ~= esperado.id_atendimento then
    note(("(o mais recente é %s)"):format(at.protocolo))
  end
  must(api:adicionar_mensagem(at.id_atendimento, "Cliente (chat): " .. texto))
  say("bot", ("Que bom! Registrei no atendimento %s. / Added to your ticket."):format(at.protocolo))

  local r = must(api:fechar_atendimento(at.id_atendimento, {
    parametros_fechamento = hubsoft.parametros_fechamento {
      id_motivo_fechamento = closing_reason(api),
      descricao_fechamento = "Resolvido: conexão normalizada, confirmado pelo cliente no chat",
      status_fechamento = "concluido",
    },
  }))
  note(("fechado em %s / closed"):format(tostring(r.atendimento and r.atendimento.data_fechamento)))
  say("bot", "Atendimento encerrado. Obrigado! / Ticket closed. Thank you!")

  for _, a in ipairs(open_tickets(api, cliente.cpf)) do
    if a.id_atendimento == at.id_atendimento then
      error("the ticket is still listed as open after closing it")
    end
  end
  return at
end

-- The customer's service as HubSoft has it (status, plan), found by CPF.
local function servico_do_cliente(api, cliente)
  local r = must(api:consultar_clientes("cpf_cnpj", cliente.cpf, { limit = 1 }))
  local c = r.clientes[1]
  if not c then return nil end
  for _, s in ipairs(c.servicos or {}) do
    if tostring(s.id_cliente_servico) == tostring(cliente.id_cliente_servico) then return s, c end
  end
  return c.servicos and c.servicos[1], c
end

-- The next technician's visit: a scheduled (pendente) service order, else one
-- still awaiting scheduling. Dates in this answer are DD/MM/YYYY HH:MM:SS.
local function proxima_visita(api, cliente)
  for _, status in ipairs { "pendente", "aguardando_agendamento" } do
    local r = must(api:ordens_servico_do_cliente("cpf_cnpj", cliente.cpf, {
      status = status, order_by = "data_inicio_programado", order_type = "asc", limit = 1,
    }))
    if r.ordens_servico[1] then return r.ordens_servico[1], status end
  end
  return nil
end

local function conversation_3(api, cliente)
  print("== conversa 3 / conversation 3 ==")
  say("cliente", "Liberar minha internet, por favor. Pago amanhã.")
  local servico = servico_do_cliente(api, cliente)
  if not servico then error("the customer was not found by CPF") end
  note(("serviço %s: %s (%s)"):format(tostring(servico.id_cliente_servico), tostring(servico.nome),
    tostring(servico.status)))
  -- a write: sent once; the ISP's limit of days is the server's answer (kind "api")
  local r, err = api:desbloqueio_confianca(servico.id_cliente_servico, 1)
  if r then
    say("bot", r.msg .. ". / Unlocked on trust.")
  elseif err.kind == "api" then
    say("bot", "Não consegui liberar: " .. err.message .. " / Could not unlock.")
  else
    error(err)
  end

  say("cliente", "E o técnico, quando vem?")
  local visita, status = proxima_visita(api, cliente)
  if not visita then
    say("bot", "Não há visita técnica pendente. / No technician visit pending.")
  elseif status == "pendente" then
    say("bot", ("Visita técnica agendada para %s (O.S. nº %s). / Visit scheduled.")
      :format(visita.data_inicio_programado, visita.numero_ordem_servico))
  else
    say("bot", ("Sua visita técnica (O.S. nº %s) ainda aguarda agendamento. / Visit awaiting scheduling.")
      :format(visita.numero_ordem_servico))
  end
end

local api, cliente, srv = connect()
local ok, failure = pcall(function()
  local at = conversation_1(api, cliente)
  conversation_2(api, cliente, at)
  conversation_3(api, cliente)
end)
api:close()
if srv then srv:stop() end
if not ok then
  io.stderr:write("chatbot failed: ", tostring(failure), "\n")
  os.exit(1)
end
print("chatbot: ok")
