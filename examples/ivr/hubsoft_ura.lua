--- The HubSoft part of a phone menu (URA), shared by the Asterisk (pbx_lua)
-- and FreeSWITCH (mod_lua) front ends in this folder. Lua 5.1 and later.
--
-- A call: know the customer by caller ID (`GET cliente` with busca=telefone),
-- else by the CPF/CNPJ typed on the keypad; tell the protocol of their open
-- ticket, or open one and tell its protocol; then, when a destination is
-- configured, pop the customer's screen up for the attendant
-- (`notificar_ligacao`) and let the front end transfer the call. A transfer
-- nobody answers, or a caller who hangs up on the way, closes the pop-up
-- (`cancelar_ligacao`, M.cancel_popup).
--
-- The front end passes a `voice` table of plain functions:
--   voice.caller_id()                        -> the caller's number (string) or nil
--   voice.play(prompt)                        plays a recorded prompt ("atendimento-aberto", ...)
--   voice.say_digits(digits)                  says a number digit by digit
--   voice.read_digits(prompt, max, seconds)   -> the digits typed (string), or nil / ""
--   voice.set(name, value)                    leaves a result for the dial plan
--   voice.get(name)                           reads it back (M.cancel_popup)
--   voice.log(message)                        optional
--
-- Configuration (M.config_from_env reads it from the environment):
--   HUBSOFT_BASE_URL (HUBSOFT_URL also works), HUBSOFT_CLIENT_ID,
--   HUBSOFT_CLIENT_SECRET, HUBSOFT_USERNAME, HUBSOFT_PASSWORD
--   HUBSOFT_TOKEN_FILE        the token file shared by every call (default
--                             /var/lib/asterisk/hubsoft-token.json); a call does not log in
--                             again while the token in it is valid
--   HUBSOFT_IVR_DESTINO       optional: where to transfer the call after the menu (Asterisk:
--                             a Dial() argument such as "PJSIP/111"; FreeSWITCH: a bridge
--                             string such as "user/111")
--   HUBSOFT_IVR_RAMAL         the attendant's extension in HubSoft, for the pop-up (or
--   HUBSOFT_IVR_IDENTIFICADOR the attendant's internal id); without either, no pop-up
--   HUBSOFT_IVR_TIPO_ATENDIMENTO, HUBSOFT_IVR_ORIGEM_CONTATO   optional ids for opened tickets
--   HUBSOFT_TIMEOUT (default 8), HUBSOFT_CONNECT_TIMEOUT (default 3)   seconds
--
-- Results left with voice.set: HUBSOFT_RESULTADO = "existente" (an open ticket was
-- found), "aberto" (one was opened), "nao_identificado", "sem_servico" (the customer
-- has no service to open a ticket on) or "erro"; HUBSOFT_PROTOCOLO and
-- HUBSOFT_ID_ATENDIMENTO when there is a ticket; HUBSOFT_POPUP = "1" while the
-- attendant's pop-up is open (HUBSOFT_POPUP_TELEFONE: the number it was opened for).

local hubsoft = require "hubsoft"

local M = {}

--- Prompt names; the front ends map them to sound files ("hubsoft/<name>").
M.PROMPTS = {
  digite_cpf = "digite-cpf",                 -- "Digite o CPF ou CNPJ do titular, seguido de sustenido"
  digite_telefone = "digite-telefone",       -- "Digite um telefone com DDD para contato"
  invalido = "numero-invalido",              -- "Número inválido"
  nao_identificado = "nao-identificado",     -- "Não encontramos seu cadastro; vamos transferir"
  existente = "atendimento-em-andamento",    -- "Você já tem um atendimento em andamento"
  aberto = "atendimento-aberto",             -- "Abrimos um atendimento para você"
  protocolo = "seu-protocolo",               -- "O número do protocolo é"
  indisponivel = "sistema-indisponivel",     -- "Sistema indisponível; vamos transferir"
}

local function getenv_default(getenv, name, default)
  local v = getenv(name)
  if v == nil or v == "" then return default end
  return v
end

