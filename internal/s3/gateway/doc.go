// Package gateway is the S3 HTTP API: it routes a request (method, path,
// sub-resource query) to an operation, authenticates it with sigv4, maps
// the principal to a POSIX identity, runs the operation on a Backend (an
// *s3fs.FS) and writes the S3 response. Errors are mapped to S3 error
// codes in one place (writeError); metrics and the access log are recorded
// centrally; a panic in a handler is recovered and answered InternalError.
package gateway
