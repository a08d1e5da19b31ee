-- wrk script of scripts/bench.sh: POSTs the JSON body in the file named by
-- VOUCH_BENCH_BODY on every request. With VOUCH_BENCH_DELAY_MS set, each
-- connection waits that long before each request, which caps the rate at
-- about connections * 1000 / (delay + latency) requests per second. At the
-- end it prints one JSON line prefixed "vouch-bench " with the counts and
-- the latency percentiles in microseconds.
local body_file = assert(os.getenv("VOUCH_BENCH_BODY"), "set VOUCH_BENCH_BODY")
local file = assert(io.open(body_file, "rb"))
local body = file:read("*a")
file:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"

local delay_ms = tonumber(os.getenv("VOUCH_BENCH_DELAY_MS") or "0")
if delay_ms > 0 then
  function delay()
    return delay_ms
  end
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'vouch-bench {"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean))
end
