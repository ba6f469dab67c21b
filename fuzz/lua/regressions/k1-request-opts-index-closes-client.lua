-- K1 (fuzz/lua/FINDINGS.md): opts.__index closes the client while api:request
-- reads opts; hs_build_url then reads the freed base_url (NULL).
return { finding = "K1", case = {
  args = { { "str", "get" }, { "str", "/" }, { "tab", {  }, meta = { __index = { "close" } } } },
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
  seed = 17000269
} }
