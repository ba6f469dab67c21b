--- `hubsoft help` and `hubsoft help METODO`, written from the endpoint rows:
-- a new row appears here with no code of its own.
-- @module hubsoft.cli.help

local rows = require "hubsoft.cli.rows"

local M = {}

M.USAGE = [[
Usage:
  hubsoft [--config FILE] [--verbose] METODO [--param valor]...
  hubsoft export METODO [--param valor]... [--format jsonl|csv] [--columns a,b.c]
                 [--output FILE] [--concurrency N]
  hubsoft help [METODO]
  hubsoft fake-server [--port N] [--seed-tickets N]

Configuration: --config FILE (JSON with hubsoft.new's keys) or HUBSOFT_BASE_URL,
HUBSOFT_CLIENT_ID, HUBSOFT_CLIENT_SECRET, HUBSOFT_USERNAME, HUBSOFT_PASSWORD,
HUBSOFT_TOKEN_FILE. A value starting with { or [ is JSON; a parameter given
twice is a list. Exit status: 0 ok, 1 server or response, 2 usage or
validation, 3 auth, 4 timeout, network or TLS, 130 interrupted.
]]

--- The list of methods.
-- @treturn string
function M.list()
  local out = { M.USAGE, "\nMethods (hubsoft help METODO for one):\n" }
  local width = 0
  for _, row in ipairs(rows.all()) do
    if #row.name > width then width = #row.name end
  end
  for _, row in ipairs(rows.all()) do
    local tags = rows.class(row)
    if rows.paginated(row) then tags = tags .. ", export" end
    out[#out + 1] = ("  %-" .. width .. "s  %-6s %s  (%s)\n"):format(row.name, row.method, row.path, tags)
  end
  return table.concat(out)
end

-- "--id_atendimento V [--dias V]" for the usage line: a parameter the call
-- can go without is in brackets, positional or not (configuracao's filtros)
local function usage_line(row)
  local parts = { "hubsoft " .. row.name }
  for _, p in ipairs(row.params or {}) do
    local name = rows.param_name(p)
    if p.value == nil then
      local word = "--" .. name .. " V"
      if not p.required then word = "[" .. word .. "]" end
      parts[#parts + 1] = word
    end
  end
  return table.concat(parts, " ")
end

--- One method: what it sends, its class, and each parameter with its rules.
-- @tparam table row
-- @treturn string
function M.method(row)
  local out = {}
  local function add(s) out[#out + 1] = s end
  add(("%s: %s %s\n"):format(row.name, row.method, row.path))
  local class = rows.class(row)
  add(("  class: %s (%s)\n"):format(class, class == "read"
    and "retried on a failure that can pass"
    or "never sent twice once a byte may have reached the server"))
  if rows.paginated(row) then
    add(("  paginated: yes (hubsoft export %s ... writes every record)\n"):format(row.name))
  else
    add("  paginated: no\n")
  end
  add("  usage: " .. usage_line(row) .. "\n")
  add("  parameters:\n")
  for _, p in ipairs(row.params or {}) do
    local name = rows.param_name(p)
    local notes = {}
    if p.value ~= nil then
      notes[#notes + 1] = "always " .. tostring(p.value) .. " (set by the method)"
    else
      if p.required then notes[#notes + 1] = "required" end
      if p.default ~= nil then notes[#notes + 1] = "default " .. tostring(p.default) end
      if p.control then notes[#notes + 1] = "chooses the request form, not sent" end
      if p.files then notes[#notes + 1] = "files to attach (give it once per file)" end
    end
    add(("    --%s%s\n"):format(name, #notes > 0 and ("  (" .. table.concat(notes, "; ") .. ")") or ""))
    for _, text in ipairs(rows.rule_texts(p)) do
      add("        " .. text .. "\n")
    end
  end
  local across = rows.check_texts(row)
  if #across > 0 then
    add("  across parameters:\n")
    for _, text in ipairs(across) do
      add("    " .. text .. "\n")
    end
  end
  return table.concat(out)
end

return M
