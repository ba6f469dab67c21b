--- A token store that keeps the token in a file.
--
-- The token table `{access_token, token_type, expires_in, expires_at,
-- refresh_token}` is written as JSON through the C core's atomic write
-- (temporary file, fsync, rename, mode 0600), so a reader never sees half a
-- file and other users cannot read the token.
-- @module hubsoft.token_store

local M = {}

--- Create a token store backed by the file `path`.
-- `load()` returns the token, or nil when the file is missing, unreadable or
-- corrupt, or the token expires within a minute. `save(token)` never raises:
-- it returns true, or nil and a message.
-- @param core the C core module (for `encode`, `decode`, `write_file_atomic`)
-- @tparam string path the file
-- @treturn table `{load = function, save = function}`
function M.new(core, path)
  assert(type(path) == "string" and path ~= "", "path must be a non-empty string")
  -- A token this close to its expiry is not handed out: a request made with
  -- it could be refused on the way. The client applies the same margin.
  local MARGIN = core.TOKEN_MARGIN
  local store = {}

  function store.load()
    local f = io.open(path, "rb")
    if not f then
      return nil
    end
    local data = f:read("*a")
    f:close()
    if type(data) ~= "string" or data == "" then
      return nil
    end
    local ok, token = pcall(core.decode, data)
    if not ok or type(token) ~= "table" then
      return nil
    end
    if type(token.access_token) ~= "string" or token.access_token == "" then
      return nil
    end
    local expires_at = tonumber(token.expires_at)
    if not expires_at or expires_at <= os.time() + MARGIN then
      return nil
    end
    return token
  end

  function store.save(token)
    if type(token) ~= "table" then
      return nil, "token must be a table"
    end
    local ok, data = pcall(core.encode, token)
    if not ok or type(data) ~= "string" then
      return nil, "cannot encode the token: " .. tostring(data)
    end
    local called, done, msg = pcall(core.write_file_atomic, path, data)
    if not called then
      return nil, tostring(done)
    end
    if not done then
      return nil, msg or ("cannot write " .. path)
    end
    return true
  end

  return store
end

return M
