-- F8 (fuzz/lua/FINDINGS.md): an on_request hook that refers to its own client
-- (here through the case's context, as a bot's hook does through an upvalue)
-- kept the client from the collector for the process's life when the client
-- was not closed: the hook was held by a registry reference.
return { finding = "F8", case = {
  args = {  },
  cfg = {
    "tab",
    {
      { { "str", "base_url" }, { "str", "$URL" } },
      { { "str", "client_id" }, { "str", "$client_id" } },
      { { "str", "client_secret" }, { "str", "$client_secret" } },
      { { "str", "username" }, { "str", "$username" } },
      { { "str", "password" }, { "str", "$password" } },
      { { "str", "on_request" }, { "hook", { "ret", { "nil" } } } }
    }
  },
  co = false,
  entry = "method",
  gc = "normal",
  name = "resetar_mac",
  seed = 2094529081
} }