--- The configuration from environment variables (`getenv` defaults to os.getenv).
function M.config_from_env(getenv)
  getenv = getenv or os.getenv
  return {
    base_url = getenv("HUBSOFT_BASE_URL") or getenv("HUBSOFT_URL"), -- the command's name, or the older one
    client_id = getenv("HUBSOFT_CLIENT_ID"),
    client_secret = getenv("HUBSOFT_CLIENT_SECRET"),
    username = getenv("HUBSOFT_USERNAME"),
    password = getenv("HUBSOFT_PASSWORD"),
    token_file = getenv_default(getenv, "HUBSOFT_TOKEN_FILE", "/var/lib/asterisk/hubsoft-token.json"),
    destino = getenv_default(getenv, "HUBSOFT_IVR_DESTINO", nil),
    ramal = getenv_default(getenv, "HUBSOFT_IVR_RAMAL", nil),
    identificador_interno = getenv_default(getenv, "HUBSOFT_IVR_IDENTIFICADOR", nil),
    id_tipo_atendimento = tonumber(getenv_default(getenv, "HUBSOFT_IVR_TIPO_ATENDIMENTO", "")),
    id_origem_contato = tonumber(getenv_default(getenv, "HUBSOFT_IVR_ORIGEM_CONTATO", "")),
    timeout = tonumber(getenv_default(getenv, "HUBSOFT_TIMEOUT", "8")),
    connect_timeout = tonumber(getenv_default(getenv, "HUBSOFT_CONNECT_TIMEOUT", "3")),
  }
end

--- A client for one call: every call is a new Lua state, so the token file
-- keeps the token between calls. Returns the client, or nil and an error.
function M.client(cfg)
  local ok, api = pcall(hubsoft.new, {
    base_url = cfg.base_url,
    client_id = cfg.client_id, client_secret = cfg.client_secret,
    username = cfg.username, password = cfg.password,
    token_store = hubsoft.file_token_store(cfg.token_file),
    timeout = cfg.timeout or 8, connect_timeout = cfg.connect_timeout or 3,
    retries = 1, retry_max_delay = 1, -- the caller is waiting in silence
  })
  if not ok then return nil, api end
  return api
end

local function log(voice, ...)
  if voice.log then voice.log(table.concat({ ... }, " ")) end
end

-- Ask for digits up to `tries` times until `normalize(digits)` gives a value.
local function ask(voice, prompt, max, normalize, tries)
  for _ = 1, tries do
    local d = voice.read_digits(M.PROMPTS[prompt], max, 10)
    d = type(d) == "string" and d or ""
    local value = normalize(d)
    if value then return value end
    if d ~= "" then voice.play(M.PROMPTS.invalido) end
  end
  return nil
end

local function finish(voice, resultado, ticket, extra)
  voice.set("HUBSOFT_RESULTADO", resultado)
  if ticket then
    voice.set("HUBSOFT_PROTOCOLO", tostring(ticket.protocolo))
    voice.set("HUBSOFT_ID_ATENDIMENTO", tostring(ticket.id_atendimento))
  end
  local r = { resultado = resultado, protocolo = ticket and ticket.protocolo,
              id_atendimento = ticket and ticket.id_atendimento }
  for k, v in pairs(extra or {}) do r[k] = v end
  return r
end

local function announce(voice, prompt, ticket)
  voice.play(M.PROMPTS[prompt])
  voice.play(M.PROMPTS.protocolo)
  voice.say_digits(tostring(ticket.protocolo))
end

local function failed(voice, what, err)
  -- err's string never holds the password, the client_secret or a token
  log(voice, "hubsoft:", what, "failed:", tostring(err))
  voice.play(M.PROMPTS.indisponivel)
  return finish(voice, "erro")
end

-- The first customer a search finds, or nil; raises nothing, returns nil, err on failure.
local function find_customer(api, busca, termo)
  local r, err = api:consultar_clientes(busca, termo, { limit = 1 })
  if not r then return nil, err end
  return (r.clientes and r.clientes[1]) or false
end

-- The pop-up's fields: the attendant, the caller, and the customer when known.
local function popup_fields(cfg, telefone)
  return { ramal = cfg.ramal, identificador_interno = cfg.identificador_interno, telefone = telefone }
end

--- Open the attendant's pop-up before the front end transfers the call.
-- Does nothing without a ramal or identificador; a failure is logged, never
-- raised: the caller is transferred all the same.
function M.notify(voice, cfg, api, result)
  if not (cfg.ramal or cfg.identificador_interno) then return false end
  local dados = popup_fields(cfg, result.telefone)
  dados.codigo_cliente = result.codigo_cliente
  dados.ligacao_params = { origem = "URA", resultado = result.resultado, protocolo = result.protocolo }
  local ok, err = api:notificar_ligacao(dados)
  if not ok then
    log(voice, "hubsoft: pop-up failed:", tostring(err))
    return false
  end
  voice.set("HUBSOFT_POPUP", "1")
  voice.set("HUBSOFT_POPUP_TELEFONE", result.telefone or "")
  return true
