--- Small helpers shared by the specs and spec/support/server.lua: config
-- tables, files, shell commands and child processes, the running
-- interpreter and its build folder, ports, and /proc.
--
--   local util = require "spec.support.util"
--
-- Works under Lua 5.1 to 5.4 and LuaJIT (os.execute and io.popen answer
-- differently there; these helpers do not). Paths are relative to the
-- repository root, where busted runs.

local socket = require "socket"

local M = {}

-- The flavor of the running interpreter, as scripts/build.sh names it: "5.1" .. "5.4" or "luajit".
M.FLAVOR = rawget(_G, "jit") and "luajit" or _VERSION:match("%d+%.%d+")

-- The command of the running interpreter: "lua5.x" or "luajit".
M.LUA = M.FLAVOR == "luajit" and "luajit" or "lua" .. M.FLAVOR

---------------------------------------------------------------- tables

-- A new table with the keys of each table given, in turn (later ones win, nil ones are skipped).
function M.with(...)
  local c = {}
  for i = 1, select("#", ...) do
    for k, v in pairs((select(i, ...)) or {}) do c[k] = v end
  end
  return c
end

-- A shallow copy of a table.
M.copy = M.with

-- Config for a quick test client (tiny retry delays, short timeouts, an on_request hook
-- appending to `hooks`), the tables given merged over it. Returns cfg, hooks.
function M.quick_config(...)
  local hooks = {}
  local cfg = M.with({
    retry_delay = 0.01, retry_max_delay = 0.05, timeout = 2, connect_timeout = 1,
    on_request = function(info) hooks[#hooks + 1] = info end,
  }, ...)
  return cfg, hooks
end

-- A URL-encoded value decoded ("+" is a space).
function M.url_decode(s)
  s = s:gsub("%+", " ")
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- The fields of a query string ("a=1&b=x+y", or nil) as a table of decoded strings.
function M.parse_query(q)
  local t = {}
  for pair in (q or ""):gmatch("[^&]+") do
    local k, v = pair:match("^([^=]*)=?(.*)$")
    t[M.url_decode(k)] = M.url_decode(v)
  end
  return t
end

---------------------------------------------------------------- files

-- A file's contents, or nil when it cannot be read.
function M.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

-- Writes a file (replacing it), raising on failure.
function M.write_file(path, data)
  local f = assert(io.open(path, "wb"))
  assert(f:write(data))
  assert(f:close())
end

-- Whether a file can be opened.
function M.exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- A fresh temporary path; nothing is there yet.
function M.tmpname()
  local p = os.tmpname()
  os.remove(p)
  return p
end

-- A new empty temporary directory (mktemp -d); raises when none could be made.
function M.tmpdir()
  local dir = M.capture("mktemp -d")
  assert(dir:match("^/"), "mktemp -d failed: " .. dir)
  return dir
end

-- Removes a directory tree from tmpdir; a nil path or one outside /tmp/ is left alone.
function M.rm_tmpdir(dir)
  if dir and dir:match("^/tmp/") then M.sh("rm -rf " .. M.quote(dir)) end
end

---------------------------------------------------------------- commands

-- A value quoted for sh.
function M.quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- Runs a shell command; true when it exited with status 0.
function M.sh(cmd)
  local a, _, c = os.execute(cmd)
  if type(a) == "number" then return a == 0 end -- Lua 5.1 / LuaJIT without 5.2 compat
  return a == true and (c == nil or c == 0)
end

-- Whether a command is on the PATH.
function M.command_exists(name)
  return M.sh("command -v " .. M.quote(name) .. " >/dev/null 2>&1")
end

-- A shell command's output, stdout and stderr together, without trailing white space.
function M.capture(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("*a")
  p:close()
  return (out:gsub("%s+$", ""))
end

-- Runs a shell command; returns its exit status (from `echo $?`), stdout and stderr.
function M.run(cmd)
  local out, err = M.tmpname(), M.tmpname()
  local p = assert(io.popen("(" .. cmd .. ") >" .. M.quote(out) .. " 2>" .. M.quote(err) .. "; echo $?", "r"))
  local status = tonumber(p:read("*l"))
  p:close()
  local stdout, stderr = M.read_file(out) or "", M.read_file(err) or ""
  os.remove(out)
  os.remove(err)
  return status, stdout, stderr
end

-- Runs `LUA script args...` with the variables of `env` set; returns what run returns.
function M.run_lua(script, args, env)
  local parts = {}
  for k, v in pairs(env or {}) do parts[#parts + 1] = k .. "=" .. M.quote(v) end
  parts[#parts + 1] = M.LUA
  parts[#parts + 1] = M.quote(script)
  for _, a in ipairs(args or {}) do parts[#parts + 1] = M.quote(a) end
  return M.run(table.concat(parts, " "))
end

-- The folder scripts/build.sh builds a flavor (default: the running one) into: build (5.4), build-5.1...
function M.build_dir(flavor)
  flavor = flavor or M.FLAVOR
  return flavor == "5.4" and "build" or "build-" .. flavor
end

-- Why hubsoft/core.so for a flavor (default: the running one) cannot be had, or nil.
-- Always (re)builds it: an incremental build costs little, and a core left over from
-- older sources would pass or fail specs for the wrong reason.
function M.core_missing(flavor)
  flavor = flavor or M.FLAVOR
  local dir = M.build_dir(flavor)
  local core = dir .. "/hubsoft/core.so"
  M.sh("bash scripts/build.sh " .. flavor .. " " .. dir .. " >/dev/null 2>&1")
  if not M.exists(core) then return core .. " is missing and could not be built" end
end

---------------------------------------------------------------- ports

-- A TCP port on 127.0.0.1 that nothing listens on right now (a connect is refused).
function M.free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

-- Whether host (127.0.0.1) accepts a TCP connection on port within timeout (0.2) seconds.
function M.accepts(port, host, timeout)
  local c = socket.tcp()
  c:settimeout(timeout or 0.2)
  local ok = c:connect(host or "127.0.0.1", port)
  c:close()
  return ok ~= nil
end

-- Calls fn every `step` (0.05) seconds until it returns true or `seconds` pass; fn's last answer.
function M.wait_until(seconds, fn, step)
  local deadline = socket.gettime() + seconds
  repeat
    if fn() then return true end
    socket.sleep(step or 0.05)
  until socket.gettime() > deadline
  return fn()
end

---------------------------------------------------------------- /proc

-- This Lua process's pid (io.popen would show the child's /proc/self).
function M.pid()
  local f = assert(io.open("/proc/self/stat"))
  local line = f:read("*l")
  f:close()
  return line:match("^%d+")
end

-- This process's resident memory in KB (VmRSS).
function M.rss_kb()
  for line in io.lines("/proc/" .. M.pid() .. "/status") do
    local v = line:match("^VmRSS:%s*(%d+)")
    if v then return tonumber(v) end
  end
end

-- Whether a process runs (a zombie does not). Reads /proc: no procps tool, since
-- pgrep/ps hang when the suite runs with AddressSanitizer preloaded.
function M.alive(pid)
  local stat = M.read_file("/proc/" .. pid .. "/stat")
  if stat then return not stat:match("^%d+ %b() Z") end
  return M.sh("kill -0 " .. pid .. " 2>/dev/null")
end

return M
