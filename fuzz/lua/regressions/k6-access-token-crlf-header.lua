-- K6 (fuzz/lua/FINDINGS.md): config.access_token with CR/LF is put into the
-- Authorization header as is: the server receives an extra X-Injected header.
return { finding = "K6", case = {
  args = {  },
  cfg = {
    "tab",
    {
      { { "str", "base_url" }, { "str", "$URL" } },
      { { "str", "client_id" }, { "str", "$client_id" } },
      { { "str", "client_secret" }, { "str", "$client_secret" } },
      { { "str", "username" }, { "str", "$username" } },
      { { "str", "password" }, { "str", "$password" } },
      { { "str", "access_token" }, { "str", "\r\nX-Injected: 1.." } }
    }
  },
  entry = "method",
  gc = "normal",
  name = "todos_atendimentos",
  seed = 123001645
} }
