--- Validation rules for the vendor's parameters.
--
-- Every rule is a small function `rule(value)`. When the value is fine it
-- returns `nil, normalized` (the value as it will be sent: `5448.0` becomes
-- `5448`, `{1, 2}` becomes `"1,2"`, `true` becomes `"sim"`...). When the value
-- breaks the rule it returns `message [, subfield]`: a message naming the rule
-- ("must be ...") and, for structured values, where inside the value it broke
-- (`"[2]"`, `"[1].ids_tecnicos"`). The caller (hubsoft.endpoints) turns that
-- into a validation error for the field `param .. subfield`.
--
-- Cross-field checks take the table of normalized values and return
-- `field, message` or nil.
--
-- Nothing here talks to the C core, so the rules can be used (and tested)
-- without it.
-- @module hubsoft.validate
-- @alias V

local V = {}

local floor = math.floor
local tointeger = math.tointeger -- absent before Lua 5.3
local concat, sort = table.concat, table.sort
local format, find = string.format, string.find

-- Largest integer a double holds exactly: ids and page numbers beyond it
-- cannot be told apart from their neighbours, so they are refused as numbers
-- (a long id still passes as a string of digits).
local MAX_INT = 9007199254740991

--- The integer value of `v`, or nil.
-- Accepts an integer-valued number (`12`, `12.0`) or a string of decimal
-- digits (`"12"`). On Lua 5.3+ the result is a Lua integer, so it prints and
-- encodes as `12`, never `12.0`.
-- @param v any value
-- @return number or nil
function V.integer_of(v)
  local n
  if type(v) == "number" then
    n = v
  elseif type(v) == "string" and #v <= 15 and find(v, "^%d+$") then
    n = tonumber(v)
  else
    return nil
  end
  -- n ~= n is NaN; the range check also excludes the infinities.
  if n ~= n or n > MAX_INT or n < -MAX_INT or floor(n) ~= n then
    return nil
  end
  if tointeger then
    n = tointeger(n) or n
  end
  return n
end
local integer_of = V.integer_of

--- Format a value for a URL path or query string.
-- Numbers are written as integers (`"5448"`, never `"5448.0"`); the rules
-- only let integral numbers through to this point.
-- @param v a string, number or boolean
-- @return string
function V.text(v)
  if type(v) == "string" then
    return v
  elseif type(v) == "number" then
    local n = integer_of(v)
    if n then
      return format("%d", n)
    end
    return format("%.17g", v)
  end
  return tostring(v)
end

--- True when `v` is nil or a string holding nothing but spaces.
-- @param v any value
-- @return boolean
function V.blank(v)
  return v == nil or (type(v) == "string" and not find(v, "%S"))
end

--- True when `t` is a table whose keys are exactly 1..n (n >= 1).
-- @param t any value
-- @return boolean
function V.is_array(t)
  if type(t) ~= "table" then
    return false
  end
  local n = 0
  for k in pairs(t) do
    if type(k) ~= "number" or k < 1 or floor(k) ~= k then
      return false
    end
    n = n + 1
  end
  if n == 0 then
    return false
  end
  for i = 1, n do
    if t[i] == nil then
      return false
    end
  end
  return true
end
local is_array = V.is_array

local function trim(s)
  return (s:gsub("^%s+", ""):gsub("%s+$", ""))
end

