package redis

import goredis "github.com/redis/go-redis/v9"

// The room scripts take the room's keys in this order.
//   KEYS[1] meta (hash e, n)   KEYS[2] log (stream)   KEYS[3] counters (hash)
//   KEYS[4] presence (hash node → "<pages>:<expiry ms>", broker/redis)

// luaField reads a field out of a stream entry's flat field list.
const luaField = `
local function field(fields, name)
  for i = 1, #fields, 2 do
    if fields[i] == name then return fields[i + 1] end
  end
  return nil
end
local function offset(id) return tonumber(string.match(id, '^(%d+)')) end
-- Lua prints large numbers in exponent form; ids need every digit.
local function id(n) return string.format('%d-0', n) end
`

// appendScript allocates the room's next offset and appends the delivery,
// then applies retention. It answers {"init"} when the room has no counter
// (the node must check the epoch and run initScript), {"epoch", e} when
// the room belongs to another epoch than ARGV[1], else {"ok", offset, ms,
// others, own}: with ARGV[6] set, others and own are the pages in the
// room's presence hash (live fields of other nodes, and node ARGV[6]'s),
// so the broker needs no second round trip to count them. It answers
// {"late", ms} and does nothing when Redis runs it past ARGV[7], its
// caller's deadline in Redis's clock (0: none).
//
//	ARGV[1] epoch   ARGV[2] max entries   ARGV[3] max age ms   ARGV[4] delivery JSON
//	ARGV[5] channel to publish "<epoch>-<offset>\n<delivery JSON>" on ("" for
//	        none; rediswire.Encode's framing)
//	ARGV[6] this node's id in presence records ("" counts nothing)
//	ARGV[7] the caller's deadline, Unix ms in Redis's clock (0 for none)
var appendScript = goredis.NewScript(luaField + `
local e = redis.call('HGET', KEYS[1], 'e')
if not e then return {'init'} end
if e ~= ARGV[1] then return {'epoch', e} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
-- Run late (Redis stalled), the append's caller has given up: see clock.go.
local deadline = tonumber(ARGV[7]) or 0
if deadline > 0 and now > deadline then return {'late', now} end
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
local maxEntries = tonumber(ARGV[2])
local maxAge = tonumber(ARGV[3])
redis.call('XADD', KEYS[2], 'MAXLEN', maxEntries, id(n), 'd', ARGV[4], 't', now)
-- Published in the script, so every node sees a room's deliveries in
-- offset order whichever node appended them.
if ARGV[5] ~= '' then redis.call('PUBLISH', ARGV[5], e .. '-' .. string.format('%d', n) .. '\n' .. ARGV[4]) end
-- Age: entries are in time order, so drop the head while it is too old.
-- The entry just added is never too old, so the loop ends.
local cutoff = now - maxAge
local keep = nil
local batch = 1 -- the head is usually young enough: look at one entry first
while not keep do
  local head = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', batch)
  batch = 64
  for i, item in ipairs(head) do
    local at = tonumber(field(item[2], 't')) or 0
    if at >= cutoff then
      keep = item[1]
      if i > 1 then redis.call('XTRIM', KEYS[2], 'MINID', keep) end
      break
    end
  end
  if not keep then redis.call('XTRIM', KEYS[2], 'MINID', id(offset(head[#head][1]) + 1)) end
end
redis.call('PEXPIRE', KEYS[2], maxAge)
-- Counters of trimmed entries (r:, a:, l: and c:, at most four per entry)
-- are cleaned when the hash outgrows the log by a margin (amortised).
if redis.call('HLEN', KEYS[3]) > 4 * maxEntries + 64 then
  local min = offset(keep)
  for _, f in ipairs(redis.call('HKEYS', KEYS[3])) do
    if (tonumber(string.sub(f, 3)) or 0) < min then redis.call('HDEL', KEYS[3], f) end
  end
end
redis.call('PEXPIRE', KEYS[3], maxAge) -- no-op while the room has no counters
-- The pages in the room, as broker/redis's presence fields show them
-- (livePages in Go): expired fields are ignored.
local others, own = 0, 0
if ARGV[6] ~= '' then
  local p = redis.call('HGETALL', KEYS[4])
  for i = 1, #p, 2 do
    local pages, exp = string.match(p[i + 1], '^(%d+):(%d+)$')
    if pages and tonumber(exp) >= now then
      if p[i] == ARGV[6] then own = tonumber(pages) else others = others + tonumber(pages) end
    end
  end
end
return {'ok', n, now, others, own}
`)

// initScript creates the room's counter under epoch ARGV[1], which the
// node has just read from the epoch key, starting above the epoch's base
// ARGV[2]. A room under another epoch
// belongs to a lost history: it is reset. Running it twice is harmless.
var initScript = goredis.NewScript(`
local e = redis.call('HGET', KEYS[1], 'e')
if e == ARGV[1] then return 'ok' end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
redis.call('HSET', KEYS[1], 'e', ARGV[1], 'n', ARGV[2])
return 'reset'
`)

