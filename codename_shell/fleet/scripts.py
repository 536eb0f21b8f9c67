"""The fleet's Lua scripts: each read-decide-write on Redis is one atomic server-side step.

Redis runs a script with no other command in between, so "first name of the cast that is free
and not held locally, then reserve it" cannot interleave with another host's claim: that is
what makes two concurrent claims on two hosts distinct. The keys, under the fleet's prefix P:

    P name:<folded name>   "<token>\\t<holder row>" with a lease (PX): the name is held
    P held:<node>          hash token -> folded name: what a node's holders hold
    P nodes                hash node -> "<hostname>\\t<lease ms>": the nodes seen
    P beats                hash node -> server time (ms) of its keeper's last renewal
    P vouch:<folded name>  hash node -> 1: the nodes whose rosters list a roster-vouched name
    P epoch                server time (ms) the fleet's data began; never expires
    P quiet                the quiet period after a new epoch (see EPOCH), with its PX

A token is "<node>/<pid>-<start>": one holder on one node. A name is free when its key is
gone (no live lease) or holds our own token. Every delete is compare-and-delete: a key is
removed only while it still holds the token that asks.

A name a host's roster lists (another launcher's job, which codename cannot rename) is
published by that host's keeper under the token "roster:<folded name>": the same token on
every host, so that two hosts reading one shared roster vouch for one entry rather than
contend for it. Its key has no lease: it goes when the last node vouching for it stops (its
roster no longer lists it), or by hand (`codename reap --host`, REAP), never by time alone,
since a host cut off from the fleet cannot rename its roster's jobs. A codename holder found
holding such a name (taken before the roster listed it) loses it to the roster: its keeper
sees "lost" at its next renewal and gives it another name.

A rename keeps its old name's key: the claim that renamed gives it back (SETTLE) once the
new name is recorded on the holder's host, or gives the new one back when that failed. A
claim cut short in between (kill -9) leaves both keys: the keeper's next renewal gives back
the new one when the host still shows the old; an old one left after the new was recorded
lapses with its lease. At no moment is the name a holder still shows free in Redis.

Each SHA is the script's SHA1, written out so the shell-start path needs no hashlib; a test
checks them. `redis.replicate_commands()` lets a script read TIME and then write on Redis 3.2
to 4 (it is the default, and a no-op, from 5 on).
"""

from __future__ import annotations

EPOCH = r"""
if redis.replicate_commands then redis.replicate_commands() end
local clock = redis.call('TIME')
local now = clock[1] * 1000 + math.floor(clock[2] / 1000)

-- The fleet's epoch. Its key is set once and never expires, so when it is gone the fleet's
-- data vanished (a restart without persistence, FLUSHALL, a failover to an empty replica):
-- live holders of other hosts may still show names whose keys went with it. For one lease
-- from then (each host's own: the longest counts) no plain name is handed out, while the
-- keepers set theirs again; a keeper that noticed the server's clock jump (keys expired
-- early) starts such a period too (QUIET). Returns the ms of quiet left, or 0.
local function quiet_left(P, lease, now, known)
  local quiet = P .. 'quiet'
  local epoch = redis.call('GET', P .. 'epoch')
  if not epoch then
    epoch = tostring(now)
    redis.call('SET', P .. 'epoch', epoch)
    -- `known`: the epoch the asking host last saw, or '' for a host new to this fleet (a new
    -- Redis's first claims get plain names). A host that knew one finds its data gone.
    if known == '' then return 0, epoch end
    redis.call('SET', quiet, now, 'PX', lease)
    return lease, epoch
  end
  local left = redis.call('PTTL', quiet)
  if left <= 0 then
    -- A host new to the fleet set this epoch; one that knew another finds the data gone:
    -- the quiet period it would have started, counted from the epoch's start.
    if known ~= '' and known ~= epoch then
      local want = (tonumber(epoch) or now) + lease - now
      if want > 0 then
        redis.call('SET', quiet, epoch, 'PX', want)
        return want, epoch
      end
    end
    return 0, epoch
  end
  local want = (tonumber(redis.call('GET', quiet)) or now) + lease - now
  if want > left then
    redis.call('PEXPIRE', quiet, want)
    return want, epoch
  end
  return left, epoch
end

"""

