-- wrk script for benchmarks/load.py: every POST carries its own submission_key,
-- so each request is a new answer (not an idempotent repeat of the first one).
--
--   wrk ... -s benchmarks/load.lua URL -- MODE FILE NONCE RATE
--
-- MODE  get    plain GETs of URL (answer page, bare endpoint)
--       form   the answer form: FILE has one "cookie<TAB>csrf_token" per line, fetched
--              beforehand from real page loads; requests cycle through them
--       insert the minimal insert endpoint of benchmarks/bare_app.py (FILE unused)
--       widget the widget API: FILE's first line is the partner Origin, then one JSON body
--              per line with the text SUBMISSION_KEY where each request's key goes; each
--              request comes from its own client address (X-Forwarded-For, which the
--              server trusts from one proxy), as a busy day's many customers do
-- NONCE 8 hex digits that make this run's keys differ from every other run's
-- RATE  requests per second for each wrk thread to pace at (0: as fast as the server answers)
--
-- At the end it prints one line "WRK_JSON {...}" with counts and latency
-- percentiles in microseconds, which load.py parses.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } rapport_timespec;
  int clock_gettime(int clock_id, rapport_timespec *tp);
]]
local CLOCK_MONOTONIC = 1

local function now_ms()
  local ts = ffi.new("rapport_timespec")
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("thread_id", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

local mode, nonce, rate_ms, next_at
local items = {}
local origin
counter = 0
acked = 0
statuses = {}

function init(args)
  mode = args[1] or "get"
  nonce = args[3] or "00000000"
  local rate = tonumber(args[4] or "0")
  if rate > 0 then
    -- Open-loop pacing: request n is due at start + n / rate, however slow earlier ones were.
    rate_ms = 1000 / rate
  end
  if mode == "form" or mode == "widget" then
    for line in io.lines(args[2]) do
      if line ~= "" then
        table.insert(items, line)
      end
    end
    if mode == "widget" then
      origin = table.remove(items, 1)
    end
  end
end

function delay()
  if not rate_ms then
    return 0
  end
  local now = now_ms()
  if not next_at then
    next_at = now
  end
  next_at = next_at + rate_ms
  local wait = next_at - now
  if wait < 0 then
    return 0
  end
  return wait
end

local function submission_key()
  counter = counter + 1
  return string.format("%s%08x%016x", nonce, thread_id, counter)
end

function request()
  if mode == "get" then
    return wrk.format("GET", wrk.path)
  end
  local key = submission_key()
  if mode == "insert" then
    return wrk.format("POST", wrk.path, {["Content-Type"] = "application/x-www-form-urlencoded"},
        "submission_key=" .. key .. "&score=" .. (counter % 11))
  end
  local item = items[(counter % #items) + 1]
  if mode == "form" then
    local cookie, csrf = item:match("^([^\t]+)\t(.+)$")
    local score = counter % 11
    local body = "csrf_token=" .. csrf .. "&submission_key=" .. key .. "&score=" .. score
        .. "&comment=Quick+and+friendly%2C+answer+" .. counter .. "&meta_json=&ref="
    return wrk.format("POST", wrk.path, {
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["Cookie"] = "session=" .. cookie,
    }, body)
  end
  local body = item:gsub("SUBMISSION_KEY", key)
  -- 198.18.0.0/15 is the address range set aside for benchmarks (RFC 2544).
  local n = thread_id * 100003 + counter
  local client = string.format("198.%d.%d.%d", 18 + math.floor(n / 65025) % 2, math.floor(n / 255) % 255,
      n % 255 + 1)
  return wrk.format("POST", wrk.path, {
    ["Content-Type"] = "application/json",
    ["Origin"] = origin,
    ["X-Forwarded-For"] = client,
  }, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if (status >= 200 and status < 300) or status == 303 then
    acked = acked + 1
  end
end

function done(summary, latency, requests)
  local total_acked = 0
  local by_status = {}
  for _, thread in ipairs(threads) do
    total_acked = total_acked + (thread:get("acked") or 0)
    local counts = thread:get("statuses") or {}
    for status, n in pairs(counts) do
      by_status[status] = (by_status[status] or 0) + n
    end
  end
  local status_parts = {}
  for status, n in pairs(by_status) do
    table.insert(status_parts, string.format('"%d": %d', status, n))
  end
  local errors = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "acked": %d, "statuses": {%s}, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
      .. '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "max": %d, "mean": %.1f}}\n',
    summary.requests, summary.duration, total_acked, table.concat(status_parts, ", "),
    errors.connect, errors.read, errors.write, errors.status, errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
