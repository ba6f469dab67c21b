--- The HubSoft part of a phone menu (URA), shared by the Asterisk (pbx_lua)
-- and FreeSWITCH (mod_lua) front ends in this folder. Lua 5.1 and later.
--
-- A call: identify the customer (the caller's number in a phone book, else a
-- CPF/CNPJ typed on the keypad), then either tell the protocol of their open
-- ticket, or open one and tell its protocol.
--
-- The front end passes a `voice` table of plain functions:
--   voice.caller_id()                        -> the caller's number (string) or nil
--   voice.play(prompt)                        plays a recorded prompt ("atendimento-aberto", ...)
--   voice.say_digits(digits)                  says a number digit by digit
--   voice.read_digits(prompt, max, seconds)   -> the digits typed (string), or nil / ""
--   voice.set(name, value)                    leaves a result for the dial plan
--   voice.log(message)                        optional
--
-- Configuration (M.config_from_env reads it from the environment):
--   HUBSOFT_URL, HUBSOFT_CLIENT_ID, HUBSOFT_CLIENT_SECRET, HUBSOFT_USERNAME, HUBSOFT_PASSWORD
--   HUBSOFT_TOKEN_FILE        the token file shared by every call (default
--                             /var/lib/asterisk/hubsoft-token.json); a call does not log in
--                             again while the token in it is valid
--   HUBSOFT_IVR_PHONEBOOK     optional file, one line per number: "81987654321 12345678901 [12345]"
--                             (caller number without spaces, CPF/CNPJ, optional
--                             id_cliente_servico; "#" starts a comment line); the
--                             HubSoft integration API has no search by phone number
--   HUBSOFT_IVR_TIPO_ATENDIMENTO, HUBSOFT_IVR_ORIGEM_CONTATO   optional ids for opened tickets
--   HUBSOFT_TIMEOUT (default 8), HUBSOFT_CONNECT_TIMEOUT (default 3)   seconds
--
-- Results left with voice.set: HUBSOFT_RESULTADO = "existente" (an open ticket was
-- found), "aberto" (one was opened), "nao_identificado", "sem_servico" (no known
-- service to open a ticket on) or "erro"; HUBSOFT_PROTOCOLO and HUBSOFT_ID_ATENDIMENTO
-- when there is a ticket. The dial plan can send the failures to a person.

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
    base_url = getenv("HUBSOFT_URL"),
    client_id = getenv("HUBSOFT_CLIENT_ID"),
    client_secret = getenv("HUBSOFT_CLIENT_SECRET"),
    username = getenv("HUBSOFT_USERNAME"),
    password = getenv("HUBSOFT_PASSWORD"),
    token_file = getenv_default(getenv, "HUBSOFT_TOKEN_FILE", "/var/lib/asterisk/hubsoft-token.json"),
    phonebook = getenv_default(getenv, "HUBSOFT_IVR_PHONEBOOK", nil),
    id_tipo_atendimento = tonumber(getenv_default(getenv, "HUBSOFT_IVR_TIPO_ATENDIMENTO", "")),
    id_origem_contato = tonumber(getenv_default(getenv, "HUBSOFT_IVR_ORIGEM_CONTATO", "")),
    timeout = tonumber(getenv_default(getenv, "HUBSOFT_TIMEOUT", "8")),
    connect_timeout = tonumber(getenv_default(getenv, "HUBSOFT_CONNECT_TIMEOUT", "3")),
  }
end

