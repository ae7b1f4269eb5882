-- wrk: POST each distinct signed body once (then from the start again), split between threads.
-- wrk -t2 ... -s bench/signed.lua URL -- REQUESTS_FILE 2   (each line: signature TAB body)
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

local reqs = {}
function init(args)
  local n, every = 0, tonumber(args[2] or "2")
  for line in io.lines(args[1]) do
    if n % every == id then
      local tab = line:find("\t", 1, true)
      reqs[#reqs + 1] = wrk.format("POST", "/webhooks/shopify", {
        ["Content-Type"] = "application/json", ["X-Shopify-Topic"] = "orders/paid",
        ["X-Shopify-Shop-Domain"] = "acme.myshopify.com",
        ["X-Shopify-Hmac-Sha256"] = line:sub(1, tab - 1)}, line:sub(tab + 1))
    end
    n = n + 1
  end
end

local sent = 0
function request()
  sent = sent + 1
  return reqs[(sent - 1) % #reqs + 1]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'JSON {"rps": %.1f, "p50_ms": %.3f, "p99_ms": %.3f, "requests": %d, "errors": %d}\n',
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.requests,
    e.connect + e.read + e.write + e.status + e.timeout))
end