# ARGV: prefix, node, token, lease ms, hostname, row tail (the holder row after its name and
# full name), wanted folded name or "", wanted name, wanted full name, the epoch this host
# last saw ("" for none, see EPOCH), count of names held locally, those folded names, then
# the cast as (name, folded name, full name) triples.
# Returns {"ok", name, full, folded name the token held before or ""} or {"held", value of
# the wanted name's key} or {"quiet", ms left of the quiet period} or {"full"}.
CLAIM = EPOCH + r"""
local P, node, token = ARGV[1], ARGV[2], ARGV[3]
local lease = tonumber(ARGV[4])
local host, tail, want = ARGV[5], ARGV[6], ARGV[7]
local known = ARGV[10]
local nblocked = tonumber(ARGV[11])
local blocked = {}
for i = 12, 11 + nblocked do blocked[ARGV[i]] = true end
local first = 12 + nblocked
local mark = token .. '\t'
local held = P .. 'held:' .. node
local old = redis.call('HGET', held, token)

local function mine(value)
  return value and string.sub(value, 1, #mark) == mark
end

local function take(folded, name, full)
  redis.call('SET', P .. 'name:' .. folded, mark .. name .. '\tfull=' .. full .. tail,
             'PX', lease)
  -- The old name's key stays (see SETTLE): the holder shows it until the new one is recorded.
  redis.call('HSET', held, token, folded)
  redis.call('PEXPIRE', held, lease * 3)
  redis.call('HSET', P .. 'nodes', node, host .. '\t' .. lease)
  return {'ok', name, full, old or ''}
end

local function free(folded)
  if blocked[folded] then return false end
  local value = redis.call('GET', P .. 'name:' .. folded)
  return (not value) or mine(value)
end

local quiet = quiet_left(P, lease, now, known)
if want ~= '' then
  local value = redis.call('GET', P .. 'name:' .. want)
  if value and not mine(value) then return {'held', value} end
  if quiet > 0 and not value then return {'quiet', quiet} end
  return take(want, ARGV[8], ARGV[9])
end
-- The same holder asking again gets the same name back (its key lives: set since the
-- epoch began, so it is no other holder's).
if old and not blocked[old] then
  local value = redis.call('GET', P .. 'name:' .. old)
  if mine(value) then
    local name, full = string.match(value, '^[^\t]*\t([^\t]*)\tfull=([^\t]*)')
    if name then return take(old, name, full) end
  end
end
if quiet > 0 then return {'quiet', quiet} end
for i = first, #ARGV, 3 do
  if free(ARGV[i + 1]) then return take(ARGV[i + 1], ARGV[i], ARGV[i + 2]) end
end
-- The whole cast is held: "Michael 2" ... "Toby 2", then "Michael 3", as casts.overflow_name.
for round = 2, 100000 do
  local suffix = ' ' .. round
  for i = first, #ARGV, 3 do
    if free(ARGV[i + 1] .. suffix) then
      return take(ARGV[i + 1] .. suffix, ARGV[i] .. suffix, ARGV[i + 2] .. suffix)
    end
  end
end
return {'full'}
"""
CLAIM_SHA = "952dc73e5e6dbee1b7d2a24155c4702614560365"

# ARGV: prefix, node, token, the folded name to keep or "", then folded names to give back.
# After a claim that renamed: its old name goes once the new one is recorded on the host
# (keep the new), or the new one goes when it could not be (keep the old; "" for a first
# claim). Only the token's own keys are deleted, and the node's record of what the token
# holds follows what is kept.
SETTLE = r"""
local P, node, token, keep = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local mark = token .. '\t'
local held = P .. 'held:' .. node
local function mine(folded)
  local value = redis.call('GET', P .. 'name:' .. folded)
  return value and string.sub(value, 1, #mark) == mark
end
for i = 5, #ARGV do
  if ARGV[i] ~= keep and mine(ARGV[i]) then redis.call('DEL', P .. 'name:' .. ARGV[i]) end
end
if keep ~= '' and mine(keep) then
  redis.call('HSET', held, token, keep)
else
  local was = redis.call('HGET', held, token)
  if was and not mine(was) then redis.call('HDEL', held, token) end
end
return 1
"""
SETTLE_SHA = "21bff883f772a502efb8ca94af6c73cbd27e0203"

