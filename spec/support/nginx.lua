--- Start and stop a real nginx (Debian nginx-light + libnginx-mod-http-lua) for a spec.
--
--   local nginx = require "spec.support.nginx"
--   local why = nginx.why_skip(template_text)     -- nil, or why it cannot run here
--   local n = nginx.start(template_text, {WORKERS = 1}, env)   -- n.port, n.prefix
--   n:log(); n:stop()
--
-- The template's {{PREFIX}}, {{ROOT}} and {{PORT}} are filled in here, other
-- {{NAME}} fields from `fields`. nginx runs as a daemon in a private prefix
-- with a watchdog that stops it if the spec process dies without teardown.

local util = require "spec.support.util"

local M = {}

local sh, capture, quote, read_file, exists = util.sh, util.capture, util.quote, util.read_file, util.exists

M.ROOT = capture("pwd")

--- The nginx binary, or nil.
function M.find()
  for _, p in ipairs { capture("command -v nginx"), "/usr/sbin/nginx", "/usr/local/openresty/nginx/sbin/nginx" } do
    if p ~= "" and exists(p) then return p end
  end
end

--- Why a spec with this template cannot run here (no nginx, no lua module, no
-- LuaJIT build of the core), or nil. Builds build-luajit when it is missing.
function M.why_skip(template)
  if not M.find() then return "nginx is not installed" end
  for mod in template:gmatch("\nload_module%s+([^;%s]+);") do
    if not exists(mod) then return mod .. " is not installed (libnginx-mod-http-lua)" end
  end
  return util.core_missing("luajit")
end

local Nginx = {}
Nginx.__index = Nginx

function Nginx:log()
  return (read_file(self.prefix .. "/error.log") or "") .. (read_file(self.prefix .. "/startup.log") or "")
end

-- pids of the workers the master started
function Nginx:worker_pids()
  local pids = {}
  for pid in self:log():gmatch("start worker process (%d+)") do pids[#pids + 1] = tonumber(pid) end
  return pids
end

function Nginx:stop()
  if self.master then
    sh("kill -QUIT " .. self.master .. " 2>/dev/null")
    if not util.wait_until(5, function() return not util.alive(self.master) end) then
      for _, pid in ipairs(self:worker_pids()) do sh("kill -KILL " .. pid .. " 2>/dev/null") end
      sh("kill -KILL " .. self.master .. " 2>/dev/null")
    end
    self.master = nil
  end
  if self.watchdog then
    sh("kill " .. self.watchdog .. " 2>/dev/null")
    self.watchdog = nil
  end
  util.rm_tmpdir(self.prefix)
end

--- Fill the template and start nginx; waits until it accepts connections.
-- @param template the nginx.conf text
-- @param fields `{NAME = value}` for the other {{NAME}} fields
-- @param env `{NAME = value}` put in nginx's environment (pass them on with `env NAME;`)
function M.start(template, fields, env)
  local self = setmetatable({}, Nginx)
  self.prefix = util.tmpdir()
  assert(sh("chmod 755 " .. quote(self.prefix))) -- workers of a root master run as nobody
  self.port = util.free_port()
  local all = util.with(fields, { PREFIX = self.prefix, ROOT = M.ROOT, PORT = self.port })
  local conf = template:gsub("{{(%u+)}}", function(name)
    return all[name] ~= nil and tostring(all[name]) or nil
  end)
  assert(not conf:match("{{%u+}}"), "unfilled template field " .. tostring(conf:match("{{%u+}}")))
  util.write_file(self.prefix .. "/nginx.conf", conf)
  local vars = {}
  for k, v in pairs(env or {}) do vars[#vars + 1] = k .. "=" .. quote(v) end
  local log = quote(self.prefix .. "/startup.log")
  local ok = sh(("env %s %s -p %s -c %s -e %s >%s 2>&1"):format(table.concat(vars, " "), quote(M.find()),
    quote(self.prefix), quote(self.prefix .. "/nginx.conf"), log, log))
  assert(ok, "nginx did not start:\n" .. self:log())
  assert(util.wait_until(5, function()
    self.master = tonumber(read_file(self.prefix .. "/nginx.pid") or "")
    return self.master ~= nil
  end), "nginx wrote no pid file:\n" .. self:log())
  local guard = [[sh -c 'trap "kill \$s 2>/dev/null; exit 0" TERM; sleep 300 & s=$!; wait $s; kill -QUIT %d']]
  self.watchdog = tonumber(capture(guard:format(self.master) .. " >/dev/null 2>&1 </dev/null & echo $!"))
  assert(util.wait_until(5, function() return util.accepts(self.port) end),
    "nginx does not accept connections:\n" .. self:log())
  util.wait_until(3, function() return #self:worker_pids() >= (tonumber(all.WORKERS) or 1) end)
  return self
end

return M
