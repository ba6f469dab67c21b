--- Turn `--name value` words into the arguments of an endpoint method.
--
-- A value is text on the command line; the method wants Lua values. A value
-- that starts with `{` or `[` is JSON, unless only the text itself fits the
-- parameter (`--mensagem "[URGENTE] sem sinal"`). Otherwise the parameter's own rules
-- choose: the first of (the text read as a whole number or true/false, the
-- text itself, a one-item list of it) that every rule accepts is used, so
-- `--id_atendimento 5448` is a number, `--termo_busca 01234567890` stays
-- text (a number would drop the leading zero) and `--arquivos a.png` is a
-- list; likewise a JSON object where only a list of objects is accepted
-- becomes that list's one item. A parameter given twice is a list.
-- @module hubsoft.cli.params

local rows = require "hubsoft.cli.rows"

local M = {}

-- "5448" -> 5448, "true" -> true; nil when the text is not one of those. Only
-- the canonical spelling of an integer (no sign, no leading zero, at most 15
-- digits, which a double holds exactly) is read as a number.
local function scalar(s)
  if s == "true" then return true elseif s == "false" then return false end
  if s == "0" or (s:match("^[1-9]%d*$") and #s <= 15) then return tonumber(s) end
  return nil
end

local function accepted(p, v)
  for _, rule in ipairs(p.rules or {}) do
    local ok, msg, x = pcall(rule, v)
    if not ok or msg ~= nil then return false end
    v = x
  end
  return true
end

local function json_value(core, name, s)
  local ok, v = pcall(core.decode, s)
  if not ok or v == nil then
    return nil, "--" .. name .. ": the value starts with " .. s:match("^%s*(.)") .. " but is not valid JSON"
  end
  return v
end

-- The Lua value for one parameter given once (text s).
local function one(core, p, name, s)
  local json, json_err
  if s:match("^%s*[%[{]") then
    json, json_err = json_value(core, name, s)
    if json ~= nil and accepted(p, json) then return json end
    -- an object where the rules want a list of them (one --arquivos
    -- '{"path": ...}') is that list's one item, as a single path is
    if json ~= nil and accepted(p, { json }) then return { json } end
  end
  local n = scalar(s)
  local candidates = {}
  if n ~= nil then candidates[#candidates + 1] = n end
  candidates[#candidates + 1] = s
  candidates[#candidates + 1] = { n == nil and s or n }
  for _, v in ipairs(candidates) do
    -- for JSON-looking text, this is text that merely starts with a bracket
    -- ("[URGENTE] sem sinal", "[rascunho].png") where text is what fits
    if accepted(p, v) then return v end
  end
  if json ~= nil or json_err then return json, json_err end
  -- nothing fits: hand the text over and let the method's validation name the rule
  if p.files then return { s } end
  return s
end

--- Build the arguments of `row`'s method.
-- @param core the C core (JSON decoding)
-- @param row the endpoint row
-- @param named array of `{name, text}` in command-line order
-- @param bare array of texts given without a name (taken as the positional
--   parameters, in order)
-- @return args array and its length, or nil and a usage message
function M.build(core, row, named, bare)
  local spec = rows.params_by_name(row)
  local texts, order = {}, {}
  for _, nv in ipairs(named) do
    local name, text = nv[1], nv[2]
    local p = spec[name]
    if not p then
      local names = {}
      for _, q in ipairs(row.params or {}) do
        if q.value == nil then names[#names + 1] = rows.param_name(q) end
      end
      return nil, ("--%s: unknown parameter for %s (allowed: %s)"):format(name, row.name,
        table.concat(names, ", "))
    elseif p.value ~= nil then
      return nil, ("--%s: is set by %s itself"):format(name, row.name)
    end
    if not texts[name] then
      texts[name] = {}
      order[#order + 1] = name
    end
    table.insert(texts[name], text)
  end
  local positional = row.positional or {}
  local b = 1
  for _, name in ipairs(positional) do
    if not texts[name] and bare[b] ~= nil then
      texts[name] = { bare[b] }
      order[#order + 1] = name
      b = b + 1
    end
  end
  if bare[b] ~= nil then
    return nil, ("unexpected argument %q for %s (give parameters as --name value)"):format(bare[b], row.name)
  end

  local values = {}
  for _, name in ipairs(order) do
    local p, list = spec[name], texts[name]
    if #list == 1 then
      local v, err = one(core, p, name, list[1])
      if err then return nil, err end
      values[name] = v
    else
      local items = {}
      for i, s in ipairs(list) do
        local v, err
        if s:match("^%s*[%[{]") then v, err = json_value(core, name, s) else v = scalar(s) or s end
        if err then return nil, err end
        items[i] = v
      end
      values[name] = items
    end
  end

  local args, is_positional = {}, {}
  for i, name in ipairs(positional) do
    args[i] = values[name]
    is_positional[name] = true
  end
  local n = #positional
  if row.options then
    local opts
    for _, name in ipairs(order) do
      if not is_positional[name] then
        opts = opts or {}
        opts[name] = values[name]
      end
    end
    n = n + 1
    args[n] = opts
  end
  return args, n
end

return M
