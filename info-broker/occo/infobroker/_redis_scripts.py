"""The Lua scripts of the Redis store: each write is one script, so it is atomic.

Every write script takes ``KEYS[1]`` = a fresh operation key and ``ARGV[1]`` = its
time-to-live. A script that wrote something stores its result under the operation key in
the same atomic step; run again with the same key (the client retrying after the
connection broke before the reply arrived), it returns that result and writes nothing.
So a retried write happens exactly once.

Results are strings: ``!NOTFOUND[:id]``, ``!EXISTS[:id]``, ``!CONFLICT[:id]:version`` for
refusals (nothing written, operation key not set), anything else for success. Scripts
check everything before their first write, because Redis does not roll a script back.
"""

from __future__ import annotations

__all__ = ["SCRIPTS"]

_DEDUP = """
local done = redis.call('GET', KEYS[1])
if done then return done end
"""


def _finish(result: str) -> str:
    return f"""
local result = {result}
redis.call('SET', KEYS[1], result, 'EX', ARGV[1])
return result
"""


# KEYS: op, infra, infras   ARGV: ttl, infra_id, version, body, description, created_at
CREATE_INFRA = _DEDUP + """
if redis.call('EXISTS', KEYS[2]) == 1 then return '!EXISTS' end
redis.call('HSET', KEYS[2], 'version', ARGV[3], 'body', ARGV[4], 'description', ARGV[5])
redis.call('ZADD', KEYS[3], ARGV[6], ARGV[2])
""" + _finish("'OK'")

# KEYS: op, infra   ARGV: ttl, expected, new version, body, description ('' = unchanged)
UPDATE_INFRA = _DEDUP + """
local v = redis.call('HGET', KEYS[2], 'version')
if not v then return '!NOTFOUND' end
if v ~= ARGV[2] then return '!CONFLICT:' .. v end
redis.call('HSET', KEYS[2], 'version', ARGV[3], 'body', ARGV[4])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[2], 'description', ARGV[5]) end
""" + _finish("'OK'")

# KEYS: op, infra, infras, inst, instv, impl, instidx, targets, requests, timers, events
# ARGV: ttl, infra_id
DELETE_INFRA = _DEDUP + """
if redis.call('EXISTS', KEYS[2]) == 0 then return '!NOTFOUND' end
local ids = redis.call('HKEYS', KEYS[4])
for i = 1, #ids, 1000 do
  redis.call('HDEL', KEYS[7], unpack(ids, i, math.min(i + 999, #ids)))
end
redis.call('DEL', KEYS[2], KEYS[4], KEYS[5], KEYS[6], KEYS[8], KEYS[9], KEYS[10], KEYS[11])
redis.call('ZREM', KEYS[3], ARGV[2])
""" + _finish("'OK'")

# KEYS: op, instidx, then per group: infra, inst, instv, impl
# ARGV: ttl, ngroups, then per group: infra_id, n, (id, body) * n, m, (digest, text) * m
ADD_INSTANCES = _DEDUP + """
local groups = {}
local pos = 3
for g = 1, tonumber(ARGV[2]) do
  local grp = {key = 2 + (g - 1) * 4, infra = ARGV[pos], n = tonumber(ARGV[pos + 1])}
  grp.first = pos + 2
  pos = grp.first + 2 * grp.n
  grp.m = tonumber(ARGV[pos])
  grp.ifirst = pos + 1
  pos = grp.ifirst + 2 * grp.m
  groups[g] = grp
  if redis.call('EXISTS', KEYS[grp.key + 1]) == 0 then return '!NOTFOUND:' .. grp.infra end
  for i = 0, grp.n - 1 do
    local id = ARGV[grp.first + 2 * i]
    if redis.call('HEXISTS', KEYS[2], id) == 1 then return '!EXISTS:' .. id end
  end
end
for _, grp in ipairs(groups) do
  for i = 0, grp.n - 1 do
    local id = ARGV[grp.first + 2 * i]
    redis.call('HSET', KEYS[grp.key + 2], id, ARGV[grp.first + 2 * i + 1])
    redis.call('HSET', KEYS[grp.key + 3], id, '1')
    redis.call('HSET', KEYS[2], id, grp.infra)
  end
  for j = 0, grp.m - 1 do
    redis.call('HSETNX', KEYS[grp.key + 4], ARGV[grp.ifirst + 2 * j], ARGV[grp.ifirst + 2 * j + 1])
  end
end
""" + _finish("'OK'")

# KEYS: op, then per group: inst, instv, impl
# ARGV: ttl, ngroups, then per group: n, (id, expected, new version, body) * n,
#       m, (digest, text) * m
UPDATE_INSTANCES = _DEDUP + """
local groups = {}
local pos = 3
for g = 1, tonumber(ARGV[2]) do
  local grp = {key = 1 + (g - 1) * 3, n = tonumber(ARGV[pos])}
  grp.first = pos + 1
  pos = grp.first + 4 * grp.n
  grp.m = tonumber(ARGV[pos])
  grp.ifirst = pos + 1
  pos = grp.ifirst + 2 * grp.m
  groups[g] = grp
  for i = 0, grp.n - 1 do
    local id = ARGV[grp.first + 4 * i]
    local v = redis.call('HGET', KEYS[grp.key + 2], id)
    if not v then return '!NOTFOUND:' .. id end
    if v ~= ARGV[grp.first + 4 * i + 1] then return '!CONFLICT:' .. id .. ':' .. v end
  end
end
for _, grp in ipairs(groups) do
  for i = 0, grp.n - 1 do
    local at = grp.first + 4 * i
    redis.call('HSET', KEYS[grp.key + 1], ARGV[at], ARGV[at + 3])
    redis.call('HSET', KEYS[grp.key + 2], ARGV[at], ARGV[at + 2])
  end
  for j = 0, grp.m - 1 do
    redis.call('HSETNX', KEYS[grp.key + 3], ARGV[grp.ifirst + 2 * j], ARGV[grp.ifirst + 2 * j + 1])
  end
end
""" + _finish("'OK'")

