-- Ping a different one of N slug URLs on every request: /ping/<key>/check-<i>.
-- The prefix comes from the environment, set by bench/run.py.
local prefix = os.getenv("PINGD_BENCH_PREFIX") or "/ping/key/"
local count = tonumber(os.getenv("PINGD_BENCH_CHECKS") or "1000")
local i = 0
request = function()
  i = (i % count) + 1
  return wrk.format("GET", prefix .. "check-" .. i)
end
