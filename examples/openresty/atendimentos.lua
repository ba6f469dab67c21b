-- content_by_lua_file for `location = /atendimentos`:
--
--   GET  /atendimentos?cpf=12345678901   the customer's open tickets
--        -> 200 {"cpf_cnpj": "...", "atendimentos": [{"id_atendimento", "protocolo", "status", ...}]}
--   POST /atendimentos  {"id_cliente_servico", "descricao", "nome", "telefone", ["email"], ...}
--        -> 201 {"id_atendimento", "protocolo", "status", "mensagem"}
--
-- Errors: 400 (bad input, `field` names it), 422 (HubSoft refused it), 504
-- (HubSoft too slow), 502 (anything else upstream), 405 / 415 / 413.
-- The HubSoft call runs on nginx's thread pool: this worker serves other requests meanwhile.

local gw = require "hubsoft_gateway"
local cjson = gw.cjson

-- Fields a caller may send to open a ticket; anything else is refused.
local OPEN_FIELDS = {
  id_cliente_servico = true, descricao = true, nome = true, telefone = true, email = true,
  id_tipo_atendimento = true, id_origem_contato = true, abrir_os = true,
}

local function ticket_view(a)
  return {
    id_atendimento = a.id_atendimento,
    protocolo = a.protocolo,
    status = a.status,
    tipo_atendimento = a.tipo_atendimento,
    data_cadastro = a.data_cadastro,
    descricao = a.descricao_abertura,
    id_cliente_servico = a.servico and tonumber(a.servico.id_cliente_servico),
  }
end

local function lookup()
  local cpf = ngx.var.arg_cpf
  cpf = cpf and ngx.unescape_uri(cpf):gsub("[%.%-/%s]", "")
  if not cpf or not cpf:match("^%d+$") or (#cpf ~= 11 and #cpf ~= 14) then
    return gw.reply(400, { error = "cpf: 11 digits (CPF) or 14 (CNPJ) are required", field = "cpf" })
  end
  local api, why = gw.client()
  if not api then return gw.reply(503, { error = why }) end
  local r, err = api:atendimentos_do_cliente("cpf_cnpj", cpf,
    { apenas_pendente = "sim", order_by = "data_cadastro", order_type = "desc", limit = 20 })
  if not r then return gw.reply_error(err) end
  local list = {}
  for _, a in ipairs(r.atendimentos or {}) do list[#list + 1] = ticket_view(a) end
  return gw.reply(200, ('{"cpf_cnpj":%s,"total":%d,"atendimentos":%s}')
    :format(cjson.encode(cpf), #list, gw.json_array(list)))
end

local function open()
  local ctype = ngx.var.content_type or ""
  if not ctype:lower():find("application/json", 1, true) then
    return gw.reply(415, { error = "send Content-Type: application/json" })
  end
  ngx.req.read_body()
  local body = ngx.req.get_body_data()
  if not body then -- empty, or larger than client_body_buffer_size (kept in a file)
    return gw.reply(400, { error = "a JSON body of at most 16k is required" })
  end
  local dados = cjson.decode(body)
  if type(dados) ~= "table" then
    return gw.reply(400, { error = "the body is not a JSON object" })
  end
  for k in pairs(dados) do
    if not OPEN_FIELDS[k] then
      return gw.reply(400, { error = "unknown field", field = tostring(k) })
    end
  end
  local api, why = gw.client()
  if not api then return gw.reply(503, { error = why }) end
  -- a write: lua-hubsoft sends it at most once unless it certainly never left
  local r, err = api:abrir_atendimento(dados)
  if not r then return gw.reply_error(err) end
  local a = r.atendimento or {}
  return gw.reply(201, {
    id_atendimento = a.id_atendimento, protocolo = a.protocolo, status = a.status,
    mensagem = r.msg,
  })
end

local method = ngx.req.get_method()
if method == "GET" or method == "HEAD" then
  return lookup()
elseif method == "POST" then
  return open()
end
ngx.header["Allow"] = "GET, POST"
return gw.reply(405, { error = "use GET or POST" })
