-- K5 (fuzz/lua/FINDINGS.md): config.access_token handed out by __index as a
-- string no one holds; hubsoft.new uses it after the collector freed it.
return { finding = "K5", case = {
  args = {  },
  cfg = {
    "tab",
    {
      { { "str", "base_url" }, { "str", "$URL" } },
      { { "str", "client_id" }, { "str", "$client_id" } },
      { { "str", "client_secret" }, { "str", "$client_secret" } },
      { { "str", "username" }, { "str", "$username" } },
      { { "str", "password" }, { "str", "$password" } }
    },
    meta = { __index = { "ifkey", "access_token", { "seq", { "gc" }, { "ret", { "fresh", "tok" } } } } }
  },
  entry = "method",
  gc = "aggressive",
  name = "consultar_atendimentos",
  seed = 123000744
} }
