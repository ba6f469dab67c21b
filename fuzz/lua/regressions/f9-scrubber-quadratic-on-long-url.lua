-- F9 (fuzz/lua/FINDINGS.md): the secret scrubber was quadratic. An access
-- token of "%2e" x 256 and a 3 MB query key of "%2e" x 1048576: the 5 MB URL
-- holds the token's URL-encoded form 4,096 times, and after each match the
-- scrubber searched the whole rest of the URL again for the raw form, which
-- is not in it. Scrubbing the URL for the on_request record took 119 s.
return { finding = "F9", case = {
  args = {
    { "str", "GET" },
    { "str", "/api/v1/integracao/configuracao/status_atendimento" },
    {
      "tab",
      {
        {
          { "str", "query" },
          { "tab", { { { "rep", "%2e", 1048576 }, { "str", "x" } } } }
        }
      }
    }
  },
  cfg = {
    "tab",
    {
      { { "str", "base_url" }, { "str", "$URL" } },
      { { "str", "client_id" }, { "str", "$client_id" } },
      { { "str", "client_secret" }, { "str", "$client_secret" } },
      { { "str", "username" }, { "str", "$username" } },
      { { "str", "password" }, { "str", "$password" } },
      { { "str", "timeout" }, { "int", "2" } },
      { { "str", "on_request" }, { "hook", { "ret", { "nil" } } } },
      { { "str", "access_token" }, { "rep", "%2e", 256 } }
    }
  },
  co = false,
  entry = "request",
  gc = "normal",
  seed = 1832092005
} }
