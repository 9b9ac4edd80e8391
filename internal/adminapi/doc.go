// Package adminapi is cairn's admin API: the routes and payloads of
// MinIO's admin API (/minio/admin/v3/...) that `mc admin user`, `mc admin
// group`, `mc admin policy` and `mc admin user svcacct` use, so that the
// MinIO client manages cairn unchanged. Requests are SigV4-signed by an
// identity of the volume and authorized with the admin:* actions of its
// policies (the root user may do anything); a user may always manage its
// own service accounts and read its own user info, as on MinIO. Payloads
// that carry secrets travel sealed with the caller's secret key (see
// crypt.go for the format).
package adminapi
