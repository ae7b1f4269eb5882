-- wrk: POST each distinct signed body once (then from the start again), split between threads.
-- wrk -t2 ... -s bench/signed.lua URL -- REQUESTS_FILE 2   (each line: signature TAB body)
--
-- Each request's line is read from the file when it is due, not all of them up front: wrk runs
-- a thread's init() and starts that thread before the next thread's init(), and counts what
-- every thread sent in its figures but not how long the first ones sent before its clock
-- started. Reading 470 MB up front took a second per thread, which overstated req/s by a fifth.
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

local file, every

local function from_start()
  file:seek("set", 0)
  for _ = 1, id do file:read("*l") end  -- this thread's lines: id, id + every, id + 2 * every ...
end

function init(args)
  file, every = assert(io.open(args[1], "rb")), tonumber(args[2] or "2")
  from_start()
end

local function next_line()
  local line = file:read("*l")
  if line == nil then  -- every line sent once: from the start again
    from_start()
    line = file:read("*l")
  end
  for _ = 2, every do file:read("*l") end  -- the other threads' lines
  return line
end

function request()
  local line = next_line()
  local tab = line:find("\t", 1, true)
  return wrk.format("POST", "/webhooks/shopify", {
    ["Content-Type"] = "application/json", ["X-Shopify-Topic"] = "orders/paid",
    ["X-Shopify-Shop-Domain"] = "acme.myshopify.com",
    ["X-Shopify-Hmac-Sha256"] = line:sub(1, tab - 1)}, line:sub(tab + 1))
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'JSON {"rps": %.1f, "p50_ms": %.3f, "p99_ms": %.3f, "requests": %d, "errors": %d}\n',
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.requests,
    e.connect + e.read + e.write + e.status + e.timeout))
end
