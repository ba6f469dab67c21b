--- `hubsoft export`: every record of a paginated method, page after page
-- through `api:pages` (with pages in flight), written as each page arrives,
-- so memory holds a few pages whatever the total.
-- @module hubsoft.cli.export

local paginate = require "hubsoft.paginate"
local rows = require "hubsoft.cli.rows"

local M = {}

--- The records of one response page and the totals its metadata announces,
-- read as the iterators read it (`hubsoft.paginate`); `key` is where the
-- method's endpoint row says its records are (`paging.records`).
-- @return records (or nil), total records (or nil), total pages (or nil)
function M.page_parts(resp, null, key)
  local records, _, _, last, first, total = paginate.read_page(resp, null, key)
  if type(records) ~= "table" then return nil end
  return records, total, last and (last - first + 1)
end

-- The record count of a list whose JSON nulls (dropped to nil) may leave holes.
local function extent(list)
  local n = 0
  for k in pairs(list) do
    if type(k) == "number" and k > n then n = k end
  end
  return n
end

--- True when `err` comes from Ctrl-C: the stand-alone interpreter raises
-- "interrupted!" from a debug hook at the next Lua step after SIGINT (the C
-- core lets it through, also when it lands inside a hook, a token_store or the
-- JSON decoder).
function M.interrupted(err)
  local msg = err
  if type(err) == "table" or type(err) == "userdata" then
    local ok, m = pcall(function() return err.message end)
    msg = ok and m or nil
  end
  return type(msg) == "string" and msg:find("interrupted!", 1, true) ~= nil
end

--- Walk and write.
-- @param api the client
-- @param core the C core
-- @param metodo the method
-- @param filtros its parameters
-- @param concurrency pages in flight
-- @param writer from hubsoft.cli.writers
-- @param progress from hubsoft.cli.progress
-- @return "done", or "interrupted", or "failed" and the error table (or
--   `{write_error = reason}` when the output could not be written)
function M.run(api, core, metodo, filtros, concurrency, writer, progress)
  local records, pages, total_records, total_pages = 0, 0, nil, nil
  local key = rows.find(metodo).paging.records
  local ok, err = pcall(function()
    for _, resp in api:pages(metodo, filtros, { concurrency = concurrency }) do
      local list, tr, tp = M.page_parts(resp, core.null, key)
      if list == nil then
        error(core.error {
          kind = "decode", message = metodo .. ": a page holds no list of records",
          retryable = false, attempts = 1,
        }, 0)
      end
      if pages == 0 then total_records, total_pages = tr, tp end
      for i = 1, extent(list) do
        local record = list[i]
        if record ~= nil and record ~= core.null then -- a JSON null item is no record
          writer.write(record)
          records = records + 1
        end
      end
      pages = pages + 1
      progress.update(records, pages, total_records, total_pages, false)
    end
  end)
  local closed, cerr = pcall(writer.close)
  if ok and not closed then ok, err = false, cerr end
  if ok then
    progress.finish(records, pages, "done")
    return "done"
  end
  if M.interrupted(err) then
    progress.finish(records, pages, "interrupted")
    return "interrupted"
  end
  progress.finish(records, pages, "failed")
  if core.is_error(err) or (type(err) == "table" and err.write_error) then return "failed", err end
  error(err, 0)
end

return M
