-- K3 (fuzz/lua/FINDINGS.md): api:request sends /api/v1/integracao/'/%2e%2e
-- as it is; a server that decodes it resolves a path outside the API.
return { finding = "K3", case = {
  args = { { "str", "DELETE" }, { "str", "/api/v1/integracao/'/%2e%2e" } },
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
  entry = "request",
  gc = "normal",
  seed = 42000440
} }
