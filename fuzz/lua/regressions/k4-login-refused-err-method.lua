-- K4 (fuzz/lua/FINDINGS.md): api:configuracao with the login answered 401:
-- err.method is "POST" (the login's), not the call's "GET".
return { finding = "K4", case = {
  args = { { "str", "d" } },
  cfg = {
    "tab",
    {
      { { "str", "base_url" }, { "str", "$URL" } },
      { { "str", "client_id" }, { "str", "$client_id" } },
      { { "str", "client_secret" }, { "str", "$client_secret" } },
      { { "str", "username" }, { "str", "$username" } },
      { { "str", "password" }, { "str", "$password" } }
    }
  },
  entry = "method",
  fault = { kind = "status", match = "/oauth/token", status = 401, times = 1 },
  gc = "normal",
  name = "configuracao",
  seed = 41000313
} }
