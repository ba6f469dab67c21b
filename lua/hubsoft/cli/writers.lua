--- Export writers: one record at a time, nothing kept but the CSV header.
--
-- `jsonl`: one JSON object per line. `csv`: RFC 4180 (CRLF, quotes doubled),
-- a header row, nested fields flattened with dots (`status.descricao`), a
-- list in one cell as JSON text, null as an empty cell. A text cell that a
-- spreadsheet would run as a formula (it starts with `=`, `+`, `-`, `@`, a tab
-- or CR: a customer's message such as `=HYPERLINK(...)`) gets a leading `'`,
-- as OWASP advises; numbers are written as they are. Without `columns`
-- the header is the first record's fields, sorted; a field that only later
-- records have is left out (choose it with --columns). With no record and no
-- `columns` nothing is written, not even a header.
-- @module hubsoft.cli.writers

local text = require("hubsoft.validate").text

local M = {}

-- Write or raise `{write_error = reason}`: a full disk or a closed pipe must
-- stop the export, not pass for success.
local function put(out, ...)
  local ok, err = out:write(...)
  if not ok then error({ write_error = tostring(err) }, 0) end
end

local function flush(out)
  local ok, err = out:flush()
  if not ok then error({ write_error = tostring(err) }, 0) end
end

local function is_list(t)
  return t[1] ~= nil
end

-- The dotted names of every leaf of a record, sorted.
local function leaf_names(record, null)
  local names = {}
  local function walk(t, prefix)
    for k, v in pairs(t) do
      local name = prefix .. tostring(k)
      if type(v) == "table" and v ~= null and next(v) ~= nil and not is_list(v) then
        walk(v, name .. ".")
      else
        names[#names + 1] = name
      end
    end
  end
  walk(record, "")
  table.sort(names)
  return names
end

-- The value at a dotted name: the field itself when it exists (a key may hold
-- a dot), else a walk down the nested objects.
local function lookup(record, name)
  local v = record[name]
  if v ~= nil then return v end
  v = record
  for piece in name:gmatch("[^.]+") do
    if type(v) ~= "table" then return nil end
    v = v[piece]
  end
  return v
end

local function cell(core, v)
  if v == nil or v == core.null then return "" end
  local t = type(v)
  local s
  if t == "table" then
    s = next(v) == nil and "" or core.encode(v)
  elseif t == "number" then
    s = text(v)
  else
    s = tostring(v)
    if s:find("^[=+%-@\t\r]") then s = "'" .. s end -- a text, never a formula
  end
  if s:find('[,"\r\n]') then
    s = '"' .. s:gsub('"', '""') .. '"'
  end
  return s
end

--- A JSON-lines writer.
-- @param core the C core (JSON encoding)
-- @param out a file handle
-- @return `{write = function(record), close = function()}`; both raise
--   `{write_error = reason}` when the output cannot be written
function M.jsonl(core, out)
  return {
    write = function(record)
      put(out, core.encode(record), "\n")
    end,
    close = function() flush(out) end,
  }
end

--- A CSV writer.
-- @param core the C core
-- @param out a file handle
-- @param columns array of dotted names, or nil for the first record's fields
-- @return `{write = function(record), close = function()}`
function M.csv(core, out, columns)
  local function header(cols)
    local cells = {}
    for i, c in ipairs(cols) do cells[i] = cell(core, c) end
    put(out, table.concat(cells, ","), "\r\n")
  end
  if columns then header(columns) end
  local w = {}
  function w.write(record)
    if not columns then
      columns = leaf_names(record, core.null)
      header(columns)
    end
    local cells = {}
    for i, name in ipairs(columns) do cells[i] = cell(core, lookup(record, name)) end
    put(out, table.concat(cells, ","), "\r\n")
  end
  function w.close()
    flush(out)
  end
  return w
end

return M
