-- wrk script: GET bytes=0..RANGE-1 of each key of a key list in turn (the same requests
-- tiff-dumper makes with its default prefetch). Set by environment:
--   TD_KEYS  file with one key per line (paths relative to the server root)
--   TD_RANGE bytes per request (default 16384)
--   TD_PREFIX URL path prefix (default "/")
local keys = {}
local n = 0
local idx = 0
local range_hdr
local threads = 0

-- runs in the main state once per thread: give each thread a distinct id
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

function init(args)
  local f = assert(io.open(os.getenv("TD_KEYS"), "r"))
  local prefix = os.getenv("TD_PREFIX") or "/"
  for line in f:lines() do
    if #line > 0 then
      n = n + 1
      keys[n] = prefix .. line
    end
  end
  f:close()
  local r = tonumber(os.getenv("TD_RANGE") or "16384")
  range_hdr = "bytes=0-" .. (r - 1)
  -- threads start at different offsets so they do not fetch the same keys in lockstep
  idx = ((id or 0) * 7919) % n
end

function request()
  idx = idx % n + 1
  return wrk.format("GET", keys[idx], { ["Range"] = range_hdr })
end

function done(summary, latency, requests)
  local s = summary
  io.write(string.format("TDJSON {\"requests\":%d,\"bytes\":%d,\"duration_us\":%d,\"errors_status\":%d,\"errors_connect\":%d,\"errors_read\":%d,\"errors_timeout\":%d,\"lat_p50_us\":%d,\"lat_p99_us\":%d}\n",
    s.requests, s.bytes, s.duration, s.errors.status, s.errors.connect, s.errors.read, s.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