local function sorted_keys(set)
  local keys = {}
  for k in pairs(set) do
    keys[#keys + 1] = k
  end
  sort(keys)
  return keys
end

-- Split "a, b,c" into {"a", "b", "c"} (empty pieces kept, so "1,,2" fails).
local function split_commas(s)
  local items = {}
  for piece in (s .. ","):gmatch("([^,]*),") do
    items[#items + 1] = trim(piece)
  end
  return items
end

-- ------------------------------------------------------------------------
-- Scalar rules
-- ------------------------------------------------------------------------

--- A positive integer id: a whole number >= 1 or a string of digits (not "0").
-- Numbers are normalized to integers; digit strings are kept as strings.
-- Because the result is digits only, it is safe in a URL path.
-- @param v the value
-- @return nil, id when fine; message otherwise
function V.id(v)
  if type(v) == "string" then
    if find(v, "^%d+$") and find(v, "[1-9]") then
      return nil, v
    end
  elseif type(v) == "number" then
    local n = integer_of(v)
    if n and n >= 1 then
      return nil, n
    end
  end
  return "must be a positive integer id (a whole number >= 1 or a string of digits)"
end

--- A list of positive ids, sent as `"1,2,3"`.
-- Accepts a Lua array of ids, a comma string (`"1,2,3"`, spaces around the
-- commas are dropped) or a single id.
-- @param v the value
-- @return nil, "1,2,3" when fine; message otherwise
function V.id_list(v)
  local msg = 'must be a list of positive integer ids (an array or "1,2,3")'
  local items
  if type(v) == "number" then
    items = { v }
  elseif type(v) == "string" then
    items = split_commas(v)
  elseif is_array(v) then
    items = v
  elseif type(v) == "table" and next(v) == nil then
    return msg .. ", not an empty list"
  else
    return msg
  end
  local out = {}
  for i = 1, #items do
    local bad, id = V.id(items[i])
    if bad then
      return format("%s: item %d is not one", msg, i)
    end
    out[i] = V.text(id)
  end
  return nil, concat(out, ",")
end

--- One id, or a list of ids where the reference says "ids": a single id is
-- sent as `V.id` sends it (a number stays a number, as in the vendor's
-- example `"id_servico": 1234`), a list as `"1,2,3"`.
-- @param v the value
-- @return nil, id or "1,2,3" when fine; message otherwise
function V.id_or_id_list(v)
  if type(v) == "number" or (type(v) == "string" and not v:find(",", 1, true)) then
    local bad, id = V.id(v)
    if not bad then
      return nil, id
    end
  end
  return V.id_list(v)
end

--- An integer within bounds (`hi` optional).
-- Accepts integer-valued numbers and strings of digits; the result is a number.
-- @param lo smallest accepted value
-- @param hi largest accepted value, or nil for no upper bound
-- @return the rule
function V.integer(lo, hi)
  local msg
  if hi then
    msg = format("must be an integer from %d to %d", lo, hi)
  else
    msg = format("must be an integer >= %d", lo)
  end
  return function(v)
    local n = integer_of(v)
    if n == nil or n < lo or (hi and n > hi) then
      return msg
    end
    return nil, n
  end
end

local DAYS_IN_MONTH = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }

--- A real calendar date written `YYYY-MM-DD`.
-- Other formats are refused, not converted; `2025-02-29` is refused,
-- `2024-02-29` accepted.
-- @param v the value
-- @return nil, v when fine; message otherwise
function V.date(v)
  local msg = "must be a real calendar date written YYYY-MM-DD"
  if type(v) ~= "string" then
    return msg
  end
  local y, m, d = v:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)$")
  if not y then
    return msg
  end
  y, m, d = tonumber(y), tonumber(m), tonumber(d)
  if y < 1 or m < 1 or m > 12 or d < 1 then
    return msg
  end
  local leap = (y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0
  local last = DAYS_IN_MONTH[m]
  if m == 2 and leap then
    last = 29
  end
  if d > last then
    return msg
  end
  return nil, v
end

--- A string holding more than spaces.
-- @param v the value
-- @return nil, v when fine; message otherwise
function V.nonempty_string(v)
  if type(v) ~= "string" or not find(v, "%S") then
    return "must be a non-empty string"
  end
  return nil, v
end

--- A Lua boolean (`true` or `false`; not "true", not 1).
-- @param v the value
-- @return nil, v when fine; message otherwise
function V.boolean(v)
  if type(v) ~= "boolean" then
    return "must be a boolean (true or false)"
  end
  return nil, v
end

--- One of a fixed set of strings.
-- @param allowed array of the accepted strings
-- @return the rule
function V.one_of(allowed)
  local set = {}
  for _, a in ipairs(allowed) do
    set[a] = true
  end
  local msg = "must be one of: " .. concat(allowed, ", ")
  return function(v)
    if type(v) ~= "string" or not set[v] then
      return msg
    end
    return nil, v
  end
end

--- `"sim"`, `"nao"` or a Lua boolean (true is sent as "sim", false as "nao").
-- @param v the value
-- @return nil, "sim"|"nao" when fine; message otherwise
function V.sim_nao(v)
  if v == true or v == "sim" then
    return nil, "sim"
  elseif v == false or v == "nao" then
    return nil, "nao"
  end
  return 'must be "sim", "nao" or a boolean'
end

--- A Brazilian phone number, DDNNNNNNNNN: 10 or 11 digits and nothing else.
-- An integer is accepted and sent as a string.
-- @param v the value
-- @return nil, digits when fine; message otherwise
function V.telefone(v)
  local s
  if type(v) == "string" then
    s = v
  elseif type(v) == "number" then
    local n = integer_of(v)
    if n and n > 0 then
      s = format("%d", n)
    end
  end
  if s and find(s, "^%d+$") and (#s == 10 or #s == 11) then
    return nil, s
  end
  return "must be 10 or 11 digits, DDNNNNNNNNN (area code and number, digits only)"
end

--- A plausible e-mail address (`user@domain.tld`).
-- @param v the value
-- @return nil, v when fine; message otherwise
function V.email(v)
  if type(v) ~= "string" or not v:match("^[^%s@]+@[^%s@]+%.[^%s@]+$") then
    return "must be an e-mail address like user@domain.com"
  end
  return nil, v
end

--- A search term: a non-empty string, or a whole number sent as digits.
-- @param v the value
-- @return nil, string when fine; message otherwise
function V.termo_busca(v)
  if type(v) == "string" and v:match("%S") then
    return nil, v
  end
  if type(v) == "number" then
    local n = integer_of(v)
    if n and n >= 0 then
      return nil, format("%d", n)
    end
  end
  return "must be a non-empty string or a whole number"
end

--- A configuration resource name: lower-case letters and underscores.
-- @param v the value
-- @return nil, v when fine; message otherwise
function V.recurso(v)
  if type(v) ~= "string" or not find(v, "^[a-z_]+$") then
    return 'must match ^[a-z_]+$ (e.g. "status_atendimento")'
  end
  return nil, v
end

--- Relations to load: a comma string or a Lua array. Sent as a comma string.
-- With a list, every item must be from it; without one (an endpoint whose
-- reference names no relations), every item must be a relation name
-- (lower-case letters, digits and underscores).
-- @param allowed array of the relation names this endpoint documents, or nil
-- @return the rule
function V.relacoes(allowed)
  local set, msg = {}, "must be a comma list or array of relation names (lower-case letters, digits, _)"
  if allowed then
    for _, a in ipairs(allowed) do
      set[a] = true
    end
    msg = "must be a comma list or array of: " .. concat(allowed, ", ")
  else
    set = setmetatable({}, { __index = function(_, k)
      return type(k) == "string" and k:match("^[a-z][a-z0-9_]*$") ~= nil
    end })
  end
  return function(v)
    local items
    if type(v) == "string" then
      items = split_commas(v)
    elseif is_array(v) then
      items = v
    else
      return msg
    end
    local out = {}
    for i = 1, #items do
      if type(items[i]) ~= "string" or not set[items[i]] then
        return format("%s (item %d is not)", msg, i)
      end
      out[i] = items[i]
    end
    return nil, concat(out, ",")
  end
end

--- A date `YYYY-MM-DD`, or a date and time `YYYY-MM-DD HH:MM:SS` (for
-- endpoints whose reference shows both).
-- @param v the value
-- @return nil, v when fine; message otherwise
function V.date_or_datetime(v)
  local msg = "must be a real calendar date written YYYY-MM-DD or YYYY-MM-DD HH:MM:SS"
  if type(v) ~= "string" then
    return msg
  end
  local day, time = v:match("^(%d%d%d%d%-%d%d%-%d%d)(.*)$")
  if not day or V.date(day) then
    return msg
  end
  if time ~= "" and (time:sub(1, 1) ~= " " or V.hora(time:sub(2))) then
    return msg
  end
  return nil, v
end

--- A time of day written `HH:MM:SS` (00:00:00 to 23:59:59).
-- @param v the value
-- @return nil, v when fine; message otherwise
function V.hora(v)
  local msg = "must be a time of day written HH:MM:SS (e.g. \"08:00:00\")"
  if type(v) ~= "string" then
    return msg
  end
  local h, m, s = v:match("^(%d%d):(%d%d):(%d%d)$")
  if not h or tonumber(h) > 23 or tonumber(m) > 59 or tonumber(s) > 59 then
    return msg
  end
  return nil, v
end

--- A text of at least `n` characters (UTF-8 characters, not bytes), not
-- counting spaces at either end.
-- @param n the minimum
-- @return the rule
function V.min_chars(n)
  local msg = format("must be a string of at least %d characters", n)
  return function(v)
    if type(v) ~= "string" then
      return msg
    end
    local _, count = trim(v):gsub("[^\128-\191]", "")
    if count < n then
      return msg
    end
    return nil, v
  end
end

--- A number as the vendor writes "numeric" (an extension, a client code):
-- a string of digits or a whole number >= 0. Sent as given.
-- @param v the value
-- @return nil, v when fine; message otherwise
function V.digits(v)
  if type(v) == "string" and v:match("^%d+$") then
    return nil, v
  end
  local n = integer_of(v)
  if type(v) == "number" and n and n >= 0 then
    return nil, n
  end
  return "must be a string of digits or a whole number >= 0"
end

--- Letters and digits only (ASCII), or a whole number >= 0 sent as digits.
-- @param v the value
-- @return nil, string when fine; message otherwise
function V.alphanumeric(v)
  if type(v) == "string" and v:match("^%w+$") then
    return nil, v
  end
  local n = type(v) == "number" and integer_of(v)
  if n and n >= 0 then
    return nil, format("%d", n)
  end
  return "must be letters and digits only"
end

--- A code or a search text: a non-empty string, or a whole number (kept a number).
-- @param v the value
-- @return nil, v when fine; message otherwise
function V.text_or_integer(v)
  if type(v) == "string" and v:match("%S") then
    return nil, v
  end
  local n = type(v) == "number" and integer_of(v)
  if n then
    return nil, n
  end
  return "must be a non-empty string or a whole number"
end

--- `"sim"`, `"nao"`, `"todos"` or a Lua boolean (true is "sim", false "nao").
-- @param v the value
-- @return nil, "sim"|"nao"|"todos" when fine; message otherwise
function V.sim_nao_todos(v)
  if v == "todos" then
    return nil, v
  end
  local bad, x = V.sim_nao(v)
  if bad then
    return 'must be "sim", "nao", "todos" or a boolean'
  end
  return nil, x
end

-- ------------------------------------------------------------------------
-- Structured rules
-- ------------------------------------------------------------------------

local function is_scalar(v)
  local t = type(v)
  if t == "number" then
    return v == v and v ~= math.huge and v ~= -math.huge
  end
  return t == "string" or t == "boolean"
end

--- Free-form parameters: a table of string keys to strings, numbers or booleans.
-- Returns a copy.
-- @param t the value
-- @return nil, copy when fine; message, subfield otherwise
function V.scalar_map(t)
  if type(t) ~= "table" then
    return "must be a table of string keys to strings, numbers or booleans"
  end
  local out = {}
  for k, v in pairs(t) do
    if type(k) ~= "string" or k == "" then
      return "keys must be non-empty strings", "[" .. tostring(k) .. "]"
    end
    if not is_scalar(v) then
      return "must be a string, a number or a boolean", "." .. k
    end
    out[k] = v
  end
  return nil, out
end

-- The deepest nesting accepted in a free-form block: well under the JSON
-- encoder's own limit, deep enough for any real "any information" block.
local FREE_DEPTH = 32

local function free_value(v, depth, seen)
  if is_scalar(v) then
    return nil, v
  end
  if type(v) ~= "table" then
    return "must be a string, a number, a boolean or a table of them"
  end
  if seen[v] then
    return "holds itself (a cycle cannot be sent as JSON)"
  end
  if depth > FREE_DEPTH then
    return format("is nested more than %d levels deep", FREE_DEPTH)
  end
  seen[v] = true
  local out, array = {}, is_array(v)
  for k, x in pairs(v) do
    if not array and (type(k) ~= "string" or k == "") then
      return "keys must be non-empty strings (or the table an array)", "[" .. tostring(k) .. "]"
    end
    local msg, y = free_value(x, depth + 1, seen)
    if msg then
      return msg, (array and ("[" .. k .. "]") or ("." .. k)) .. (y or "")
    end
    out[k] = y
  end
  seen[v] = nil
  return nil, out
end

--- Free-form "any information" (the vendor's words for `parametros` and
-- `ligacao_params`): a table of string keys whose values are strings,
-- numbers, booleans, arrays or further such tables, at most 32 levels deep.
-- Returns a copy; a failure names where (`.origem`, `.itens[2]`).
-- @param t the value
-- @return nil, copy when fine; message, subfield otherwise
function V.free_object(t)
  if type(t) ~= "table" or (next(t) ~= nil and is_array(t)) then
    return "must be a table of string keys (values: strings, numbers, booleans or tables)"
  end
  return free_value(t, 1, {})
end

--- Wrap an item rule so it takes a single item or an array of them.
-- A single table (one with non-numeric keys) is wrapped in an array; an
-- empty table is an empty list. The result is always a new array.
-- @param rule the rule for one item
-- @return the rule for the list
function V.list_of(rule)
  return function(v)
    if type(v) ~= "table" then
      return "must be a table or an array of tables"
    end
    local items
    if next(v) == nil then
      items = {}
    elseif is_array(v) then
      items = v
    else
      items = { v }
    end
    local out = {}
    for i = 1, #items do
      local msg, x = rule(items[i])
      if msg then
        return msg, "[" .. i .. "]" .. (x or "")
      end
      out[i] = x
    end
    return nil, out
  end
end

--- A table with a fixed set of keys, each with its own rule.
-- Unknown keys are refused, naming the key; `hints` can give a better
-- message for known misspellings. Returns a copy with normalized values.
-- @param keys table mapping each allowed key to its rule
-- @param hints optional table mapping a refused key to a message
-- @return the rule
function V.block(keys, hints)
  local allowed = concat(sorted_keys(keys), ", ")
  return function(t)
    if type(t) ~= "table" then
      return "must be a table with keys among: " .. allowed
    end
    -- Visit the keys in a fixed order so the same mistake always gives the
    -- same message.
    local names = {}
    for k in pairs(t) do
      if type(k) ~= "string" then
        return "keys must be strings", "[" .. tostring(k) .. "]"
      end
      names[#names + 1] = k
    end
    sort(names)
    for _, k in ipairs(names) do
      if not keys[k] then
        return (hints and hints[k]) or ("unknown key (allowed: " .. allowed .. ")"), "." .. k
      end
    end
    local out = {}
    for _, k in ipairs(names) do
      local msg, x = keys[k](t[k])
      if msg then
        return msg, "." .. k .. (x or "")
      end
      out[k] = x
    end
    return nil, out
  end
end

--- One `parametros_ordem_servico` block.
-- @function ordem_servico
V.ordem_servico = V.block {
  id_tipo_ordem_servico = V.id,
  status = V.nonempty_string,
  ids_tecnicos = V.id_list,
  id_disponibilidade = V.id_list,
}

--- `parametros_ordem_servico`: one block or an array of blocks, as an array.
-- @function ordens_servico
V.ordens_servico = V.list_of(V.ordem_servico)

--- Closing parameters with either spelling of the closing reason (the helper).
-- @function fechamento
V.fechamento = V.block {
  id_motivo_fechamento = V.id,
  id_motivo_fechamento_atendimento = V.id,
  descricao_fechamento = V.nonempty_string,
  status_fechamento = V.nonempty_string,
}

-- Closing parameters in one endpoint's spelling: the other spelling of the
-- closing reason is accepted and renamed (both are valid, per the contract);
-- giving both is refused.
local function respelled(own, other)
  return function(t)
    local msg, x = V.fechamento(t)
    if msg then
      return msg, x
    end
    if x[other] ~= nil then
      if x[own] ~= nil then
        return "gives the closing reason twice (" .. own .. " and " .. other .. "): give one", "." .. other
      end
      x[own], x[other] = x[other], nil
    end
    return nil, x
  end
end

--- Closing parameters as the create (POST) sends them, one block or an array:
-- `id_motivo_fechamento_atendimento` (the PUT's `id_motivo_fechamento` is renamed).
-- @function fechamento_criar
V.fechamento_criar = V.list_of(respelled("id_motivo_fechamento_atendimento", "id_motivo_fechamento"))

--- Closing parameters as the edit (PUT) sends them, one object:
-- `id_motivo_fechamento` (the create's `id_motivo_fechamento_atendimento` is renamed).
-- @function fechamento_editar
V.fechamento_editar = respelled("id_motivo_fechamento", "id_motivo_fechamento_atendimento")

--- Free-form `parametros` of the create: one table or an array of tables,
-- each as `free_object` (nested tables allowed).
-- @function parametros_lista
V.parametros_lista = V.list_of(V.free_object)

--- Free-form `parametros` of the edit: one table (an object), as `free_object`.
-- @param t the value
-- @return nil, copy when fine; message, subfield otherwise
function V.parametros_objeto(t)
  return V.free_object(t)
end

--- Query filters passed through to the server (configuracao): a table of
-- parameter names (letters, digits, `_`) to strings, numbers, booleans or
-- arrays of them (sent as comma lists). Returns a copy.
-- @param t the value
-- @return nil, copy when fine; message, subfield otherwise
function V.query_filters(t)
  if type(t) ~= "table" then
    return "must be a table of parameter names to values"
  end
  local out = {}
  for k, v in pairs(t) do
    if type(k) ~= "string" or not k:match("^[%w_]+$") then
      return "keys must be parameter names (letters, digits, _)", "[" .. tostring(k) .. "]"
    end
    if is_array(v) then
      for i = 1, #v do
        if not is_scalar(v[i]) then
          return "must be a string, a number, a boolean or an array of them", "." .. k .. "[" .. i .. "]"
        end
      end
    elseif not is_scalar(v) then
      return "must be a string, a number, a boolean or an array of them", "." .. k
    end
    out[k] = v
  end
  return nil, out
end

-- A list of objects each holding one id under `key`: the vendor's
-- `[{"id": 1}]`. Also takes a plain list of ids (`{1, 5}`) or "1,5".
local function id_objects(key)
  local msg = format('must be a list of ids or of {%s = id} tables', key)
  return function(v)
    local items
    if type(v) == "string" or type(v) == "number" then
      local bad, s = V.id_list(v)
      if bad then
        return msg
      end
      items = split_commas(s)
    elseif is_array(v) then
      items = v
    else
      return msg
    end
    local out = {}
    for i = 1, #items do
      local item = items[i]
      if type(item) == "table" then
        for k in pairs(item) do
          if k ~= key then
            return "unknown key (allowed: " .. key .. ")", "[" .. i .. "]." .. tostring(k)
          end
        end
        item = item[key]
      end
      local bad, id = V.id(item)
      if bad then
        return bad, "[" .. i .. "]"
      end
      out[i] = { [key] = id }
    end
    return nil, out
  end
end

--- `tecnicos` of ordem_servico/consultar: `{{id = 1}, ...}` or `{1, ...}`,
-- sent as an array of `{"id": n}` objects.
-- @function tecnicos
V.tecnicos = id_objects("id")

--- `tipo_ordem_servicos` of ordem_servico/consultar: `{{id_tipo_ordem_servico = 1}}`
-- or `{1, ...}`, sent as an array of `{"id_tipo_ordem_servico": n}` objects.
-- @function tipos_ordem_servico
V.tipos_ordem_servico = id_objects("id_tipo_ordem_servico")

local function no_controls(s)
  return type(s) == "string" and s ~= "" and not s:find("%c")
end

-- The system's reason without the path: a path may hold anything (even a
-- secret), and err.field already says which item it is.
local function reason(err)
  return (tostring(err):match(":%s*([^:]*)$")) or "unreadable"
end

local function readable(path)
  local f, err = io.open(path, "rb")
  if not f then
    return "cannot be opened for reading (" .. reason(err) .. ")"
  end
  -- A directory opens on some systems but cannot be read.
  local ok, rerr = f:read(1)
  f:close()
  if ok == nil and rerr then
    return "cannot be read (" .. reason(rerr) .. ")"
  end
  return nil
end

local FILE_KEYS = { path = true, data = true, filename = true, content_type = true }

local function attachment(item)
  if type(item) == "string" then
    if item == "" then
      return "must be a file path, not an empty string"
    end
    local bad = readable(item)
    if bad then
      return "file " .. bad
    end
    return nil, item
  end
  if type(item) ~= "table" then
    return "must be a path string, {path=...} or {data=..., filename=...}"
  end
  local out = {}
  for k, v in pairs(item) do
    if not FILE_KEYS[k] then
      return "unknown key " .. tostring(k) .. " (allowed: content_type, data, filename, path)"
    end
    out[k] = v
  end
  if (item.path == nil) == (item.data == nil) then
    return "needs exactly one of path or data"
  end
  -- the same rule the C core applies to api:request's attachments: the name
  -- goes into a quoted multipart header
  if item.filename ~= nil and not (no_controls(item.filename) and not item.filename:find('"', 1, true)) then
    return 'filename must be a non-empty string without control characters or quotes (")'
  end
  if item.content_type ~= nil
    and not (no_controls(item.content_type) and item.content_type:match("^[^/%s]+/[^/%s]+")) then
    return 'content_type must look like "type/subtype"'
  end
  if item.data ~= nil then
    if type(item.data) ~= "string" then
      return "data must be a string"
    end
    if item.filename == nil then
      return "a data attachment needs a filename"
    end
  else
    if type(item.path) ~= "string" or item.path == "" then
      return "path must be a non-empty string"
    end
    local bad = readable(item.path)
    if bad then
      return "file " .. bad
    end
  end
  return nil, out
end

--- Attachments: a non-empty array of path strings, `{path=, filename=,
-- content_type=}` or `{data=, filename=, content_type=}` tables. Every path
-- must exist and be readable now. A failure names the item (`"[2]"`).
-- @param v the value
-- @return nil, copy when fine; message, subfield otherwise
function V.arquivos(v)
  if not is_array(v) then
    return "must be a non-empty list of files"
  end
  local out = {}
  for i = 1, #v do
    local msg, x = attachment(v[i])
    if msg then
      return msg, "[" .. i .. "]"
    end
    out[i] = x
  end
  return nil, out
end

-- ------------------------------------------------------------------------
-- Cross-field checks (take the normalized values, return field, message)
-- ------------------------------------------------------------------------

--- data_fim may not come before data_inicio.
-- @param p normalized values
-- @return field, message or nil
function V.date_order(p)
  -- Both are valid YYYY-MM-DD strings here, which sort as dates.
  if p.data_inicio and p.data_fim and p.data_fim < p.data_inicio then
    return "data_fim", "must not be before data_inicio"
  end
end

--- Dates that may carry a time (`YYYY-MM-DD[ HH:MM:SS]`): data_fim may not
-- come before data_inicio. Compared by day when either has no time.
-- @param p normalized values
-- @return field, message or nil
function V.datetime_order(p)
  local a, b = p.data_inicio, p.data_fim
  if a and b then
    if #a ~= #b then
      a, b = a:sub(1, 10), b:sub(1, 10)
    end
    if b < a then
      return "data_fim", "must not be before data_inicio"
    end
  end
end

--- Both or neither: `a` and `b` go together.
-- @param a a parameter name
-- @param b another
-- @return the check
function V.together(a, b)
  return function(p)
    if (p[a] == nil) ~= (p[b] == nil) then
      local missing = p[a] == nil and a or b
      return missing, "is required when " .. (missing == a and b or a) .. " is given (send both or neither)"
    end
  end
end

--- At least one of `a` and `b`.
-- @param a a parameter name
-- @param b another
-- @return the check
function V.one_required(a, b)
  return function(p)
    if p[a] == nil and p[b] == nil then
      return a, "is required when " .. b .. " is absent (give " .. a .. " or " .. b .. ")"
    end
  end
end

--- A rescheduling may not end before it starts.
-- @param p normalized values
-- @return field, message or nil
function V.schedule_order(p)
  local ini = p.data_inicio_programado and p.hora_inicio_programado
    and (p.data_inicio_programado .. " " .. p.hora_inicio_programado)
  local fim = p.data_termino_programado and p.hora_termino_programado
    and (p.data_termino_programado .. " " .. p.hora_termino_programado)
  if ini and fim and fim < ini then
    return "data_termino_programado", "must not be before data_inicio_programado (with the hours)"
  end
end

--- A PUT may not close the atendimento and change its status or type at once.
-- @param p normalized values
-- @return field, message or nil
function V.close_alone(p)
  if p.fechar_atendimento == true then
    for _, k in ipairs { "id_atendimento_status", "id_tipo_atendimento" } do
      if p[k] ~= nil then
        return k, "cannot be changed while closing (fechar_atendimento = true); "
          .. "change it first with editar_atendimento"
      end
    end
  end
end

return V
