--- The command's configuration: `--config FILE` (JSON with hubsoft.new's
-- keys, plus `token_file`), then the HUBSOFT_* variables for the keys the
-- file leaves out, and the token file that lets repeated commands log in once.
-- @module hubsoft.cli.config

local M = {}

--- Environment variable of each hubsoft.new key.
M.ENV = {
  { "base_url", "HUBSOFT_BASE_URL" },
  { "client_id", "HUBSOFT_CLIENT_ID" },
  { "client_secret", "HUBSOFT_CLIENT_SECRET" },
  { "username", "HUBSOFT_USERNAME" },
  { "password", "HUBSOFT_PASSWORD" },
}

--- Keys whose values are never shown, even with --verbose.
M.SECRET = { client_secret = true, password = true, access_token = true }

local function sh(cmd)
  local a, _, c = os.execute(cmd)
  if type(a) == "number" then return a == 0 end
  return a == true and (c == nil or c == 0)
end

local function quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- A short stable name for a string (not a secret: it only keeps the token
-- files of different servers and users apart).
local function tag(s)
  local h1, h2 = 5381, 52711
  for i = 1, #s do
    local b = s:byte(i)
    h1 = (h1 * 33 + b) % 2147483647
    h2 = (h2 * 31 + b) % 2147483629
  end
  return ("%08x%08x"):format(h1, h2)
end

--- The default token file: one per server, client and user, under
-- `$XDG_CACHE_HOME/hubsoft` (else `~/.cache/hubsoft`), in a folder only the
-- user may enter. Returns nil when neither variable is set.
-- @param cfg the configuration (base_url, client_id, username)
-- @param getenv os.getenv or a stand-in
function M.default_token_file(cfg, getenv)
  local base = getenv("XDG_CACHE_HOME")
  if base == nil or base == "" then
    local home = getenv("HOME")
    if home == nil or home == "" then return nil end
    base = home .. "/.cache"
  end
  local dir = base .. "/hubsoft"
  sh("mkdir -p " .. quote(dir) .. " 2>/dev/null && chmod 700 " .. quote(dir) .. " 2>/dev/null")
  local id = table.concat({ tostring(cfg.base_url), tostring(cfg.client_id), tostring(cfg.username) }, "\n")
  return dir .. "/token-" .. tag(id) .. ".json"
end

--- Gather the configuration.
-- @param core the C core (JSON decoding)
-- @tparam[opt] string path the --config file
-- @param getenv os.getenv or a stand-in
-- @return config for hubsoft.new (without token_store) and the token file
--   path (or false for none); or nil and a usage message
function M.load(core, path, getenv)
  local cfg = {}
  if path then
    local f, err = io.open(path, "rb")
    if not f then return nil, "--config: cannot read " .. tostring(err) end
    local text = f:read("*a")
    f:close()
    local ok, t = pcall(core.decode, text or "")
    if not ok or type(t) ~= "table" then
      return nil, "--config " .. path .. ": not a JSON object"
    end
    for k, v in pairs(t) do cfg[k] = v end
  end
  for _, kv in ipairs(M.ENV) do
    local v = getenv(kv[2])
    if cfg[kv[1]] == nil and v ~= nil and v ~= "" then cfg[kv[1]] = v end
  end
  if cfg.base_url == nil then
    return nil, "no server configured: set HUBSOFT_BASE_URL (and HUBSOFT_CLIENT_ID, HUBSOFT_CLIENT_SECRET, "
      .. "HUBSOFT_USERNAME, HUBSOFT_PASSWORD) or give --config FILE"
  end
  local token_file = cfg.token_file
  cfg.token_file = nil
  if token_file == nil then
    token_file = getenv("HUBSOFT_TOKEN_FILE")
    if token_file == nil then
      token_file = M.default_token_file(cfg, getenv) or false
    elseif token_file == "" then
      token_file = false -- set and empty: no token file
    end
  end
  if token_file ~= false and type(token_file) ~= "string" then
    return nil, "--config: token_file must be a string"
  end
  return cfg, token_file
end

-- A URL-like value with what may be a secret inside it hidden: the user
-- and password before an @ (a proxy's "http://user:pass@host:3128", or a
-- base_url hubsoft.new is about to refuse) and the query's values.
local function redact(v)
  v = v:gsub("^([%a][%w+.-]*://)[^/?#]*@", "%1(credentials)@")
  return (v:gsub("([?&][^=&#]*=)[^&#]*", "%1***"))
end

--- The configuration as one line for --verbose, secrets replaced by "(set)",
-- credentials and query values inside URLs by "(credentials)" and "***".
function M.describe(cfg, token_file)
  local keys = {}
  for k in pairs(cfg) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do
    local v = cfg[k]
    if M.SECRET[k] then v = "(set)" elseif type(v) ~= "string" then v = tostring(v) else v = redact(v) end
    parts[#parts + 1] = k .. "=" .. v
  end
  parts[#parts + 1] = "token_file=" .. (token_file or "(none)")
  return table.concat(parts, " ")
end

return M