// readScript returns up to ARGV[3] entries of the room, each as
// {id, delivery JSON, ms, reached, acked, live}, skipping entries older than
// ARGV[4] ms and entries beyond the newest ARGV[5] (retention as seen from
// outside, even before the next append trims), in the mode ARGV[1]:
//
//	mode "after":   oldest first, ids from ARGV[2] ("<offset>-0") on
//	mode "last":    newest first
//	mode "pending": newest first, only entries that reached no page
//
// Entries are in time order, so reading newest first
// stops at the first entry that is too old.
var readScript = goredis.NewScript(luaField + `
local mode, limit, cutoff = ARGV[1], tonumber(ARGV[3]), tonumber(ARGV[4])
local out = {}
-- A room's offsets have no gaps, so the newest N entries are the offsets
-- above top - N.
local newest = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
if #newest == 0 then return out end
local minOffset = offset(newest[1][1]) - tonumber(ARGV[5]) + 1
local function take(item)
  local f = item[2]
  local at = tonumber(field(f, 't')) or 0
  local off = offset(item[1])
  if at < cutoff or off < minOffset then return mode ~= 'after' end -- stop when reading backwards
  local r = redis.call('HGET', KEYS[3], 'r:' .. off) or '0'
  if mode == 'pending' and tonumber(r) > 0 then return false end
  out[#out + 1] = {item[1], field(f, 'd'), at, r, redis.call('HGET', KEYS[3], 'a:' .. off) or '0',
    redis.call('HGET', KEYS[3], 'l:' .. off) or ''}
  return #out >= limit
end
if mode == 'after' then
  local from = ARGV[2]
  while #out < limit do
    local items = redis.call('XRANGE', KEYS[2], from, '+', 'COUNT', 64)
    if #items == 0 then break end
    for _, item in ipairs(items) do
      if take(item) then break end
    end
    from = id(offset(items[#items][1]) + 1)
  end
else
  local to = '+'
  local done = false
  while not done do
    local items = redis.call('XREVRANGE', KEYS[2], to, '-', 'COUNT', 64)
    if #items == 0 then break end
    for _, item in ipairs(items) do
      if take(item) then done = true; break end
    end
    local last = offset(items[#items][1])
    if last <= 1 then break end
    to = id(last - 1)
  end
end
return out
`)

// markScript adds to the counters of a room's entries, each only if the
// entry is still in the log: the marks of one room queued together cost
// one script call. It returns how many entries were still there.
//
//	ARGV[1] max age ms, then per mark: offset, reached, acked
var markScript = goredis.NewScript(`
-- The log has no gaps and only its head is trimmed, so an entry is there
-- when its offset lies between the oldest and the newest one's (one mark
-- alone looks its entry up instead).
local oldest, newest
if #ARGV == 4 then
  if #redis.call('XRANGE', KEYS[2], ARGV[2] .. '-0', ARGV[2] .. '-0') == 0 then return 0 end
  oldest, newest = tonumber(ARGV[2]), tonumber(ARGV[2])
else
  local head = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
  if #head == 0 then return 0 end
  oldest = tonumber(string.match(head[1][1], '^(%d+)'))
  newest = tonumber(string.match(redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)[1][1], '^(%d+)'))
end
local marked = 0
for i = 2, #ARGV, 3 do
  local off = ARGV[i]
  local n = tonumber(off)
  if n and n >= oldest and n <= newest then
    for j, f in ipairs({'r:', 'a:'}) do
      local by = tonumber(ARGV[i + j])
      -- A negative mark takes a claim back; counters never go below zero.
      if by ~= 0 and redis.call('HINCRBY', KEYS[3], f .. off, by) < 0 then
        redis.call('HSET', KEYS[3], f .. off, 0)
      end
    end
    marked = marked + 1
  end
end
if marked > 0 then redis.call('PEXPIRE', KEYS[3], ARGV[1]) end
return marked
`)

// claimScript marks each of the room's entries at the offsets given
// reached by one page, if it is still in the log and no page has reached
// it: one script, so of nodes claiming the same pending entries at once
// each entry goes to one. It keeps the claim's token (c:<offset>), and
// an entry already marked under the same token is the claim's too: its
// caller gave up on an earlier run whose answer was lost. It returns the
// offsets it marked.
//
//	ARGV[1] max age ms   ARGV[2] token   then the offsets
var claimScript = goredis.NewScript(`
local won = {}
for i = 3, #ARGV do
  local off = ARGV[i]
  if #redis.call('XRANGE', KEYS[2], off .. '-0', off .. '-0') == 1 then
    if tonumber(redis.call('HGET', KEYS[3], 'r:' .. off) or '0') <= 0 then
      redis.call('HSET', KEYS[3], 'r:' .. off, 1, 'c:' .. off, ARGV[2])
      won[#won + 1] = off
    elseif redis.call('HGET', KEYS[3], 'c:' .. off) == ARGV[2] then
      won[#won + 1] = off
    end
  end
end
if #won > 0 then redis.call('PEXPIRE', KEYS[3], ARGV[1]) end
return won
`)

// liveScript adds pages to the LiveTo of one of the room's entries, if
// the entry is still in the log: a JSON array of pids in the counters
// hash (l:<offset>), which reads add to the delivery's own. It returns 1
// when the entry was there.
//
//	ARGV[1] max age ms   ARGV[2] offset   ARGV[3] pids (JSON array)
var liveScript = goredis.NewScript(`
if #redis.call('XRANGE', KEYS[2], ARGV[2] .. '-0', ARGV[2] .. '-0') == 0 then return 0 end
local f = 'l:' .. ARGV[2]
local list, seen = {}, {}
local function add(pids)
  for _, pid in ipairs(pids) do
    if type(pid) == 'string' and not seen[pid] then
      seen[pid] = true
      list[#list + 1] = pid
    end
  end
end
local have = redis.call('HGET', KEYS[3], f)
if have then add(cjson.decode(have)) end
add(cjson.decode(ARGV[3]))
if #list > 0 then
  redis.call('HSET', KEYS[3], f, cjson.encode(list))
  redis.call('PEXPIRE', KEYS[3], ARGV[1])
end
return 1
`)
