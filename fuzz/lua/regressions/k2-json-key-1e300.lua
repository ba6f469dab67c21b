-- K2 (fuzz/lua/FINDINGS.md): a JSON body with the float key 1e300 overflows
-- the 64-byte key buffer of encode_table (json.c).
return { finding = "K2", case = {
  args = {
    { "str", "GET" },
    { "str", "/" },
    { "tab", { { { "str", "json" }, { "tab", { { { "num", "1e300" }, { "int", "1" } } } } } } }
  },
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
  entry = "prefetch",
  gc = "normal",
  seed = 12000614,
  width = { "int", "9" }
} }
