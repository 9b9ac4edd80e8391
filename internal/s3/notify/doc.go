// Package notify delivers bucket event notifications.
//
// # Model
//
// Events are not produced here: every S3 change records what it did (a
// publish record: event name, bucket, key, size, ETag, version id, with
// the request's origin) in the volume's change feed, in the transaction
// of the change itself. A Dispatcher reads the feed and delivers, for each
// target, the events that the buckets' notification configurations route
// to it. An acknowledged request therefore always has its event, and a
// crash or a target outage delays delivery but loses nothing.
//
// # Configuration
//
// A bucket's configuration (Config) is AWS's NotificationConfiguration:
// queue, topic and cloud-function configurations, each with an ARN, event
// names (with "*" wildcards) and prefix/suffix key filters. ARNs name
// targets defined by administrators only: MinIO's form
// arn:minio:sqs::<ID>:<type>, from MinIO's environment variables
// (MINIO_NOTIFY_WEBHOOK_ENABLE_<ID>=on …) or cairn's (CAIRN_NOTIFY_…).
//
// # Delivery
//
// Each target has its own position in the feed, kept in the volume. Events
// of one key go to a target in the order they happened: a target that
// takes batches gets them in feed order, up to 256 at once; one that takes
// a message at a time (a webhook) gets up to Options.Workers at once, each
// worker with the events of its own keys, in order. A failed delivery is retried with
// exponential backoff for as long as the target fails; an event the target
// rejects (ErrRejected) is retried Options.Retries times and then skipped,
// with a log line naming its sequence. A target whose backlog passes
// Options.MaxBacklog loses the oldest events, counted and logged, never
// silently.
package notify
