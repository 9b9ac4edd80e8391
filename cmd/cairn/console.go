package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"cairn/internal/adminapi"
	"cairn/internal/console"
)

// consoleOptions are the web console's flags (gateway and server).
type consoleOptions struct {
	address  string // "" serves it with the S3 API; "off" not at all
	lifetime time.Duration
	idle     time.Duration
}

func (o *consoleOptions) flags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&o.address, "console-address", "", `serve the web console on this address instead of under /console/ on the S3 address ("off": no console)`)
	fl.DurationVar(&o.lifetime, "console-session-lifetime", 12*time.Hour, "a console sign-in ends this long after it began")
	fl.DurationVar(&o.idle, "console-idle-timeout", time.Hour, "a console sign-in ends when unused this long")
}

// loopback returns an address of the listener ln that this process can
// dial: a wildcard listener is reached on the loopback interface.
func loopback(ln net.Addr) string {
	a := ln.(*net.TCPAddr)
	ip := a.IP
	if ip.IsUnspecified() {
		if ip.To4() != nil {
			ip = net.IPv4(127, 0, 0, 1)
		} else {
			ip = net.IPv6loopback
		}
	}
	return net.JoinHostPort(ip.String(), fmt.Sprint(a.Port))
}

// newConsole returns the console of a gateway listening on s3Addr, or nil
// when it is off.
func newConsole(o consoleOptions, s3Addr net.Addr, region string, log *slog.Logger) (*console.Console, error) {
	if o.address == "off" {
		return nil, nil
	}
	port := fmt.Sprint(s3Addr.(*net.TCPAddr).Port)
	public := func(r *http.Request) string {
		scheme := "http"
		if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
			scheme = "https"
		}
		if o.address == "" { // same address: the browser reaches the gateway as it reached the console
			return scheme + "://" + r.Host
		}
		host := r.Host
		if h, _, err := net.SplitHostPort(r.Host); err == nil {
			host = h
		}
		return scheme + "://" + net.JoinHostPort(host, port)
	}
	return console.New(console.Options{Endpoint: "http://" + loopback(s3Addr), PublicEndpoint: public, Region: region,
		Lifetime: o.lifetime, IdleTimeout: o.idle, Version: version, Logger: log})
}

// s3Signed tells whether r carries an S3 signature or credential (header
// or query), so that it is meant for the S3 API and not the console.
func s3Signed(r *http.Request) bool {
	if r.Header.Get("Authorization") != "" {
		return true
	}
	q := r.URL.Query()
	return q.Has("X-Amz-Credential") || q.Has("X-Amz-Signature") || q.Has("Signature") || q.Has("AWSAccessKeyId")
}

// routeRequests serves the admin API's paths with admin, the console's
// (unsigned requests under /console) with con when it is there, and
// everything else with the S3 gateway.
func routeRequests(s3 http.Handler, admin http.Handler, con http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, adminapi.Prefix):
			admin.ServeHTTP(w, r)
		case con != nil && (r.URL.Path == "/console" || strings.HasPrefix(r.URL.Path, console.Prefix)) && !s3Signed(r):
			con.ServeHTTP(w, r)
		default:
			s3.ServeHTTP(w, r)
		}
	})
}

// serveConsole serves con alone on address until the returned function
// is called.
func serveConsole(ctx context.Context, address string, con http.Handler, log *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", address)
	if err != nil {
		return nil, fmt.Errorf("--console-address: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/console", con)
	mux.Handle(console.Prefix, con)
	mux.Handle("/{$}", http.RedirectHandler(console.Prefix, http.StatusSeeOther))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go srv.Serve(ln)
	log.Info("cairn console ready", "address", "http://"+ln.Addr().String()+console.Prefix)
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}, nil
}