# KEYS: op, instidx, then per group: inst, instv, timers
# ARGV: ttl, ngroups, then per group: n, ids * n
DELETE_INSTANCES = _DEDUP + """
local pos = 3
for g = 1, tonumber(ARGV[2]) do
  local key = 2 + (g - 1) * 3
  local n = tonumber(ARGV[pos])
  for i = pos + 1, pos + n do
    redis.call('HDEL', KEYS[key + 1], ARGV[i])
    redis.call('HDEL', KEYS[key + 2], ARGV[i])
    redis.call('HDEL', KEYS[key + 3], ARGV[i])
    redis.call('HDEL', KEYS[2], ARGV[i])
  end
  pos = pos + n + 1
end
""" + _finish("'OK'")

# KEYS: op, infra, requests   ARGV: ttl, text
PUSH_REQUEST = _DEDUP + """
if redis.call('EXISTS', KEYS[2]) == 0 then return '!NOTFOUND' end
redis.call('RPUSH', KEYS[3], ARGV[2])
""" + _finish("'OK'")

# KEYS: op, infra, requests   ARGV: ttl      result: a JSON array of the texts
TAKE_REQUESTS = _DEDUP + """
if redis.call('EXISTS', KEYS[2]) == 0 then return '!NOTFOUND' end
local items = redis.call('LRANGE', KEYS[3], 0, -1)
redis.call('DEL', KEYS[3])
local encoded = '[]'
if #items > 0 then encoded = cjson.encode(items) end
""" + _finish("encoded")

# KEYS: op, infra, targets, requests
# ARGV: ttl, taken, then pairs of node, count ('' = remove the target)
SETTLE_REQUESTS = _DEDUP + """
if redis.call('EXISTS', KEYS[2]) == 0 then return '!NOTFOUND' end
for i = 3, #ARGV, 2 do
  if ARGV[i + 1] == '' then
    redis.call('HDEL', KEYS[3], ARGV[i])
  else
    redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
  end
end
if tonumber(ARGV[2]) > 0 then redis.call('LTRIM', KEYS[4], tonumber(ARGV[2]), -1) end
""" + _finish("'OK'")

# KEYS: op, infra, timers   ARGV: ttl, instance_id, since   result: the running timer's start
START_TIMER = _DEDUP + """
if redis.call('EXISTS', KEYS[2]) == 0 then return '!NOTFOUND' end
redis.call('HSETNX', KEYS[3], ARGV[2], ARGV[3])
""" + _finish("redis.call('HGET', KEYS[3], ARGV[2])")

# KEYS: op, infra, timers   ARGV: ttl, instance_id
CLEAR_TIMER = _DEDUP + """
if redis.call('EXISTS', KEYS[2]) == 0 then return '!NOTFOUND' end
redis.call('HDEL', KEYS[3], ARGV[2])
""" + _finish("'OK'")

# KEYS: op, then per group: infra, events
# ARGV: ttl, ngroups, then per group: infra_id, n, texts * n
# result: the first position of each group, comma-separated
APPEND_EVENTS = _DEDUP + """
local pos = 3
local groups = {}
for g = 1, tonumber(ARGV[2]) do
  local grp = {key = 2 + (g - 1) * 2, infra = ARGV[pos], n = tonumber(ARGV[pos + 1]),
               first = pos + 2}
  pos = grp.first + grp.n
  groups[g] = grp
  if redis.call('EXISTS', KEYS[grp.key]) == 0 then return '!NOTFOUND:' .. grp.infra end
end
local firsts = {}
for g, grp in ipairs(groups) do
  local length = 0
  for i = grp.first, grp.first + grp.n - 1, 1000 do
    length = redis.call('RPUSH', KEYS[grp.key + 1],
                        unpack(ARGV, i, math.min(i + 999, grp.first + grp.n - 1)))
  end
  firsts[g] = tostring(length - grp.n + 1)
end
""" + _finish("table.concat(firsts, ',')")

# A read in one round trip. KEYS: instidx   ARGV: prefix, instance_id
# -> {infra_id, body, implementation text} or nil. It builds the names of the
# infrastructure's keys itself (the infrastructure is known only inside the script).
GET_INSTANCE = """
local infra = redis.call('HGET', KEYS[1], ARGV[2])
if not infra then return false end
local body = redis.call('HGET', ARGV[1] .. ':inst:' .. infra, ARGV[2])
if not body then return false end
local digest = string.match(body, '"impl":"(%x+)"}$')  -- the body's last key
local impl = ''   -- a damaged body (no digest) or a missing text: the caller says so
if digest then impl = redis.call('HGET', ARGV[1] .. ':impl:' .. infra, digest) or '' end
return {infra, body, impl}
"""

# KEYS: lease   ARGV: holder, ttl in ms   -> 1 taken or renewed, 0 held by another
ACQUIRE_LEASE = """
local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""

# KEYS: lease   ARGV: holder   -> 1 released, 0 not held by holder
RELEASE_LEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""

SCRIPTS = {name: text for name, text in globals().items()
           if name.isupper() and not name.startswith("_") and isinstance(text, str)
           and name != "SCRIPTS"}
