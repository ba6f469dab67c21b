--- A strict RFC 4180 reader for the specs that check CSV output (the export
-- example, `hubsoft export --format csv`).
--
--   local rows = require("spec.support.csv").parse(text)  -- {{"a", "b"}, {"1", "2"}}

local M = {}

-- RFC 4180: fields separated by commas, records ended by CRLF, a quoted
-- field may hold commas, CR, LF and doubled quotes. Raises on anything else.
function M.parse(s)
  local rows, row, field = {}, {}, {}
  local i, n, quoted, was_quoted = 1, #s, false, false
  while i <= n do
    local c = s:sub(i, i)
    if quoted then
      if c == '"' then
        if s:sub(i + 1, i + 1) == '"' then
          field[#field + 1] = '"'
          i = i + 2
        else
          quoted = false
          i = i + 1
          local nxt = s:sub(i, i)
          assert(nxt == "," or nxt == "\r", "text after a closing quote at byte " .. i)
        end
      else
        field[#field + 1] = c
        i = i + 1
      end
    elseif c == '"' then
      assert(#field == 0 and not was_quoted, "quote inside an unquoted field at byte " .. i)
      quoted, was_quoted = true, true
      i = i + 1
    elseif c == "," then
      row[#row + 1] = table.concat(field)
      field, was_quoted = {}, false
      i = i + 1
    elseif c == "\r" and s:sub(i + 1, i + 1) == "\n" then
      row[#row + 1] = table.concat(field)
      rows[#rows + 1] = row
      row, field, was_quoted = {}, {}, false
      i = i + 2
    else
      assert(c ~= "\r" and c ~= "\n", "line break outside quotes at byte " .. i)
      field[#field + 1] = c
      i = i + 1
    end
  end
  assert(not quoted, "unterminated quoted field")
  assert(#row == 0 and #field == 0, "the last record does not end with CRLF")
  return rows
end

return M
