// Package gateway is the S3 HTTP API: it routes a request (method, path,
// sub-resource query) to an operation, authenticates it with sigv4, maps
// the principal to a POSIX identity, and runs the operation's handler on
// a Backend (an *s3fs.FS). Handlers return their answer (a response:
// status, headers, an XML, raw or streamed body) or an error; one
// function, respond, writes either. Errors are mapped to S3 error codes
// in one place (fail); metrics and the access log are recorded
// centrally; a panic in a handler is recovered and answered
// InternalError.
package gateway
