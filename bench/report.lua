-- wrk's summary in one machine-readable line (latencies in microseconds), read by kpa-bench.
-- KPA_WRK_PACE_MS=N makes each connection wait N ms before each request (an open, paced load
-- like the kubelet's, instead of wrk's default of as fast as the server answers).
local pace = tonumber(os.getenv("KPA_WRK_PACE_MS") or "")
if pace and pace > 0 then
   delay = function() return pace end
end

done = function(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "KPAWRK requests=%d duration_us=%d p50=%d p90=%d p99=%d max=%d connect=%d read=%d write=%d status=%d timeout=%d\n",
      summary.requests, summary.duration,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      e.connect, e.read, e.write, e.status, e.timeout))
end
