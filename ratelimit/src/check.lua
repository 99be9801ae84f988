-- specgate rate-limit check: every limit of one request, decided and counted atomically, all or nothing.
-- Mirrors src/counter.rs number for number (all values are integers below 2^53, exact in Lua's doubles).
--
-- KEYS[i]   state of limit i: a hash, bucket index -> count (sliding window) or q, r (GCRA)
-- ARGV[1]   time in microseconds, or "" for Redis TIME (one clock for every replica)
-- ARGV[2+5(i-1)...]  kind (0 sliding window, 1 GCRA), limit, window us, granularity us | burst, span | 0
-- Returns   {admitted, then per limit: conforms, remaining, reset us, wait us}

if redis.replicate_commands then
  pcall(redis.replicate_commands)
end

local now
if ARGV[1] ~= '' then
  now = tonumber(ARGV[1])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end

-- Redis turns Lua numbers into text with too few digits for microsecond times: format integers ourselves.
local function int(n)
  return string.format('%d', n)
end

local function window_load(key, limit, g, span)
  local flat = redis.call('HGETALL', key)
  local idx = math.floor(now / g)
  local entries = {}
  for j = 1, #flat, 2 do
    local b = tonumber(flat[j])
    -- A clock that stepped back keeps counting into the newest bucket.
    if b > idx then idx = b end
    entries[#entries + 1] = {b, tonumber(flat[j + 1])}
  end
  local low = idx - span
  local counted, stale, sum = {}, {}, 0
  for _, e in ipairs(entries) do
    if e[1] >= low then
      counted[#counted + 1] = e
      sum = sum + e[2]
    else
      stale[#stale + 1] = e[1]
    end
  end
  table.sort(counted, function(a, b) return a[1] < b[1] end)
  return {key = key, limit = limit, g = g, span = span, idx = idx, counted = counted, stale = stale, sum = sum}
end

local function window_reading(s)
  local function leaves(b) return (b + s.span + 1) * s.g - now end
  local conforms = s.sum < s.limit
  local reset, wait = 0, 0
  if #s.counted > 0 then reset = leaves(s.counted[1][1]) end
  if not conforms then
    local left = s.sum
    for _, e in ipairs(s.counted) do
      left = left - e[2]
      if left < s.limit then
        wait = leaves(e[1])
        break
      end
    end
  end
  return {conforms, s.limit - s.sum, reset, wait}
end

local function window_admit(s)
  for _, b in ipairs(s.stale) do
    redis.call('HDEL', s.key, int(b))
  end
  redis.call('HINCRBY', s.key, int(s.idx), 1)
  local newest = s.counted[#s.counted]
  if newest and newest[1] == s.idx then
    newest[2] = newest[2] + 1
  else
    s.counted[#s.counted + 1] = {s.idx, 1}
  end
  s.sum = s.sum + 1
  -- The newest bucket is counted for (span + 1) buckets; a second more covers rounding to milliseconds.
  redis.call('PEXPIRE', s.key, int(math.ceil((s.span + 1) * s.g / 1000) + 1000))
end

local function gcra_load(key, limit, window, burst)
  local v = redis.call('HMGET', key, 'q', 'r')
  local debt = 0
  if v[1] and v[2] then
    debt = (tonumber(v[1]) - now) * limit + tonumber(v[2])
    if debt < 0 then debt = 0 end
  end
  return {key = key, limit = limit, w = window, b = burst, debt = debt}
end

local function gcra_reading(s)
  local tolerance = s.w * (s.b - 1)
  local remaining = math.floor((s.w * s.b - s.debt) / s.w)
  if remaining < 0 then remaining = 0 end
  local reset, wait = 0, 0
  if remaining < s.b then
    reset = math.ceil((s.debt - s.w * (s.b - remaining - 1)) / s.limit)
  end
  if s.debt > tolerance then
    wait = math.ceil((s.debt - tolerance) / s.limit)
  end
  return {s.debt <= tolerance, remaining, reset, wait}
end

local function gcra_admit(s)
  s.debt = s.debt + s.w
  local whole = math.floor(s.debt / s.limit)
  redis.call('HSET', s.key, 'q', int(now + whole), 'r', int(s.debt - whole * s.limit))
  redis.call('PEXPIRE', s.key, int(math.ceil(s.debt / s.limit / 1000) + 1000))
end

local states, admitted = {}, true
for i, key in ipairs(KEYS) do
  local a = 2 + (i - 1) * 5
  local kind, limit, window = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local s
  if kind == 0 then
    s = window_load(key, limit, tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4]))
    s.read, s.admit = window_reading, window_admit
  else
    s = gcra_load(key, limit, window, tonumber(ARGV[a + 3]))
    s.read, s.admit = gcra_reading, gcra_admit
  end
  if not s.read(s)[1] then admitted = false end
  states[i] = s
end

local out = {admitted and 1 or 0}
for _, s in ipairs(states) do
  if admitted then s.admit(s) end
  local r = s.read(s)
  out[#out + 1] = r[1] and 1 or 0
  out[#out + 1] = r[2]
  out[#out + 1] = r[3]
  out[#out + 1] = r[4]
end
return out
