--- What the command reads from the endpoint rows (hubsoft.endpoints).
--
-- Only the fields a row is written with are used (`name`, `method`, `path`,
-- `retry`, `positional`, `options`, `params` with their `rules`, `required`,
-- `default`, `value`, `control`, `files`, `paging`, `checks`), never what endpoints.lua derives
-- at load time, so a row added at run time is described like any other.
-- @module hubsoft.cli.rows

local M = {}

-- A value no rule accepts: a rule's answer to it is the rule's own message.
local function PROBE() end

--- The rows, in table order.
-- @return array of rows
function M.all()
  return require("hubsoft.endpoints").rows
end

--- The row of a method, or nil.
-- @tparam string name
function M.find(name)
  for _, row in ipairs(M.all()) do
    if row.name == name then return row end
  end
  return nil
end

--- A parameter's name.
function M.param_name(p)
  return p.name or p[1]
end

--- The row's parameters by name.
function M.params_by_name(row)
  local t = {}
  for _, p in ipairs(row.params or {}) do
    t[M.param_name(p)] = p
  end
  return t
end

--- True when the method is read page by page: its row has a `paging` block
-- (which parameter chooses the page, which key holds the records), the same
-- data `api:pages` and `api:each` walk it by.
function M.paginated(row)
  return row.paging ~= nil
end

--- "read" or "write" (a write is never sent twice).
function M.class(row)
  return row.retry == "read" and "read" or "write"
end

--- The rules of a parameter as text ("must be ..."), one per rule; each
-- rule states itself when handed a value it cannot accept.
function M.rule_texts(p)
  local out = {}
  for _, rule in ipairs(p.rules or {}) do
    local ok, msg = pcall(rule, PROBE)
    if ok and type(msg) == "string" then out[#out + 1] = msg end
  end
  return out
end

--- The row's cross-field checks that can state themselves, as text
-- ("ramal: is required when identificador_interno is absent ..."): each check
-- is asked about no parameters at all, then about each parameter given
-- alone, and its first answer is its text. A check that only speaks about
-- values together (dates in order) says nothing here.
function M.check_texts(row)
  local out = {}
  for _, check in ipairs(row.checks or {}) do
    local probes = { {} }
    for _, p in ipairs(row.params or {}) do
      probes[#probes + 1] = { [M.param_name(p)] = "x" }
    end
    for _, values in ipairs(probes) do
      local ok, field, msg = pcall(check, values)
      if ok and type(field) == "string" and type(msg) == "string" then
        out[#out + 1] = field .. ": " .. msg
        break
      end
    end
  end
  return out
end

return M