# ARGV: prefix, node, lease ms, hostname, the epoch this host last saw ("" for none), count of
# live holders, then per live holder
# (token, folded name, holder row, "1" when its keeper knows its lease still lives, else
# "0"), then the tokens of holders that are gone. A live holder may be a roster's entry
# (token "roster:<folded name>", see above). A holder whose lease may have lapsed (its
# keeper was stopped, killed, cut off) whose key is gone is "lost", never set again here:
# another host may have been given the name meanwhile and still show it, its key gone with
# an emptied Redis; such a holder goes through CLAIM, and so through the quiet period.
# Returns {verdicts, unknown, server time ms, the fleet's epoch}: per live holder "ok"
# (renewed), "new" (its key was missing, so set again: a restarted, emptied server) or
# "lost" (someone else holds the name now); for a roster's entry "ok", "new" or "took" (a
# codename holder of some host had the name: it is the roster's now, and that holder's
# keeper renames it); the tokens this node holds in Redis that the keeper named neither live
# nor gone; the server's clock, which the keeper compares with its own to notice a jump (see
# renewal.Renewal.clock); and the fleet's epoch, which the host remembers (store.saw_epoch).
RENEW = EPOCH + r"""
local P, node = ARGV[1], ARGV[2]
local lease = tonumber(ARGV[3])
local host = ARGV[4]
local known = ARGV[5]
local nlive = tonumber(ARGV[6])
local held = P .. 'held:' .. node
local _, epoch = quiet_left(P, lease, now, known)
local verdicts, listed, unknown = {}, {}, {}
local rosters = false

local function roster(token)
  return string.sub(token, 1, 7) == 'roster:'
end

-- A roster's entry: vouched for by this node until it stops (no time bound: see above).
local function vouch(key, folded, value, mark, row)
  redis.call('SET', key, mark .. row)
  redis.call('HSET', P .. 'vouch:' .. folded, node, 1)
  if not value then return 'new' end
  if string.sub(value, 1, #mark) == mark then return 'ok' end
  return 'took'
end

-- This node no longer vouches: the key goes unless another node still does.
local function unvouch(folded, mark)
  local vouchers = P .. 'vouch:' .. folded
  redis.call('HDEL', vouchers, node)
  if redis.call('HLEN', vouchers) == 0 then
    local key = P .. 'name:' .. folded
    local value = redis.call('GET', key)
    if value and string.sub(value, 1, #mark) == mark then redis.call('DEL', key) end
  end
end

for i = 7, 6 + 4 * nlive, 4 do
  local token, folded, row, live = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local mark = token .. '\t'
  local key = P .. 'name:' .. folded
  local value = redis.call('GET', key)
  local verdict = 'lost'
  listed[token] = true
  if roster(token) then
    verdict = vouch(key, folded, value, mark, row)
    redis.call('HSET', held, token, folded)
    rosters = true
  else
    if not value then
      if live == '1' then verdict = 'new' end
    elseif string.sub(value, 1, #mark) == mark then
      verdict = 'ok'
    end
    if verdict ~= 'lost' then
      redis.call('SET', key, mark .. row, 'PX', lease)
      -- A name the token held before (a rename's, see SETTLE) goes: the holder shows this one.
      local before = redis.call('HGET', held, token)
      if before and before ~= folded then
        local old = P .. 'name:' .. before
        local was = redis.call('GET', old)
        if was and string.sub(was, 1, #mark) == mark then redis.call('DEL', old) end
      end
      redis.call('HSET', held, token, folded)
    end
  end
  verdicts[#verdicts + 1] = verdict
end
for i = 7 + 4 * nlive, #ARGV do
  local token = ARGV[i]
  local mark = token .. '\t'
  listed[token] = true
  local folded = redis.call('HGET', held, token)
  if folded then
    if roster(token) then
      unvouch(folded, mark)
    else
      local key = P .. 'name:' .. folded
      local value = redis.call('GET', key)
      if value and string.sub(value, 1, #mark) == mark then redis.call('DEL', key) end
    end
    redis.call('HDEL', held, token)
  end
end
local all = redis.call('HGETALL', held)
for i = 1, #all, 2 do
  if not listed[all[i]] then unknown[#unknown + 1] = all[i] end
  if roster(all[i]) then rosters = true end
end
-- What a node holds outlives a silent keeper by a while; its roster entries as long as they.
if rosters then
  redis.call('PERSIST', held)
elseif #all > 0 then
  redis.call('PEXPIRE', held, lease * 3)
end
redis.call('HSET', P .. 'nodes', node, host .. '\t' .. lease)
redis.call('HSET', P .. 'beats', node, now)
return {verdicts, unknown, now, epoch}
"""
RENEW_SHA = "cee729976b81ad2f74c01cd696a8a30bb8d1b6ea"

