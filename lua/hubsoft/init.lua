--- lua-hubsoft: a client for the HubSoft ISP atendimento (ticket) API.
--
-- The C core (`hubsoft.core`) does HTTP, OAuth, JSON and errors; this module
-- adds the vendor's endpoints (validated before anything is sent), the page
-- iterators and a few helpers, and installs the endpoint methods on the
-- client so `api:abrir_atendimento{...}` works.
--
-- Every endpoint method returns the decoded response, or `nil, err` where
-- `err.kind` is "validation" when a parameter broke a documented rule (and
-- nothing was sent). The helpers below raise a Lua error instead, since a
-- malformed block is a programming mistake.
-- @module hubsoft
-- @usage local hubsoft = require "hubsoft"
-- local api = hubsoft.new {
--   base_url = "https://api.minhaisp.hubsoft.com.br",
--   client_id = "3", client_secret = os.getenv("HUBSOFT_SECRET"),
--   username = "integracao@minhaisp.com.br", password = os.getenv("HUBSOFT_PASSWORD"),
--   token_store = hubsoft.file_token_store("/var/lib/minhaisp/hubsoft-token.json"),
-- }
-- local r, err = api:abrir_atendimento {
--   id_cliente_servico = 1234, descricao = "Sem conexão",
--   nome = "João Silva", telefone = "11987654321",
-- }
-- if not r then print(err) end

local core = require "hubsoft.core"
local validate = require "hubsoft.validate"
local endpoints = require "hubsoft.endpoints"
local paginate = require "hubsoft.paginate"
local token_store = require "hubsoft.token_store"
local normalize = require "hubsoft.normalize"

local M = {}

--- Version of the library, "MAJOR.MINOR.PATCH".
M.VERSION = core.VERSION

--- The JSON null sentinel (responses hold it when the client has `keep_nulls = true`).
M.null = core.null

--- Create a client.
-- Raises a Lua error for a malformed configuration. See the README for every
-- key (`base_url`, `client_id`, `client_secret`, `username`, `password`,
-- `access_token`, `token_store`, `timeout`, `connect_timeout`, `retries`,
-- `verify_tls`, `ca_file`, `ca_path`, `proxy`, `allow_http`, `user_agent`,
-- `keep_nulls`, `on_request`, `max_response_size`, `retry_delay`,
-- `retry_max_delay`, `compress`).
-- @function new
-- @tparam table config
-- @return the client
-- @usage local api = hubsoft.new{base_url = "https://api.minhaisp.hubsoft.com.br",
--   client_id = "3", client_secret = s, username = u, password = p}
M.new = core.new

--- Mark a table to be JSON-encoded as an array (even when empty).
-- @function array
-- @tparam table t
-- @treturn table t
-- @usage api:request("POST", path, {json = {ids = hubsoft.array{}}})
M.array = core.array

--- Mark a table to be JSON-encoded as an object (even when empty).
-- @function object
-- @tparam table t
-- @treturn table t
-- @usage api:request("PUT", path, {json = {parametros = hubsoft.object{}}})
M.object = core.object

local function raise(who, field, msg, sub)
  error(("hubsoft.%s: %s%s: %s"):format(who, field, sub or "", msg), 3)
end

--- Build a comma list of ids, validating each one.
-- Accepts a Lua array of positive ids (numbers or digit strings), a comma
-- string such as "1,2,3", or a single id. Raises a Lua error naming the
-- first bad item.
-- @param list the ids
-- @treturn string "1,2,3"
-- @usage hubsoft.ids{5, 10} --> "5,10"
function M.ids(list)
  local msg, s = validate.id_list(list)
  if msg then
    error("hubsoft.ids: " .. msg, 2)
  end
  return s
end

--- Build the `parametros_ordem_servico` block of abrir_atendimento.
-- Takes one table or an array of tables with the keys
-- `id_tipo_ordem_servico` (id), `status` (string), `ids_tecnicos` and
-- `id_disponibilidade` (array of ids or "1,2"). Returns an array of
-- objects with the id lists as comma strings. Unknown keys and wrong types
-- raise a Lua error naming the key.
-- @tparam table t one block or an array of blocks
-- @treturn table an array of blocks
-- @usage dados.parametros_ordem_servico = hubsoft.parametros_ordem_servico{
--   id_tipo_ordem_servico = 15, ids_tecnicos = {5, 10}}
function M.parametros_ordem_servico(t)
  local msg, blocks = validate.ordens_servico(t)
  if msg then
    raise("parametros_ordem_servico", "parametros_ordem_servico", msg, blocks)
  end
  for i = 1, #blocks do
    core.object(blocks[i])
  end
  return core.array(blocks)
end

--- Build a `parametros_fechamento` block.
-- Keys: `id_motivo_fechamento` (the PUT's spelling, used by
-- editar_atendimento and fechar_atendimento), `id_motivo_fechamento_atendimento`
-- (the create's spelling, used by abrir_atendimento), `descricao_fechamento`,
-- `status_fechamento`. Unknown keys and wrong types raise a Lua error naming
-- the key.
-- @tparam table t
-- @treturn table a new table (encoded as an object)
-- @usage api:fechar_atendimento(123, {parametros_fechamento = hubsoft.parametros_fechamento{
--   id_motivo_fechamento = 108, descricao_fechamento = "Resolvido", status_fechamento = "concluido"}})
function M.parametros_fechamento(t)
  local msg, block = validate.fechamento(t)
  if msg then
    raise("parametros_fechamento", "parametros_fechamento", msg, block)
  end
  return core.object(block)
end

--- A phone number typed by a person as DDNNNNNNNNN, the form `telefone`
-- parameters take: `"(81) 98765-4321"` -> `"81987654321"`; drops `+55`, a
-- trunk `0`, a carrier code and punctuation. Returns nil and a message for
-- what cannot be a Brazilian number (user input is not a programming
-- mistake, so this does not raise). See `hubsoft.normalize`.
-- @function telefone
-- @tparam string s
-- @return the digits, or nil and a message
-- @usage local tel = hubsoft.telefone(caller_id) -- nil for "anonymous"
M.telefone = normalize.telefone

--- A CPF or CNPJ typed by a person as digits only, check digits verified:
-- `"862.149.410-81"` -> `"86214941081"` (11 digits: a CPF, 14: a CNPJ). Returns
-- nil and a message for a wrong length, repeated digits or a typo the check
-- digits catch.
-- @function cpf_cnpj
-- @tparam string s
-- @return the digits, or nil and a message
-- @usage local doc = hubsoft.cpf_cnpj("11.222.333/0001-81") --> "11222333000181"
M.cpf_cnpj = normalize.cpf_cnpj

--- A token_store keeping the token in a file (JSON, mode 0600, atomic writes).
-- `load()` returns nil when the file is missing, unreadable, corrupt or the
-- token expires within a minute; `save(token)` returns true or nil, msg.
-- @tparam string path
-- @treturn table `{load = function, save = function}`
-- @usage local api = hubsoft.new{..., token_store = hubsoft.file_token_store(os.getenv("HOME") .. "/.hubsoft-token")}
function M.file_token_store(path)
  if type(path) ~= "string" or path == "" then
    error("hubsoft.file_token_store: path must be a non-empty string", 2)
  end
  return token_store.new(core, path)
end

-- Installing twice (the module loaded again after package.loaded was
-- cleared) just replaces the same functions.
endpoints.install(core.methods, core)
paginate.install(core.methods, core)

return M
