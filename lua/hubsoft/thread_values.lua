--- Values crossing between the nginx worker's Lua VM and a thread pool VM.
--
-- `ngx.run_worker_thread` copies arguments and results from one Lua VM to
-- another: strings, numbers, booleans, nil, light userdata (so `hubsoft.null`
-- arrives as itself) and tables of those, up to 100 levels deep. Everything
-- else is refused by ngx_lua with a message that names no parameter, and
-- metatables are dropped, which would lose the `hubsoft.array` /
-- `hubsoft.object` marks that decide how an empty table is encoded.
--
-- `check` finds what cannot cross (so the caller gets a validation error
-- naming the parameter before anything is sent); `pack` turns the marks into
-- a key no JSON value can hold (`[hubsoft.null] = "array"`), and `unpack`
-- turns them back on the other side. Tables without marks cross as they are.
-- @module hubsoft.thread_values

local M = {}

--- How deep a table may be nested to cross (ngx_lua refuses more than 100
-- levels; a few are kept for the call's own wrapping).
M.MAX_DEPTH = 96

local function step(where, k)
  if type(k) == "number" then
    return where .. "[" .. k .. "]"
  end
  return where == "" and tostring(k) or where .. "." .. tostring(k)
end

--- Check that a value can cross to a thread pool VM.
-- @param v the value
-- @param null the JSON null sentinel (the only light userdata allowed)
-- @param marks `{[metatable] = "array" | "object"}`: the marks `pack` keeps
-- @tparam string where the parameter's name, for the message
-- @return nil when it can cross, and whether a mark was seen; or the field
--   that cannot and why
function M.check(v, null, marks, where)
  local marked = false
  local seen = {}
  local function walk(x, at, depth)
    local t = type(x)
    if t == "string" or t == "number" or t == "boolean" or t == "nil" or x == null then
      return nil
    elseif t ~= "table" then
      return at, "is a " .. t .. ": only strings, numbers, booleans, hubsoft.null and tables of them"
        .. " cross to the nginx thread pool"
    end
    if seen[x] then
      return at, "is a table that contains itself"
    end
    if depth > M.MAX_DEPTH then
      return at, "is nested deeper than " .. M.MAX_DEPTH .. " levels"
    end
    local mt = getmetatable(x)
    if mt ~= nil and marks[mt] then
      marked = true
    end
    seen[x] = true
    for k, val in pairs(x) do
      local kt = type(k)
      if kt ~= "string" and kt ~= "number" and kt ~= "boolean" then
        return at, "has a key that is a " .. kt
      end
      local field, why = walk(val, step(at, k), depth + 1)
      if field then
        return field, why
      end
    end
    seen[x] = nil
    return nil
  end
  local field, why = walk(v, where, 1)
  if field then
    return field, why
  end
  return nil, marked
end

--- A copy of `v` with each marked table carrying its mark as `[null] = kind`.
-- Only call it when `check` saw a mark; other values are returned as they are.
-- @param v the value (already checked)
-- @param null the JSON null sentinel
-- @param marks `{[metatable] = "array" | "object"}`
function M.pack(v, null, marks)
  if type(v) ~= "table" then
    return v
  end
  local out = {}
  for k, x in pairs(v) do
    out[k] = M.pack(x, null, marks)
  end
  local kind = marks[getmetatable(v)]
  if kind then
    out[null] = kind
  end
  return out
end

--- Undo `pack` in place: each `[null] = kind` key becomes the mark again.
-- @param v the value that crossed
-- @param null the JSON null sentinel
-- @param mark `{array = function(t), object = function(t)}`, the core's markers
function M.unpack(v, null, mark)
  if type(v) ~= "table" then
    return v
  end
  for _, x in pairs(v) do
    M.unpack(x, null, mark)
  end
  local kind = v[null]
  if kind ~= nil then
    v[null] = nil
    mark[kind](v)
  end
  return v
end

--- How deeply tables nest in `v` (0 for a plain value), stopping early once
-- past `limit`.
function M.depth(v, limit)
  if type(v) ~= "table" then
    return 0
  end
  local deepest = 0
  for _, x in pairs(v) do
    if type(x) == "table" then
      local d = M.depth(x, limit - 1)
      if d > deepest then
        deepest = d
        if deepest > limit then
          break
        end
      end
    end
  end
  return deepest + 1
end

return M