# ARGV: prefix, lease ms. A keeper saw the server's clock jump ahead (keys may have expired
# early): a quiet period as after a new epoch. Returns the ms of quiet left.
QUIET = EPOCH + r"""
local P, lease = ARGV[1], tonumber(ARGV[2])
local left = quiet_left(P, lease, now, '')
if left < lease then
  redis.call('SET', P .. 'quiet', now, 'PX', lease)
  left = lease
end
return left
"""
QUIET_SHA = "bd06f0851a08a5aa63cd6aa37845f2f16dc9f451"

# ARGV: prefix, this node, hostname. `codename reap --host NAME`: every node of that
# hostname (never the asking one) is forgotten with all it held: its holders' names and
# what its rosters vouched for (a name another node still vouches for stays). Returns the
# number of names given back.
REAP = r"""
local P, me, host = ARGV[1], ARGV[2], ARGV[3]
local freed = 0
local nodes = redis.call('HGETALL', P .. 'nodes')
for i = 1, #nodes, 2 do
  local node, info = nodes[i], nodes[i + 1]
  if node ~= me and string.match(info, '^(.*)\t%d+$') == host then
    local held = P .. 'held:' .. node
    local entries = redis.call('HGETALL', held)
    for j = 1, #entries, 2 do
      local token, folded = entries[j], entries[j + 1]
      local mark = token .. '\t'
      local key = P .. 'name:' .. folded
      local gone = true
      if string.sub(token, 1, 7) == 'roster:' then
        local vouchers = P .. 'vouch:' .. folded
        redis.call('HDEL', vouchers, node)
        gone = redis.call('HLEN', vouchers) == 0
      end
      local value = redis.call('GET', key)
      if gone and value and string.sub(value, 1, #mark) == mark then
        redis.call('DEL', key)
        freed = freed + 1
      end
    end
    redis.call('DEL', held)
    redis.call('HDEL', P .. 'nodes', node)
    redis.call('HDEL', P .. 'beats', node)
  end
end
return freed
"""
REAP_SHA = "a4fc239a1fdfbb90e269a3efae3939a4bf081e68"

# ARGV: prefix. Returns {server time ms, {node, "<hostname>\t<lease ms>", keeper beat ms,
# {value, ttl ms, value, ttl ms, ...}}, ...}: every node and the names its holders hold with
# a live lease. A node with nothing held whose keeper has been silent for ten leases is
# forgotten.
LIST = r"""
if redis.replicate_commands then redis.replicate_commands() end
local P = ARGV[1]
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local out = {now}
local nodes = redis.call('HGETALL', P .. 'nodes')
for i = 1, #nodes, 2 do
  local node, info = nodes[i], nodes[i + 1]
  local beat = tonumber(redis.call('HGET', P .. 'beats', node) or '0')
  local lease = tonumber(string.match(info, '\t(%d+)$') or '0')
  local entries = redis.call('HGETALL', P .. 'held:' .. node)
  local rows = {}
  for j = 1, #entries, 2 do
    local mark = entries[j] .. '\t'
    local key = P .. 'name:' .. entries[j + 1]
    local value = redis.call('GET', key)
    if value and string.sub(value, 1, #mark) == mark then
      rows[#rows + 1] = value
      rows[#rows + 1] = redis.call('PTTL', key)
    end
  end
  if #entries == 0 and now - beat > 10 * lease then
    redis.call('HDEL', P .. 'nodes', node)
    redis.call('HDEL', P .. 'beats', node)
  else
    out[#out + 1] = {node, info, beat, rows}
  end
end
return out
"""
LIST_SHA = "a86cd2a06dd57515210e4dd86184cffe98ab7405"
