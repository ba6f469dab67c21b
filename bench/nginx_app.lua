--- Runs inside nginx for bench/nginx.lua: `/blocking` and `/pooled` each open one
-- ticket, with the blocking client (`hubsoft.new`, one per worker) or with
-- `hubsoft.nginx` (calls on the thread pool). Configuration from the
-- environment (HUBSOFT_URL, ...).

local hubsoft = require "hubsoft"
local hn = require "hubsoft.nginx"

local M = {}

local function config()
  return {
    base_url = os.getenv("HUBSOFT_URL"),
    client_id = os.getenv("HUBSOFT_CLIENT_ID"),
    client_secret = os.getenv("HUBSOFT_CLIENT_SECRET"),
    username = os.getenv("HUBSOFT_USERNAME"),
    password = os.getenv("HUBSOFT_PASSWORD"),
    timeout = 30,
  }
end

local blocking, pooled

local TICKET = {
  id_cliente_servico = 12345, descricao = "Sem conexão desde ontem (bench)",
  nome = "Bianca Couto", telefone = "81987654321",
}

function M.run(mode)
  local api
  if mode == "blocking" then
    blocking = blocking or hubsoft.new(config())
    api = blocking
  else
    pooled = pooled or hn.new(config())
    api = pooled
  end
  local r, err = api:abrir_atendimento(TICKET)
  if not r then
    ngx.status = 502
    ngx.say(tostring(err))
    return
  end
  ngx.say(r.atendimento.protocolo)
end

return M
