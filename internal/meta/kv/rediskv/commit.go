package rediskv

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// commitScript checks what a transaction read and, when nothing changed,
// applies its writes. KEYS: the index and the commit lock. ARGV: the
// value-key prefix; the lock's token if the caller holds it; the key of the
// commit's token, set for a minute when it applies (or ""); the number of values
// read, then for each its key and its SHA-1 ("" when it was absent); the
// number of ranges, then for each its ZRANGEBYLEX bounds and the digest of
// its keys; the number of writes, then for each "p" key value or "d" key;
// the number of blind adds, then for each its counter and its delta in
// decimal; the number of appends, then for each its counter, its prefix, the number
// of values and the values (numbered from the counter, which moves past
// them; a counter that is not 8 bytes fails the script before it writes).
// It answers 1 when it applied the writes, 0 on a conflict (or while
// another transaction holds the lock).
var commitScript = redis.NewScript(commitSource)

const commitSource = `
local p, idx = ARGV[1], KEYS[1]
local held = redis.call("GET", KEYS[2])
if held and held ~= ARGV[2] then return 0 end
local i = 4
local n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  local v = redis.call("GET", p .. ARGV[i])
  if ARGV[i+1] == "" then
    if v then return 0 end
  elseif not v or redis.sha1hex(v) ~= ARGV[i+1] then
    return 0
  end
  i = i + 2
end
n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  local ks = redis.call("ZRANGEBYLEX", idx, ARGV[i], ARGV[i+1])
  local parts = {}
  for j, k in ipairs(ks) do parts[j] = #k .. ":" .. k end
  if redis.sha1hex(table.concat(parts)) ~= ARGV[i+2] then return 0 end
  i = i + 3
end
local function dec(c)
  if not c then return 0 end
  local neg = string.byte(c, 1) >= 128
  local n = 0
  for b = 1, 8 do
    local x = string.byte(c, b)
    if neg then x = 255 - x end
    n = n * 256 + x
  end
  if neg then n = -n - 1 end
  return n
end
local function enc(n)
  local neg = n < 0
  if neg then n = -n - 1 end
  local bs = {}
  for b = 8, 1, -1 do
    local x = n % 256
    if neg then x = 255 - x end
    bs[b] = string.char(x)
    n = math.floor(n / 256)
  end
  return table.concat(bs)
end
local function set(k, v)
  redis.call("SET", p .. k, v)
  redis.call("ZADD", idx, 0, k)
end
local nw = tonumber(ARGV[i])
local j = i + 1
for _ = 1, nw do
  if ARGV[j] == "p" then j = j + 3 else j = j + 2 end
end
local nd = tonumber(ARGV[j]); j = j + 1
local d = j
j = j + 2 * nd
local na = tonumber(ARGV[j]); j = j + 1
local c0 = {}
for x = d, d + 2 * nd - 1, 2 do c0[#c0 + 1] = ARGV[x] end
local a = j
for _ = 1, na do
  c0[#c0 + 1] = ARGV[a]
  a = a + 3 + tonumber(ARGV[a+2])
end
for _, k in ipairs(c0) do
  local c = redis.call("GET", p .. k)
  if c and #c ~= 8 then return redis.error_reply("counter holds " .. #c .. " bytes") end
end
i = i + 1
for _ = 1, nw do
  if ARGV[i] == "p" then
    set(ARGV[i+1], ARGV[i+2])
    i = i + 3
  else
    redis.call("DEL", p .. ARGV[i+1])
    redis.call("ZREM", idx, ARGV[i+1])
    i = i + 2
  end
end
for _ = 1, nd do
  set(ARGV[d], enc(dec(redis.call("GET", p .. ARGV[d])) + tonumber(ARGV[d+1])))
  d = d + 2
end
for _ = 1, na do
  local last = dec(redis.call("GET", p .. ARGV[j]))
  local cnt = tonumber(ARGV[j+2])
  for v = 1, cnt do
    set(ARGV[j+1] .. enc(last + v), ARGV[j+2+v])
  end
  set(ARGV[j], enc(last + cnt))
  j = j + 3 + cnt
end
if ARGV[3] ~= "" then redis.call("SET", ARGV[3], "1", "PX", 60000) end
return 1
`

