-- wrk script: pipelined HTTP/1.1, DEPTH GET requests per write (default 16).
--   wrk -t1 -c50 -d5s http://127.0.0.1:PORT/ -s bench/load/pipeline.lua -- 16
-- wrk counts each response, so "requests" in its report is responses, not writes.
init = function(args)
  local depth = tonumber(args[1]) or 16
  local batch = {}
  for i = 1, depth do
    batch[i] = wrk.format(nil, "/")
  end
  req = table.concat(batch)
end

request = function()
  return req
end
