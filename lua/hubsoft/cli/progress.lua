--- Export progress on stderr.
--
-- On a terminal: one line redrawn in place (`\r`, then erase to the end of
-- the line) with records and pages done out of the totals the first page
-- announced, the rate and the time left; erased at the end. Elsewhere (a
-- pipe, a file): nothing while it runs and one plain line at the end, so
-- logs hold no escape sequences.
-- @module hubsoft.cli.progress

local M = {}

local ERASE = "\27[K"
local BAR = 20

-- Wall-clock seconds: LuaSocket's when it is there (sub-second), else os.time.
local function clock()
  local ok, socket = pcall(require, "socket")
  if ok and type(socket) == "table" and socket.gettime then return socket.gettime end
  return os.time
end

--- True when file descriptor `fd` of this process is a terminal.
function M.isatty(fd)
  local a, _, c = os.execute("test -t " .. fd)
  if type(a) == "number" then return a == 0 end
  return a == true and (c == nil or c == 0)
end

local function duration(s)
  s = math.floor(s + 0.5)
  local floor = math.floor
  if s >= 3600 then return ("%d:%02d:%02d"):format(floor(s / 3600), floor(s % 3600 / 60), s % 60) end
  return ("%d:%02d"):format(floor(s / 60), s % 60)
end

--- A progress display.
-- @param stream where to write (io.stderr)
-- @tparam boolean tty whether to draw the live line
-- @param now optional clock (seconds)
-- @return `{page = function(records, pages, total_records, total_pages),
--   finish = function(records, pages, how)}`
function M.new(stream, tty, now)
  now = now or clock()
  local started = now()
  local last_draw = -1
  local drawn = false
  local p = {}

  local function rate(records)
    local dt = now() - started
    return dt > 0 and records / dt or nil, dt
  end

  function p.update(records, pages, total_records, total_pages, force)
    if not tty then return end
    local t = now()
    if not force and t - last_draw < 0.1 then return end
    last_draw = t
    local r = rate(records)
    local parts = {}
    if total_records and total_records > 0 then
      local done = math.min(records / total_records, 1)
      local n = math.floor(done * BAR + 0.5)
      parts[#parts + 1] = "[" .. ("#"):rep(n) .. ("."):rep(BAR - n) .. "]"
      parts[#parts + 1] = ("%d/%d records"):format(records, total_records)
    else
      parts[#parts + 1] = ("%d records"):format(records)
    end
    if total_pages then
      parts[#parts + 1] = ("%d/%d pages"):format(pages, total_pages)
    else
      parts[#parts + 1] = ("%d pages"):format(pages)
    end
    if r then
      parts[#parts + 1] = ("%.0f rec/s"):format(r)
      if total_records and r > 0 and records < total_records then
        parts[#parts + 1] = "ETA " .. duration((total_records - records) / r)
      end
    end
    stream:write("\r", table.concat(parts, "  "), ERASE)
    stream:flush()
    drawn = true
  end

  --- Erase the live line and write the summary.
  -- @param how "done", "interrupted" or "failed"
  function p.finish(records, pages, how)
    if drawn then stream:write("\r", ERASE) end
    local r, dt = rate(records)
    local line = ("hubsoft: %s %d record%s from %d page%s in %.1f s"):format(
      how == "done" and "exported" or how == "interrupted" and "interrupted after" or "failed after",
      records, records == 1 and "" or "s", pages, pages == 1 and "" or "s", dt)
    if r and records > 0 then line = line .. (" (%.0f records/s)"):format(r) end
    stream:write(line, "\n")
    stream:flush()
  end

  return p
end

return M
