// Package archtest holds tests that keep the code to the package table of
// CONVENTIONS.md: which project packages each package may import, which
// packages may import third-party engines and SDKs, and a few bans (no
// fmt.Print or the log package outside cmd).
package archtest
