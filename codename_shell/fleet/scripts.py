"""The fleet's Lua scripts: each read-decide-write on Redis is one atomic server-side step.

Redis runs a script with no other command in between, so "first name of the cast that is free
and not held locally, then reserve it" cannot interleave with another host's claim: that is
what makes two concurrent claims on two hosts distinct. The keys, under the fleet's prefix P:

    P name:<folded name>   "<token>\\t<holder row>" with a lease (PX): the name is held
    P held:<node>          hash token -> folded name: what a node's holders hold
    P nodes                hash node -> "<hostname>\\t<lease ms>": the nodes seen
    P beats                hash node -> server time (ms) of its keeper's last renewal
    P vouch:<folded name>  hash node -> server time (ms) its vouching lasts until: the nodes
                           whose rosters list a roster-vouched name

A token is "<node>/<pid>-<start>": one holder on one node. A name is free when its key is
gone (no live lease) or holds our own token. Every delete is compare-and-delete: a key is
removed only while it still holds the token that asks.

A name a host's roster lists (another launcher's job, which codename cannot rename) is
published by that host's keeper under the token "roster:<folded name>": the same token on
every host, so that two hosts reading one shared roster vouch for one entry rather than
contend for it. Its key goes when the last node vouching for it stops.

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

# ARGV: prefix, node, token, lease ms, hostname, row tail (the holder row after its name and
# full name), wanted folded name or "", wanted name, wanted full name, count of names held
# locally, those folded names, then the cast as (name, folded name, full name) triples.
# Returns {"ok", name, full, folded name the token held before or ""} or {"held", value of
# the wanted name's key} or {"full"}.
CLAIM = r"""
local P, node, token = ARGV[1], ARGV[2], ARGV[3]
local lease = tonumber(ARGV[4])
local host, tail, want = ARGV[5], ARGV[6], ARGV[7]
local nblocked = tonumber(ARGV[10])
local blocked = {}
for i = 11, 10 + nblocked do blocked[ARGV[i]] = true end
local first = 11 + nblocked
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

if want ~= '' then
  local value = redis.call('GET', P .. 'name:' .. want)
  if value and not mine(value) then return {'held', value} end
  return take(want, ARGV[8], ARGV[9])
end
-- The same holder asking again gets the same name back.
if old and not blocked[old] then
  local value = redis.call('GET', P .. 'name:' .. old)
  if mine(value) then
    local name, full = string.match(value, '^[^\t]*\t([^\t]*)\tfull=([^\t]*)')
    if name then return take(old, name, full) end
  end
end
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
CLAIM_SHA = "9ac3697bdca2a48275436eb05058af1e59416c7d"

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

# ARGV: prefix, node, lease ms, hostname, count of live holders, then per live holder
# (token, folded name, holder row), then the tokens of holders that are gone. A live holder
# may be a roster's entry (token "roster:<folded name>", see above).
# Returns {verdicts, unknown}: per live holder "ok" (renewed), "new" (its key was missing, so
# set again: a restarted, emptied server) or "lost" (someone else holds the name now; for a
# roster's entry "held": a holder of some host has the name, a duplicate the roster's
# launcher made, left as it is); and the tokens this node holds in Redis that the keeper
# named neither live nor gone.
RENEW = r"""
if redis.replicate_commands then redis.replicate_commands() end
local P, node = ARGV[1], ARGV[2]
local lease = tonumber(ARGV[3])
local host = ARGV[4]
local nlive = tonumber(ARGV[5])
local held = P .. 'held:' .. node
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local verdicts, listed, unknown = {}, {}, {}

local function roster(token)
  return string.sub(token, 1, 7) == 'roster:'
end

-- A roster's entry: vouched for by this node until now + lease; its key lives while any
-- node vouches (each renewal stretches it to at least a lease).
local function vouch(key, folded, value, mark, row)
  if value and string.sub(value, 1, #mark) ~= mark then return 'held' end
  local ttl = value and redis.call('PTTL', key) or 0
  redis.call('SET', key, mark .. row, 'PX', math.max(ttl, lease))
  local vouchers = P .. 'vouch:' .. folded
  redis.call('HSET', vouchers, node, now + lease)
  redis.call('PEXPIRE', vouchers, lease * 3)
  return value and 'ok' or 'new'
end

-- This node no longer vouches: the key goes unless another node still does.
local function unvouch(folded, mark)
  local vouchers = P .. 'vouch:' .. folded
  redis.call('HDEL', vouchers, node)
  local others = redis.call('HGETALL', vouchers)
  local still = false
  for i = 1, #others, 2 do
    if tonumber(others[i + 1]) and tonumber(others[i + 1]) > now then
      still = true
    else
      redis.call('HDEL', vouchers, others[i])
    end
  end
  if not still then
    local key = P .. 'name:' .. folded
    local value = redis.call('GET', key)
    if value and string.sub(value, 1, #mark) == mark then redis.call('DEL', key) end
  end
end

for i = 6, 5 + 3 * nlive, 3 do
  local token, folded, row = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local mark = token .. '\t'
  local key = P .. 'name:' .. folded
  local value = redis.call('GET', key)
  local verdict = 'lost'
  listed[token] = true
  if roster(token) then
    verdict = vouch(key, folded, value, mark, row)
    if verdict ~= 'held' then redis.call('HSET', held, token, folded) end
  else
    if not value then
      verdict = 'new'
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
for i = 6 + 3 * nlive, #ARGV do
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
end
if #all > 0 then redis.call('PEXPIRE', held, lease * 3) end
redis.call('HSET', P .. 'nodes', node, host .. '\t' .. lease)
redis.call('HSET', P .. 'beats', node, now)
return {verdicts, unknown}
"""
RENEW_SHA = "6cc8357e4d4a30fdf986f29841af3a0777592aa2"

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
