-- lua-hubsoft example: export every ticket of a month to CSV.
--
--   lua5.4 examples/export_month.lua 2025-09 [out.csv]
--
-- Walks /atendimento/todos with api:each (500 per page, the vendor's
-- maximum) and writes each record as it arrives, so memory stays flat
-- whatever the month holds. The CSV is written by hubsoft.cli.writers, as
-- `hubsoft export --format csv` writes it: RFC 4180 (comma separated, CRLF
-- line ends, fields quoted when they hold a comma, a quote or a line break,
-- quotes doubled), and a text starting with =, +, -, @, a tab or CR gets a
-- leading ' so that a spreadsheet shows it rather than running it as a
-- formula. Without out.csv the CSV goes to stdout. A progress line on stderr ("\r"-updated)
-- says the page and the records written so far.
--
-- Run it from the repository root, after building (see scripts/demo.sh), with
--   LUA_PATH='lua/?.lua;lua/?/init.lua;./?.lua;;' LUA_CPATH='build/?.so;;'
-- Against a real HubSoft set the variables the `hubsoft` command reads:
-- HUBSOFT_BASE_URL (HUBSOFT_URL also works), HUBSOFT_CLIENT_ID,
-- HUBSOFT_CLIENT_SECRET, HUBSOFT_USERNAME and HUBSOFT_PASSWORD. Without a URL
-- it starts the bundled fake server and seeds it with HUBSOFT_FAKE_TICKETS
-- (default 300) tickets in that month. (One integrator saw 500 per page
-- with relations time out where 100 worked: HUBSOFT_PAGE_SIZE changes it.)
--
-- Exits 0 when every page was exported, 1 on failure, 2 on bad arguments.
local hubsoft = require "hubsoft"
local core = require "hubsoft.core"
local writers = require "hubsoft.cli.writers"

-- `assert(api:metodo(...))` is fine on Lua 5.2+ and LuaJIT; Lua 5.1's assert
-- wants a string message and would hide the error table, so raise it as is.
local function must(result, err)
  if result == nil then error(err, 2) end
  return result
end

-- What the listing's records hold (docs/METHODS.md, "What the records hold").
-- They carry no opening description: the vendor's /todos records have no
-- descricao_abertura (cliente/atendimento's answer does), so the last column
-- is the closing description, empty while a ticket is open.
local COLUMNS = {
  "id_atendimento", "protocolo", "data_cadastro", "data_fechamento", "status", "tipo",
  "id_cliente_servico", "codigo_cliente", "cliente", "descricao_fechamento",
}

local function getenv(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then return default end
  return v
end

local function usage(msg)
  io.stderr:write(msg, "\nusage: export_month.lua YYYY-MM [out.csv]\n")
  os.exit(2)
end

---------------------------------------------------------------- arguments

local month, out_path = arg[1], arg[2]
local year, mon = (month or ""):match("^(%d%d%d%d)%-(%d%d)$")
year, mon = tonumber(year), tonumber(mon)
if not year or mon < 1 or mon > 12 then usage("month must be YYYY-MM") end
local leap = (year % 4 == 0 and year % 100 ~= 0) or year % 400 == 0
local last_day = ({ 31, leap and 29 or 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 })[mon]
local data_inicio = ("%04d-%02d-01"):format(year, mon)
local data_fim = ("%04d-%02d-%02d"):format(year, mon, last_day)
local per_page = tonumber(getenv("HUBSOFT_PAGE_SIZE", "500"))

---------------------------------------------------------------- rows

-- A listing record as one CSV row. `status` and `tipo_atendimento` are
-- objects in the paginated lists (labels elsewhere): take the label either way.
local function label(v)
  if type(v) == "table" then return v.descricao or v.display end
  return v
end

local function row(a)
  local cs = type(a.cliente_servico) == "table" and a.cliente_servico or {}
  local cliente = type(cs.cliente) == "table" and cs.cliente or {}
  return {
    id_atendimento = a.id_atendimento,
    protocolo = a.protocolo,
    data_cadastro = a.data_cadastro,
    data_fechamento = a.data_fechamento,
    status = label(a.status),
    tipo = label(a.tipo_atendimento),
    id_cliente_servico = a.id_cliente_servico,
    codigo_cliente = cliente.codigo_cliente,
    cliente = cliente.nome_razaosocial,
    descricao_fechamento = a.descricao_fechamento,
  }
end

---------------------------------------------------------------- connecting

local function connect()
  local base_url = getenv("HUBSOFT_BASE_URL") or getenv("HUBSOFT_URL")
  if base_url then
    return hubsoft.new {
      base_url = base_url,
      client_id = getenv("HUBSOFT_CLIENT_ID"),
      client_secret = getenv("HUBSOFT_CLIENT_SECRET"),
      username = getenv("HUBSOFT_USERNAME"),
      password = getenv("HUBSOFT_PASSWORD"),
    }
  end
  local fake = require "hubsoft.fake_server"
  local srv = fake.start {}
  local n = tonumber(getenv("HUBSOFT_FAKE_TICKETS", "300"))
  srv:seed { tickets = n, data_inicio = data_inicio, data_fim = data_fim }
  io.stderr:write(("fake server at %s with %d tickets in %s\n"):format(srv.url, n, month))
  return hubsoft.new(srv:config()), srv
end

---------------------------------------------------------------- export

local function export(api, out)
  local filtros = {
    data_inicio = data_inicio, data_fim = data_fim,
    itens_por_pagina = per_page, relacoes = "cliente_servico",
  }
  -- One small request for the totals, so the progress line can say "k/N".
  local head = must(api:todos_atendimentos { data_inicio = data_inicio, data_fim = data_fim,
                                               itens_por_pagina = 1 })
  local total = head.paginacao and tonumber(head.paginacao.total_registros)
  local pages = total and math.max(1, math.ceil(total / per_page)) or nil

  local csv = writers.csv(core, out, COLUMNS) -- writes the header row
  local count, shown = 0, nil
  for atendimento, pagina in api:each("todos_atendimentos", filtros) do
    csv.write(row(atendimento))
    count = count + 1
    if pagina ~= shown or count % 100 == 0 then
      shown = pagina
      io.stderr:write(("\rpágina %d/%s, %d registros"):format(pagina + 1, pages or "?", count))
    end
  end
  io.stderr:write(("\rpágina %s/%s, %d registros\n"):format(pages or "?", pages or "?", count))
  csv.close()
  return count, total
end

local api, srv = connect()
local out = io.stdout
if out_path then
  out = assert(io.open(out_path, "wb"))
else
  io.stdout:setvbuf("full")
end
local ok, count, total = pcall(export, api, out)
if out_path then out:close() else out:flush() end
api:close()
if srv then srv:stop() end
if not ok then
  -- the writer raises {write_error = reason} when the output refuses a write
  local why = type(count) == "table" and count.write_error or tostring(count)
  io.stderr:write("\nexport failed: ", why, "\n")
  os.exit(1)
end
if total and count ~= total then
  io.stderr:write(("warning: the server announced %d tickets, %d exported\n"):format(total, count))
end
io.stderr:write(("%d atendimentos de %s exportados%s\n"):format(count, month,
  out_path and (" para " .. out_path) or ""))
