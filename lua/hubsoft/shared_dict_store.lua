--- A token_store over an nginx shared dict, with one login for every worker and thread.
--
-- The C core already spares logins through any token_store: it loads the
-- store before logging in, and after a 401 takes a newer token from it
-- before logging in again. This store adds what a store shared by many
-- threads at once needs: when the dict has nothing this client can use, one
-- caller takes a lock in the dict and logs in, and the others wait (the
-- thread pool's threads may block) until the token it saves appears.
--
-- "Nothing this client can use" is no token, one that expires within a
-- minute, or the very token this client holds: the core only asks again for
-- that one after the server refused it (401). So a 401 seen by many threads
-- at once is also repaired by one login.
--
-- Used inside the thread pool VMs by `hubsoft.nginx_thread`; `load` and
-- `save` never yield.
-- @module hubsoft.shared_dict_store

local M = {}

-- A token this close to its expiry is not handed out: the core's own margin.
local MARGIN = require("hubsoft.core").TOKEN_MARGIN
-- How often a waiting thread looks at the dict again, seconds.
local POLL = 0.01

local sleep
do
  local ok, ffi = pcall(require, "ffi")
  if ok then
    pcall(ffi.cdef, "int usleep(unsigned int usec);")
    sleep = function(s)
      ffi.C.usleep(s * 1e6)
    end
  else
    sleep = function() end -- outside LuaJIT: poll without pausing
  end
end

--- Create the store.
-- @param dict the `ngx.shared.DICT`
-- @tparam table opts `{key = string (the dict key of this account's token),
--   lock_seconds = number (how long a login may hold the lock), encode = function,
--   decode = function}`
-- @treturn table `{load = function, save = function, release = function}`;
--   `release()` gives up the lock if this store holds it (call it after every call)
function M.new(dict, opts)
  local key, lock_key = opts.key, opts.key .. ":login"
  local lock_seconds = opts.lock_seconds
  local encode, decode = opts.encode, opts.decode
  local held -- the access_token this client got from us or gave us
  local locked = false

  local function read()
    local s = dict:get(key)
    if type(s) ~= "string" then
      return nil
    end
    local token = decode(s)
    if type(token) ~= "table" or type(token.access_token) ~= "string" or token.access_token == "" then
      return nil
    end
    local expires_at = tonumber(token.expires_at)
    if expires_at and expires_at <= os.time() + MARGIN then
      return nil
    end
    return token
  end

  local store = {}

  function store.release()
    if locked then
      locked = false
      dict:delete(lock_key)
    end
  end

  function store.load()
    local deadline
    while true do
      local token = read()
      if token and token.access_token ~= held then
        held = token.access_token
        return token
      end
      if locked then
        return nil -- we are the one logging in
      end
      if dict:add(lock_key, true, lock_seconds) then
        locked = true
        -- someone may have saved between our read and the lock
        token = read()
        if token and token.access_token ~= held then
          store.release()
          held = token.access_token
          return token
        end
        return nil
      end
      deadline = deadline or os.time() + lock_seconds + 1
      if os.time() > deadline then
        return nil -- the other login takes too long: ours goes ahead
      end
      sleep(POLL)
    end
  end

  function store.save(token)
    local s = encode(token)
    if not s then
      store.release()
      return nil, "cannot encode the token"
    end
    local expires_at = tonumber(token.expires_at)
    local ttl = expires_at and math.max(expires_at - os.time(), 1) or 0
    local ok, err = dict:set(key, s, ttl)
    held = token.access_token
    store.release()
    if not ok then
      return nil, err
    end
    return true
  end

  return store
end

return M
