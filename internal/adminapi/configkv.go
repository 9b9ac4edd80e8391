package adminapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"

	"cairn/internal/s3/notify"
)

// MinIO's server configuration calls (mc admin config set|get|reset),
// served for the notification subsystems (notify_webhook, notify_redis…):
// the other subsystems are MinIO's own and answer an error naming what
// cairn takes.
//
// A configuration line is "SUBSYS[:TARGET] KEY=VALUE…", a value quoted
// with "…" when it holds spaces.

// A kvLine is one configuration line.
type kvLine struct {
	subsys, target string
	kv             [][2]string // in order
}

// parseKVLines reads configuration lines; blank lines and comments (#)
// are skipped.
func parseKVLines(s string) ([]kvLine, error) {
	var out []kvLine
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		l, err := parseKVLine(line)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

func parseKVLine(line string) (kvLine, error) {
	head, rest := line, ""
	if i := strings.IndexAny(line, " \t"); i >= 0 {
		head, rest = line[:i], line[i:]
	}
	var l kvLine
	l.subsys, l.target, _ = strings.Cut(head, ":")
	if l.subsys == "" || strings.Contains(head, "=") {
		return l, fmt.Errorf("%q: a configuration line starts with its sub-system (notify_webhook:ID key=value…)", line)
	}
	rest = strings.Trim(rest, " \t")
	for rest != "" {
		// (a value written back is quoted when it holds a space or a tab)
		key, after, ok := strings.Cut(rest, "=")
		if !ok || key == "" || strings.ContainsAny(key, " \t\"") {
			return l, fmt.Errorf("%q: expected key=value", rest)
		}
		var val string
		if strings.HasPrefix(after, `"`) {
			end := strings.IndexByte(after[1:], '"')
			if end < 0 {
				return l, fmt.Errorf("%q: a quoted value without its closing quote", rest)
			}
			val, rest = after[1:1+end], after[2+end:]
			if rest != "" && rest[0] != ' ' && rest[0] != '\t' {
				return l, fmt.Errorf("%q: a space must follow a quoted value", after)
			}
		} else {
			val, rest = after, ""
			if i := strings.IndexAny(after, " \t"); i >= 0 {
				val, rest = after[:i], after[i:]
			}
			if strings.Contains(val, `"`) {
				return l, fmt.Errorf("%q: a quote inside a value (quote a whole value: key=\"…\")", val)
			}
		}
		l.kv = append(l.kv, [2]string{key, val})
		rest = strings.TrimLeft(rest, " \t")
	}
	return l, nil
}

// String writes the line back, quoting values that need it.
func (l kvLine) String() string {
	var b strings.Builder
	b.WriteString(l.subsys)
	if l.target != "" {
		b.WriteString(":" + l.target)
	}
	for _, kv := range l.kv {
		v := kv[1]
		if v == "" || strings.IndexFunc(v, unicode.IsSpace) >= 0 {
			v = `"` + v + `"`
		}
		b.WriteString(" " + kv[0] + "=" + v)
	}
	return b.String()
}

// notifyType is the target type of a notify_TYPE sub-system.
func notifyType(subsys string) (string, error) {
	typ, ok := strings.CutPrefix(subsys, "notify_")
	if !ok || notify.TargetParams(typ) == nil {
		return "", fail(http.StatusBadRequest, "XMinioConfigError",
			"cairn takes only the notification sub-systems here (notify_webhook, notify_redis, notify_postgres, notify_mysql, notify_nats), not %q", subsys)
	}
	return typ, nil
}

// targetID is the ID of a line's target: MinIO's default target is "_".
func targetID(t string) string {
	if t == "" {
		return notify.DefaultID
	}
	return t
}

// configLines is the notifier and the configuration lines of a sealed
// set-config-kv or del-config-kv body.
func (c *call) configLines() (Notify, []kvLine, error) {
	n, err := c.notifier()
	if err != nil {
		return nil, nil, err
	}
	b, err := c.opened()
	if err != nil {
		return nil, nil, err
	}
	lines, err := parseKVLines(string(b))
	if err != nil {
		return nil, nil, fail(http.StatusBadRequest, "XMinioConfigError", "%v", err)
	}
	return n, lines, nil
}

// setConfigKV defines or changes notification targets: the settings
// named are laid over the target's stored ones.
func (c *call) setConfigKV() (any, error) {
	n, lines, err := c.configLines()
	if err != nil {
		return nil, err
	}
	if len(lines) == 0 {
		return nil, fail(http.StatusBadRequest, "XMinioConfigError", "no configuration given")
	}
	for _, l := range lines {
		typ, err := notifyType(l.subsys)
		if err != nil {
			return nil, err
		}
		p := map[string]string{}
		for _, kv := range l.kv {
			p[kv[0]] = kv[1]
		}
		if err := n.SetTarget(c.ctx, notify.TargetConfig{Type: typ, ID: targetID(l.target), Params: p}, true); err != nil {
			return nil, notifyErr(err)
		}
	}
	return configApplied{}, nil
}

// getConfigKV answers the targets of a notification sub-system (or the
// one named), sealed, as configuration lines.
func (c *call) getConfigKV() (any, error) {
	n, err := c.notifier()
	if err != nil {
		return nil, err
	}
	l, err := parseKVLine(c.query("key"))
	if err != nil {
		return nil, fail(http.StatusBadRequest, "XMinioConfigError", "%v", err)
	}
	typ, err := notifyType(l.subsys)
	if err != nil {
		return nil, err
	}
	ts, err := n.Targets(c.ctx)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	found := false
	for _, t := range ts {
		if t.Type != typ || (l.target != "" && t.ID != targetID(l.target)) {
			continue
		}
		found = true
		out := kvLine{subsys: l.subsys, target: t.ID}
		if t.ID == notify.DefaultID {
			out.target = ""
		}
		for _, k := range notify.TargetParams(typ) {
			if v, ok := t.Params[k]; ok || k == "enable" {
				if k == "enable" && !ok {
					v = "on"
				}
				out.kv = append(out.kv, [2]string{k, v})
			}
		}
		if t.FromEnv {
			b.WriteString("# defined by the server's environment\n")
		}
		b.WriteString(out.String() + "\n")
	}
	if l.target != "" && !found {
		return nil, notifyErr(fmt.Errorf("%w: %s", notify.ErrNoSuchTarget, c.query("key")))
	}
	return sealedBytes(b.String()), nil
}

// delConfigKV removes notification targets.
func (c *call) delConfigKV() (any, error) {
	n, lines, err := c.configLines()
	if err != nil {
		return nil, err
	}
	for _, l := range lines {
		typ, err := notifyType(l.subsys)
		if err != nil {
			return nil, err
		}
		if len(l.kv) > 0 {
			return nil, fail(http.StatusBadRequest, "XMinioConfigError", "a reset names a target, not settings")
		}
		if err := n.RemoveTarget(c.ctx, typ, targetID(l.target)); err != nil && !errors.Is(err, notify.ErrNoSuchTarget) {
			return nil, notifyErr(err)
		}
	}
	return configApplied{}, nil
}

// configApplied answers 200 with MinIO's header saying the change took
// effect (mc then asks for no restart).
type configApplied struct{}

// sealedBytes is a text response sealed with the caller's secret.
type sealedBytes string