// commit runs the commit script, with the writes when apply is set (else
// it only checks the reads). It reports whether nothing read had changed.
//
// A commit whose answer is lost (the connection dropped, the master
// failed over) may or may not have been applied; running the closure
// again could then see its own writes (a create finding its file). So an
// applying commit leaves a token that lives a minute, and a commit that
// failed for a transient reason asks whether its token is there: if it
// is, the commit was applied. With wait=N, the script and a WAIT go down
// one connection, and the commit counts only once N replicas have it.
func (t *tx) commit(apply bool) (bool, error) {
	tokenKey := ""
	if apply {
		tokenKey = t.s.token + strconv.FormatUint(rand.Uint64(), 36)
	}
	args := []any{t.s.prefix, t.token, tokenKey, len(t.reads)}
	for k, r := range t.reads {
		sum := ""
		if !r.absent {
			h := sha1.Sum(r.val)
			sum = hex.EncodeToString(h[:])
		}
		args = append(args, k, sum)
	}
	args = append(args, len(t.ranges))
	for _, r := range t.ranges {
		args = append(args, r.lo, r.hi, r.sum)
	}
	if apply {
		args = append(args, len(t.writes))
		for k, w := range t.writes {
			if w.del {
				args = append(args, "d", k)
			} else {
				args = append(args, "p", k, w.val)
			}
		}
		args = append(args, len(t.adds))
		for _, a := range t.adds {
			args = append(args, a.key, strconv.FormatInt(a.delta, 10))
		}
		args = append(args, len(t.appends))
		for _, a := range t.appends {
			args = append(args, a.counter, a.prefix, len(a.vals))
			for _, v := range a.vals {
				args = append(args, v)
			}
		}
	} else {
		args = append(args, 0, 0, 0)
	}
	keys := []string{t.s.index, t.s.lock}
	var n int
	var err error
	if apply && t.s.wait > 0 {
		n, err = t.s.commitAndWait(t.ctx, keys, args)
	} else {
		n, err = commitScript.Run(t.ctx, t.s.rdb, keys, args...).Int()
	}
	if err != nil && apply && transient(err) && !t.s.closed.Load() {
		if t.s.applied(t.ctx, tokenKey) {
			return true, nil
		}
	}
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

// commitAndWait runs the commit script and a WAIT for the store's
// replicas on one connection to the master (WAIT counts the replicas that
// have the connection's last write), and answers the script's result once
// enough replicas have the commit, waiting up to outageLimit for them (a
// replica restarting after a failover). A commit applied on the master
// that no replica takes in that time is an error, not a conflict: it is
// not rerun.
func (s *Store) commitAndWait(ctx context.Context, keys []string, args []any) (int, error) {
	var node *redis.Client
	switch c := s.rdb.(type) {
	case *redis.ClusterClient:
		var err error
		if node, err = c.MasterForKey(ctx, s.index); err != nil {
			return 0, err
		}
	case *redis.Client:
		node = c
	}
	conn := node.Conn()
	defer conn.Close()
	var res *redis.Cmd
	var wait *redis.Cmd
	_, err := conn.Pipelined(ctx, func(p redis.Pipeliner) error {
		res = p.Eval(ctx, commitSource, keys, args...)
		wait = p.Do(ctx, "WAIT", s.wait, 1000)
		return nil
	})
	if res == nil || (err != nil && res.Err() == nil && wait.Err() == nil) {
		return 0, err
	}
	n, err := res.Int()
	if err != nil || n != 1 {
		return n, err
	}
	deadline := time.Now().Add(outageLimit)
	for {
		got, err := wait.Int()
		if err != nil {
			return 0, err
		}
		if got >= s.wait {
			return n, nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("redis: a commit was applied on the master but %d replicas did not acknowledge it within %v (%d did)", s.wait, outageLimit, got)
		}
		wait = conn.Do(ctx, "WAIT", s.wait, 1000)
	}
}

// applied asks whether the commit that left tokenKey was applied,
// waiting out an outage for up to outageLimit.
func (s *Store) applied(ctx context.Context, tokenKey string) bool {
	deadline := time.Now().Add(outageLimit)
	for {
		n, err := s.rdb.Exists(ctx, tokenKey).Result()
		if err == nil {
			return n == 1
		}
		if !transient(err) || time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(200 * time.Millisecond)
	}
}
