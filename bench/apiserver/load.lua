-- wrk script for bench/api.py.
-- wrk ... -s load.lua URL -- MODE IDS_FILE TOKEN RUN [TOPIC]
--   MODE fixed: GET the URL's own path
--        patient: GET /api/v1/patients/<id>/ (ids rotate)
--        messages: GET /api/v1/messages/?patient=<id> (ids rotate)
--        send: POST /api/v1/messages/ to <id>, a unique Idempotency-Key each
-- done() prints one line "WRK {json}": requests, duration, percentiles,
-- socket errors and non-2xx/3xx answers.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("thread_number", #threads)
end

local mode, token, run, topic
local ids = {}
local counter = 0
local headers = {}

function init(args)
   mode, token, run, topic = args[1], args[3], args[4], args[5]
   for line in io.lines(args[2]) do
      if #line > 0 then table.insert(ids, line) end
   end
   headers["Authorization"] = "Bearer " .. token
   -- Behind the TLS proxy, as deployed (SECURE_SSL_REDIRECT is on).
   headers["X-Forwarded-Proto"] = "https"
   counter = thread_number * 104729
end

function request()
   counter = counter + 1
   local id = ids[counter % #ids + 1]
   if mode == "patient" then
      return wrk.format("GET", "/api/v1/patients/" .. id .. "/", headers)
   elseif mode == "messages" then
      return wrk.format("GET", "/api/v1/messages/?patient=" .. id, headers)
   elseif mode == "send" then
      local h = {}
      for k, v in pairs(headers) do h[k] = v end
      h["Content-Type"] = "application/json"
      h["Idempotency-Key"] = string.format("bench-%s-%d-%d", run, thread_number, counter)
      local body = '{"patient":"' .. id .. '","topic":"' .. topic ..
         '","context":{"appointment_date":"3 March"}}'
      return wrk.format("POST", "/api/v1/messages/", h, body)
   end
   return wrk.format("GET", nil, headers)
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'WRK {"requests":%d,"duration_us":%d,"p50_us":%d,"p95_us":%d,' ..
      '"p99_us":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d}\n',
      summary.requests, summary.duration, latency:percentile(50),
      latency:percentile(95), latency:percentile(99), e.connect, e.read,
      e.write, e.timeout, e.status))
end