--- A caller number as DDNNNNNNNNN (10 or 11 digits), or nil: drops +55 / 55,
-- a trunk 0 and anything that is not a digit.
function M.normalize_phone(s)
  if type(s) ~= "string" then return nil end
  local d = s:gsub("%D", "")
  if (#d == 12 or #d == 13) and d:sub(1, 2) == "55" then d = d:sub(3) end
  if (#d == 11 or #d == 12) and d:sub(1, 1) == "0" then d = d:sub(2) end
  if (#d == 10 or #d == 11) and d:sub(1, 1) ~= "0" then return d end
  return nil
end

local function valid_document(s)
  return type(s) == "string" and s:match("^%d+$") ~= nil and (#s == 11 or #s == 14)
end

--- The phone book: number -> {cpf_cnpj =, id_cliente_servico =}. Missing file: empty.
function M.load_phonebook(path)
  local book = {}
  if not path then return book end
  local f = io.open(path, "r")
  if not f then return book end
  for line in f:lines() do
    local num, doc, svc = line:match("^%s*(%+?[%d%-%(%)]+)%s+([%d%.%-/]+)%s*(%d*)%s*$")
    if num and not line:match("^%s*#") then
      local phone = M.normalize_phone(num)
      doc = doc:gsub("%D", "")
      if phone and valid_document(doc) then
        book[phone] = { cpf_cnpj = doc, id_cliente_servico = tonumber(svc) }
      end
    end
  end
  f:close()
  return book
end

local function log(voice, ...)
  if voice.log then voice.log(table.concat({ ... }, " ")) end
end

-- Ask for digits up to `tries` times until `ok(digits)`.
local function ask(voice, prompt, max, ok, tries)
  for _ = 1, tries do
    local d = voice.read_digits(M.PROMPTS[prompt], max, 10)
    d = type(d) == "string" and d:gsub("%D", "") or ""
    if ok(d) then return d end
    if d ~= "" then voice.play(M.PROMPTS.invalido) end
  end
  return nil
end

local function finish(voice, resultado, ticket)
  voice.set("HUBSOFT_RESULTADO", resultado)
  if ticket then
    voice.set("HUBSOFT_PROTOCOLO", tostring(ticket.protocolo))
    voice.set("HUBSOFT_ID_ATENDIMENTO", tostring(ticket.id_atendimento))
  end
  return { resultado = resultado, protocolo = ticket and ticket.protocolo,
           id_atendimento = ticket and ticket.id_atendimento }
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

--- Handle one call. Returns {resultado =, protocolo =, id_atendimento =}.
function M.run(voice, cfg)
  cfg = cfg or M.config_from_env()
  local caller = M.normalize_phone(voice.caller_id())
  local known = caller and M.load_phonebook(cfg.phonebook)[caller] or nil

  local doc = known and known.cpf_cnpj
    or ask(voice, "digite_cpf", 14, valid_document, 3)
  if not doc then
    voice.play(M.PROMPTS.nao_identificado)
    return finish(voice, "nao_identificado")
  end

  local ok, api = pcall(hubsoft.new, {
    base_url = cfg.base_url,
    client_id = cfg.client_id, client_secret = cfg.client_secret,
    username = cfg.username, password = cfg.password,
    -- every call is a new Lua state: the file keeps the token between calls
    token_store = hubsoft.file_token_store(cfg.token_file),
    timeout = cfg.timeout or 8, connect_timeout = cfg.connect_timeout or 3,
    retries = 1, retry_max_delay = 1, -- the caller is waiting in silence
  })
  if not ok then return failed(voice, "configuration", api) end

  local result = M.handle(voice, cfg, api, doc, caller, known)
  api:close()
  return result
end

function M.handle(voice, cfg, api, doc, caller, known)
  -- the customer's open tickets, newest first
  local r, err = api:atendimentos_do_cliente("cpf_cnpj", doc,
    { apenas_pendente = "sim", order_by = "data_cadastro", order_type = "desc", limit = 1 })
  if not r then return failed(voice, "lookup", err) end
  local open = r.atendimentos and r.atendimentos[1]
  if open then
    announce(voice, "existente", open)
    return finish(voice, "existente", open)
  end

  -- none open: on which service? the phone book's, else the newest ticket's
  local id_cs = known and known.id_cliente_servico
  local nome
  r, err = api:atendimentos_do_cliente("cpf_cnpj", doc,
    { apenas_pendente = "nao", order_by = "data_cadastro", order_type = "desc", limit = 1 })
  if not r then return failed(voice, "lookup", err) end
  local last = r.atendimentos and r.atendimentos[1]
  if last then
    id_cs = id_cs or tonumber(last.servico and last.servico.id_cliente_servico)
    nome = last.cliente and last.cliente.nome_razaosocial
  end
  if not id_cs then
    log(voice, "hubsoft: no service known for this customer")
    voice.play(M.PROMPTS.nao_identificado)
    return finish(voice, "sem_servico")
  end

  local telefone = caller or ask(voice, "digite_telefone", 11, M.normalize_phone, 2)
  if not telefone then
    voice.play(M.PROMPTS.nao_identificado)
    return finish(voice, "nao_identificado")
  end

  -- a write: sent at most once, never repeated if it may have reached HubSoft
  local created
  created, err = api:abrir_atendimento {
    id_cliente_servico = id_cs,
    descricao = "Atendimento aberto pela URA: o cliente ligou de " .. telefone
      .. " e pediu suporte.",
    nome = nome or "Cliente (URA)",
    telefone = telefone,
    id_tipo_atendimento = cfg.id_tipo_atendimento,
    id_origem_contato = cfg.id_origem_contato,
  }
  if not created then return failed(voice, "open", err) end
  local ticket = created.atendimento or {}
  announce(voice, "aberto", ticket)
  return finish(voice, "aberto", ticket)
end

return M