end

--- Close the pop-up if it is still open: the transfer was not answered, or
-- the caller hung up (the Asterisk `h` extension calls this). Uses the
-- channel variables M.notify left, so it works from a new Lua state too.
function M.cancel_popup(voice, cfg)
  cfg = cfg or M.config_from_env()
  if voice.get("HUBSOFT_POPUP") ~= "1" then return false end
  voice.set("HUBSOFT_POPUP", "0") -- once, whatever happens next
  local api, err = M.client(cfg)
  if not api then
    log(voice, "hubsoft: cancel failed:", tostring(err))
    return false
  end
  local telefone = voice.get("HUBSOFT_POPUP_TELEFONE")
  local ok
  ok, err = api:cancelar_ligacao(popup_fields(cfg, telefone ~= "" and telefone or nil))
  api:close()
  if not ok then log(voice, "hubsoft: cancel failed:", tostring(err)) end
  return ok ~= nil
end

--- Handle one call. Returns {resultado =, protocolo =, id_atendimento =,
-- telefone =, codigo_cliente =, popup =}; the front end transfers the call to
-- cfg.destino afterwards when it is set.
function M.run(voice, cfg)
  cfg = cfg or M.config_from_env()
  local telefone = hubsoft.telefone(voice.caller_id() or "")
  local api, err = M.client(cfg)
  if not api then return failed(voice, "configuration", err) end
  local result = M.handle(voice, cfg, api, telefone)
  if cfg.destino and result.resultado ~= "erro" then
    result.popup = M.notify(voice, cfg, api, result)
  end
  api:close()
  return result
end

function M.handle(voice, cfg, api, telefone)
  -- 1. the caller ID names the customer; else the CPF/CNPJ typed (check digits verified)
  local cliente, err
  if telefone then
    cliente, err = find_customer(api, "telefone", telefone)
    if cliente == nil then return failed(voice, "lookup", err) end
  end
  if not cliente then
    local doc = ask(voice, "digite_cpf", 14, hubsoft.cpf_cnpj, 3)
    if not doc then
      voice.play(M.PROMPTS.nao_identificado)
      return finish(voice, "nao_identificado", nil, { telefone = telefone })
    end
    cliente, err = find_customer(api, "cpf_cnpj", doc)
    if cliente == nil then return failed(voice, "lookup", err) end
    if not cliente then
      voice.play(M.PROMPTS.nao_identificado)
      return finish(voice, "nao_identificado", nil, { telefone = telefone })
    end
  end
  local known = { telefone = telefone, codigo_cliente = cliente.codigo_cliente }

  -- 2. the customer's open ticket, newest first
  local r
  r, err = api:atendimentos_do_cliente("cpf_cnpj", cliente.cpf_cnpj,
    { apenas_pendente = "sim", order_by = "data_cadastro", order_type = "desc", limit = 1 })
  if not r then return failed(voice, "lookup", err) end
  local open = r.atendimentos and r.atendimentos[1]
  if open then
    announce(voice, "existente", open)
    return finish(voice, "existente", open, known)
  end

  -- 3. none open: open one on the customer's first service
  local servico = cliente.servicos and cliente.servicos[1]
  if not servico then
    log(voice, "hubsoft: the customer has no service to open a ticket on")
    voice.play(M.PROMPTS.nao_identificado)
    return finish(voice, "sem_servico", nil, known)
  end
  telefone = telefone or ask(voice, "digite_telefone", 11, hubsoft.telefone, 2)
  if not telefone then
    voice.play(M.PROMPTS.nao_identificado)
    return finish(voice, "nao_identificado", nil, known)
  end
  known.telefone = telefone

  -- a write: sent at most once, never repeated if it may have reached HubSoft
  local created
  created, err = api:abrir_atendimento {
    id_cliente_servico = servico.id_cliente_servico,
    descricao = "Atendimento aberto pela URA: o cliente ligou de " .. telefone .. " e pediu suporte.",
    nome = cliente.nome_razaosocial or "Cliente (URA)",
    telefone = telefone,
    id_tipo_atendimento = cfg.id_tipo_atendimento,
    id_origem_contato = cfg.id_origem_contato,
  }
  if not created then return failed(voice, "open", err) end
  local ticket = created.atendimento or {}
  announce(voice, "aberto", ticket)
  return finish(voice, "aberto", ticket, known)
end

return M
