-- Loaded by busted before the specs (see .busted). HUBSOFT_TEST_GC=aggressive
-- makes the collector run all the time so lifetime bugs surface.
if os.getenv("HUBSOFT_TEST_GC") == "aggressive" then
  collectgarbage("setpause", 0)
  collectgarbage("setstepmul", 1000)
end
