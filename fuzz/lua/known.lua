--- Known findings the fuzzer skips by default (see fuzz/lua/FINDINGS.md).
--
-- Each entry: `id`, `title`, `active` (true while the defect is unfixed; the
-- fuzzer then skips every case `skip(case)` matches, and does not replay the
-- regression of that finding), `skip(case)`. When the fix is merged, set
-- `active = false` (or delete the entry): the regression in
-- fuzz/lua/regressions/ is then replayed and must hold, and the fuzzer goes
-- back to generating the cases the entry hid.

-- Whether any node or action under `n` satisfies `pred`.
local function any(n, pred, seen)
  if type(n) ~= "table" then return false end
  seen = seen or {}
  if seen[n] then return false end
  seen[n] = true
  if pred(n) then return true end
  for _, x in pairs(n) do
    if any(x, pred, seen) then return true end
  end
  return false
end

local function acts(tag)
  return function(n) return n[1] == tag end
end

-- A table key that is a float too big to print in a small buffer.
local function huge_key(n)
  if n[1] ~= "tab" then return false end
  for _, kv in ipairs(n[2]) do
    local k = kv[1]
    if k[1] == "num" then
      local v = tonumber(k[2])
      if v and v == v and math.abs(v) ~= math.huge and math.abs(v) >= 1e60 then return true end
    end
  end
  return false
end

local function str_at(n) return n and n[1] == "str" and n[2] or nil end

return {
  {
    id = "K1",
    title = "client closed (or re-entered) by a metamethod or __gc of request/prefetch arguments mid-call: "
      .. "NULL deref in hs_build_url",
    active = false,
    skip = function(case)
      if case.entry ~= "request" and case.entry ~= "prefetch" then return false end
      return any(case.args, acts("close")) or any(case.args, acts("reenter"))
    end,
  },
  {
    id = "K2",
    title = "a float table key of 1e300 overflows the key buffer of the JSON encoder (json.c encode_table)",
    active = false,
    skip = function(case)
      return any(case.args, huge_key) or any(case.cfg, huge_key)
    end,
  },
  {
    id = "F3",
    title = "api:_prefetch accepts any POST (a write too) and resends it after the connection dropped",
    violation = "^a write was sent",
    active = false,
    skip = function(case)
      return case.entry == "prefetch" and case.fault ~= nil
        and (str_at(case.args[1]) or ""):upper() == "POST"
    end,
  },
  {
    id = "K3",
    title = "api:request sends a path with percent-encoded dot segments (%2e%2e) instead of refusing it",
    active = false,
    violation = "^a dot segment reached the server",
  },
  {
    id = "K4",
    title = "when the login is refused (401/403 on /oauth/token), err.method and err.url name the login, not the call",
    active = false,
    violation = "^wrong err%.method ",
  },
  {
    id = "K5",
    title = "config values handed out by __index (access_token) are used after the collector freed them "
      .. "(hubsoft.new, config.c)",
    active = false,
    skip = function(case)
      return case.cfg ~= nil and case.cfg.meta ~= nil and case.cfg.meta.__index ~= nil
    end,
  },
  {
    id = "K6",
    title = "CR/LF in access_token (or a stored token's token_type) goes into the Authorization header: "
      .. "header injection",
    active = false,
    violation = "^an injected header reached the server",
  },
  {
    id = "F7",
    title = "a __gc finalizer (here of a value token_store.save returned) closes the client mid-request: "
      .. "libcurl SEGV in curl_easy_reset",
    active = false,
    skip = function(case)
      return any(case, function(n)
        if n[1] == "proxy" then return any(n, acts("close")) end
        return n[1] == "tab" and n.meta ~= nil and n.meta.__gc ~= nil and any(n.meta.__gc, acts("close"))
      end)
    end,
  },
  {
    id = "F8",
    title = "an on_request or token_store that refers to its own client keeps an unclosed client "
      .. "from the collector (a registry reference)",
    active = false,
    skip = function(case)
      return any(case.cfg, function(n) return n[1] == "hook" or n[1] == "store" end)
    end,
  },
  {
    id = "F9",
    title = "the secret scrubber was quadratic: a long URL holding a secret's URL-encoded form "
      .. "many times took minutes to scrub",
    active = false,
    violation = "a case ran over",
  },
  {
    id = "F10",
    title = "a config string with a NUL byte was cut at it (client_secret \"a\\0b\" logged in as \"a\")",
    active = false,
    violation = "^wrong err%.method ",
  },
}
