#!/usr/bin/env bash
# Manages the identities of a running `cairn server` with MinIO's client
# (`mc admin user|group|policy|svcacct`, unchanged) and checks each effect
# with the aws CLI as the users made; then `cairn admin` the same way.
# Called by TestIAMWithMC with ENDPOINT, ROOT_USER, ROOT_PASSWORD, CAIRN
# (the binary) and WORK set.
set -euo pipefail
export AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
cd "$WORK"
mc() { command mc --config-dir "$WORK/mc" --quiet --no-color "$@"; }
as() { # as USER SECRET aws-args...: the aws CLI as another identity
  local u=$1 s=$2; shift 2
  AWS_ACCESS_KEY_ID=$u AWS_SECRET_ACCESS_KEY=$s command aws --endpoint-url "$ENDPOINT" "$@"
}
# must_fail CODE cmd...: the command fails, and says CODE
must_fail() {
  local code=$1; shift
  if out=$("$@" 2>&1); then echo "expected $code, got success: $*"; exit 1; fi
  grep -q "$code" <<<"$out" || { echo "expected $code from: $*"; echo "$out"; exit 1; }
}
step() { echo "== $*"; }
# (grep -c, not grep -q, after a pipe: -q stops reading at the first match
# and the writer then dies of SIGPIPE, which pipefail reports.)
DENIED="AccessDenied\|Forbidden"  # HEAD (aws s3 cp) answers 403 with no body

mc alias set root "$ENDPOINT" "$ROOT_USER" "$ROOT_PASSWORD" >/dev/null

step "users: a new user may do nothing until a policy is attached"
mc admin user add root alice alice-secret-1 >/dev/null
mc admin user add root bob bob-secret-12 >/dev/null
mc admin user ls root | grep -c "enabled *alice" >/dev/null
must_fail "$DENIED" as alice alice-secret-1 s3 ls
mc admin policy attach root readwrite --user alice >/dev/null
mc admin user info root alice | grep -c "PolicyName: readwrite" >/dev/null
as alice alice-secret-1 s3 mb s3://team >/dev/null
echo hello > f.txt
as alice alice-secret-1 s3 cp f.txt s3://team/f.txt >/dev/null
as alice alice-secret-1 s3 ls s3://team | grep -c f.txt >/dev/null

step "policies: a custom policy through a group"
cat > read-team.json <<'P'
{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::team","arn:aws:s3:::team/*"]}]}
P
mc admin policy create root read-team read-team.json >/dev/null
mc admin policy ls root | grep -cx read-team >/dev/null
mc admin policy info root read-team | grep -c '"s3:GetObject"' >/dev/null
mc admin group add root readers bob >/dev/null
mc admin policy attach root read-team --group readers >/dev/null
mc admin group info root readers | grep -c "Members: bob" >/dev/null
mc admin policy entities root --policy read-team | grep -c readers >/dev/null
test "$(as bob bob-secret-12 s3 cp s3://team/f.txt -)" = hello
must_fail "$DENIED" as bob bob-secret-12 s3 cp f.txt s3://team/bob.txt
must_fail "in use\|attached" mc admin policy rm root read-team
mc admin group disable root readers >/dev/null
must_fail "$DENIED" as bob bob-secret-12 s3 cp s3://team/f.txt -
mc admin group enable root readers >/dev/null
test "$(as bob bob-secret-12 s3 cp s3://team/f.txt -)" = hello

step "a malformed policy is refused, naming the statement"
echo '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObjekt","Resource":"*"}]}' > bad.json
must_fail "statement 1" mc admin policy create root bad bad.json

step "non-admins cannot use the admin API"
mc alias set bob "$ENDPOINT" bob bob-secret-12 >/dev/null
must_fail "Access Denied" mc admin user add bob eve eve-secret-12
must_fail "Access Denied" mc admin user ls bob

step "service accounts inherit their parent's policies, narrowed"
echo '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::team/*"}]}' > narrow.json
mc admin user svcacct add root alice --access-key alicebackup --secret-key backup-secret-1 --policy narrow.json >/dev/null
mc admin user svcacct ls root alice | grep -c alicebackup >/dev/null
mc admin user svcacct info root alicebackup | grep -c "ParentUser: alice" >/dev/null
test "$(as alicebackup backup-secret-1 s3 cp s3://team/f.txt -)" = hello
must_fail "$DENIED" as alicebackup backup-secret-1 s3 cp f.txt s3://team/g.txt
mc admin user svcacct disable root alicebackup >/dev/null
must_fail "$DENIED" as alicebackup backup-secret-1 s3 cp s3://team/f.txt -
mc admin user svcacct rm root alicebackup >/dev/null
must_fail InvalidAccessKeyId as alicebackup backup-secret-1 s3 ls s3://team
# A user makes its own service accounts without admin rights.
mc alias set alice "$ENDPOINT" alice alice-secret-1 >/dev/null
mc admin user svcacct add alice alice --access-key alicetool --secret-key tool-secret-12 >/dev/null
as alicetool tool-secret-12 s3 ls s3://team | grep -c f.txt >/dev/null

step "STS: temporary credentials of a user"
creds=$(as alice alice-secret-1 sts assume-role --role-arn arn:aws:iam::000000000000:role/any \
  --role-session-name session1 --duration-seconds 900 --query Credentials --output text)
read -r ak exp sk tok <<<"$creds"
AWS_SESSION_TOKEN=$tok as "$ak" "$sk" s3 ls s3://team | grep -c f.txt >/dev/null
must_fail InvalidToken as "$ak" "$sk" s3 ls s3://team

step "anonymous access with mc anonymous (bucket policies)"
code() { curl -s -o /dev/null -w "%{http_code}" "$@"; }
as alice alice-secret-1 s3 cp f.txt s3://team/pub/f.txt >/dev/null
test "$(code "$ENDPOINT/team/pub/f.txt")" = 403
mc anonymous set download root/team/pub >/dev/null
mc anonymous get root/team/pub | grep -c download >/dev/null
test "$(code "$ENDPOINT/team/pub/f.txt")" = 200
test "$(code "$ENDPOINT/team/f.txt")" = 403
test "$(code -X PUT --data-binary @f.txt "$ENDPOINT/team/pub/anon.txt")" = 403
mc anonymous set upload root/team/drop >/dev/null
test "$(code -X PUT --data-binary @f.txt "$ENDPOINT/team/drop/anon.txt")" = 200
as alice alice-secret-1 s3api get-bucket-policy-status --bucket team | grep -c '"IsPublic": true' >/dev/null
mc anonymous set none root/team/pub >/dev/null
mc anonymous set none root/team/drop >/dev/null
test "$(code "$ENDPOINT/team/pub/f.txt")" = 403
mc anonymous get root/team | grep -c private >/dev/null

step "metrics: a bearer token from mc admin prometheus generate"
test "$(code "$ENDPOINT/minio/v2/metrics/cluster")" = 403
tok=$(mc admin prometheus generate root | awk '/bearer_token/ {print $2}')
test -n "$tok"
test "$(code -H "Authorization: Bearer $tok" "$ENDPOINT/minio/v2/metrics/cluster")" = 200
test "$(code -H "Authorization: Bearer ${tok}x" "$ENDPOINT/minio/v2/metrics/cluster")" = 403

step "cairn admin does the same"
ca() { "$CAIRN" admin --endpoint "$ENDPOINT" --access-key "$ROOT_USER" --secret-key "$ROOT_PASSWORD" "$@"; }
ca user add dave dave-secret-12 >/dev/null
must_fail "$DENIED" as dave dave-secret-12 s3 ls s3://team
ca policy attach read-team --user dave >/dev/null
as dave dave-secret-12 s3 ls s3://team | grep -c f.txt >/dev/null
ca user set-id dave 4242 4242 >/dev/null
ca user info dave --json | grep -c '"uid": 4242' >/dev/null
ca user ls | grep -c "^dave *enabled *4242" >/dev/null
ca user expire dave 72h | grep -c "expires" >/dev/null
ca user info dave --json | grep -c '"expires"' >/dev/null
ca user expire dave 2020-01-01T00:00:00Z >/dev/null
must_fail ExpiredToken as dave dave-secret-12 s3 ls s3://team
ca user expire dave never >/dev/null
as dave dave-secret-12 s3 ls s3://team | grep -c f.txt >/dev/null
if ca user expire dave soon 2>/dev/null; then echo "expire soon was accepted" >&2; exit 1; fi
keys=$(ca user key-add dave --json)
k2=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["accessKey"])' <<<"$keys")
s2=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["secretKey"])' <<<"$keys")
as "$k2" "$s2" s3 ls s3://team | grep -c f.txt >/dev/null
ca user key-rm dave "$k2" >/dev/null
must_fail InvalidAccessKeyId as "$k2" "$s2" s3 ls s3://team
ca group add ops dave >/dev/null
ca group info ops --json | grep -c '"dave"' >/dev/null
ca policy entities read-team | grep -c dave >/dev/null
must_fail "no such user" ca user info nobody
must_fail "InvalidAccessKeyId" "$CAIRN" admin --endpoint "$ENDPOINT" --access-key nobody --secret-key wrong-secret user ls
ca group rm ops dave >/dev/null
ca group rm ops >/dev/null
ca user rm dave >/dev/null
must_fail InvalidAccessKeyId as dave dave-secret-12 s3 ls s3://team

step "disabled and removed users"
mc admin user disable root alice >/dev/null
must_fail "$DENIED" as alice alice-secret-1 s3 ls s3://team
mc admin user enable root alice >/dev/null
as alice alice-secret-1 s3 ls s3://team >/dev/null
mc admin group rm root readers bob >/dev/null
mc admin group rm root readers >/dev/null
mc admin user remove root bob >/dev/null
must_fail InvalidAccessKeyId as bob bob-secret-12 s3 ls s3://team
step "versioning, object lock and lifecycle with the aws CLI and mc, applied by cairn admin"
R() { as "$ROOT_USER" "$ROOT_PASSWORD" "$@"; }
R s3api create-bucket --bucket lcb >/dev/null
R s3api put-bucket-versioning --bucket lcb --versioning-configuration Status=Enabled
echo one > v.txt; R s3 cp v.txt s3://lcb/old/a >/dev/null
echo two > v.txt; R s3 cp v.txt s3://lcb/old/a >/dev/null
R s3api list-object-versions --bucket lcb --query 'length(Versions)' | grep -c '^2$' >/dev/null
mc ls --versions root/lcb/old/ | grep -c 'v2 PUT' >/dev/null
R s3api put-bucket-lifecycle-configuration --bucket lcb --lifecycle-configuration \
  '{"Rules":[{"ID":"past","Status":"Enabled","Filter":{"Prefix":"old/"},"Expiration":{"Date":"2020-01-01T00:00:00Z"}}]}'
R s3api get-bucket-lifecycle-configuration --bucket lcb | grep -c '"past"' >/dev/null
ca lifecycle run lcb --json | grep -c '"expired": 1' >/dev/null
R s3api list-object-versions --bucket lcb --query 'length(DeleteMarkers)' | grep -c '^1$' >/dev/null
must_fail "404" R s3api head-object --bucket lcb --key old/a
R s3api create-bucket --bucket vault --object-lock-enabled-for-bucket >/dev/null
R s3api put-object --bucket vault --key doc --body v.txt --object-lock-mode COMPLIANCE \
  --object-lock-retain-until-date "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)" >/dev/null
vid=$(R s3api list-object-versions --bucket vault --query 'Versions[0].VersionId' --output text)
must_fail AccessDenied R s3api delete-object --bucket vault --key doc --version-id "$vid" --bypass-governance-retention
step "bucket quotas with mc quota and cairn admin quota, S3 ACLs with the aws CLI"
R s3api create-bucket --bucket quo >/dev/null
mc quota set root/quo --size 64KiB >/dev/null
mc quota info root/quo | grep -c '64 KiB' >/dev/null
head -c 40000 /dev/zero > q.bin
R s3 cp q.bin s3://quo/one >/dev/null
must_fail XMinioAdminBucketQuotaExceeded R s3 cp q.bin s3://quo/two
ca quota info quo --json | grep -c '"used_objects": 1' >/dev/null
ca quota set quo --size 1M --objects 2 >/dev/null
R s3 cp q.bin s3://quo/two >/dev/null
must_fail XMinioAdminBucketQuotaExceeded R s3 cp q.bin s3://quo/three
R s3 rm s3://quo/one >/dev/null
R s3 cp q.bin s3://quo/three >/dev/null
mc quota clear root/quo >/dev/null
must_fail "quota configuration does not exist" mc quota info root/quo
R s3api put-object-acl --bucket quo --key two --acl public-read
curl -fsS "$ENDPOINT/quo/two" -o /dev/null
must_fail 403 curl -fsS "$ENDPOINT/quo/three" -o /dev/null
step "mc admin accesskey and mc admin info"
ak=$(mc admin user svcacct add root alice --json | sed -n 's/.*"accessKey": *"\([^"]*\)".*/\1/p')
[ -n "$ak" ]
mc admin accesskey ls root alice | grep -c "$ak" >/dev/null
mc admin accesskey ls root --all --json | grep -c "$ak" >/dev/null
mc admin accesskey info root "$ak" | grep -c alice >/dev/null
mc admin accesskey disable root "$ak" >/dev/null
mc admin accesskey info root "$ak" --json | grep -c '"accountStatus":"off"' >/dev/null
mc admin accesskey rm root "$ak" >/dev/null
if mc admin accesskey ls root alice | grep -q "$ak"; then echo "$ak is still listed"; exit 1; fi
mc admin info root | grep -c "Uptime" >/dev/null
mc admin info root --json | grep -c '"mode":"online"' >/dev/null
step "bucket events: mc event add|ls|rm, mc watch, cairn admin notify status"
R s3api create-bucket --bucket evts >/dev/null
mc event add root/evts arn:minio:sqs::IAM:webhook --event put,delete --suffix .txt >/dev/null
mc event ls root/evts | grep -c 'arn:minio:sqs::IAM:webhook.*suffix=".txt"' >/dev/null
must_fail "no such target" mc event add root/evts arn:minio:sqs::nobody:webhook --event put
timeout 8 "$(type -P mc)" --config-dir "$WORK/mc" --no-color watch root/evts --events put,delete --json >watch.json 2>&1 &
sleep 1
R s3 cp f.txt s3://evts/hook.txt >/dev/null
R s3 rm s3://evts/hook.txt >/dev/null
wait || true
grep -c '"type":"ObjectCreated:Put"' watch.json >/dev/null || { cat watch.json; exit 1; }
grep -c '"type":"ObjectRemoved:Delete"' watch.json >/dev/null
ca notify status | grep -c 'arn:minio:sqs::IAM:webhook *true' >/dev/null
ca notify status --json | grep -c '"delivered":' >/dev/null
mc event rm root/evts arn:minio:sqs::IAM:webhook --event put,delete --suffix .txt >/dev/null
if mc event ls root/evts | grep -q IAM; then echo "the rule is still listed"; exit 1; fi

step "targets at run time: mc admin config set|get|reset notify_*, cairn admin notify add|ls|rm|rules"
mc admin config set root notify_webhook:live endpoint="$HOOK" >/dev/null
mc admin config get root notify_webhook | grep -c "notify_webhook:live enable=on endpoint=$HOOK" >/dev/null
mc admin config get root notify_webhook | grep -c "notify_webhook:IAM" >/dev/null
must_fail "no setting" mc admin config set root notify_webhook:bad colour=blue
must_fail "not an http" mc admin config set root notify_webhook:bad endpoint=ftp://x
must_fail "environment" mc admin config reset root notify_webhook:IAM
must_fail "notification sub-systems" mc admin config set root site region=eu-west-1
mc event add root/evts arn:minio:sqs::live:webhook --event put --prefix live/ >/dev/null
R s3 cp f.txt s3://evts/live/one.txt >/dev/null
ca notify add redis r1 address=127.0.0.1:1 key=events password=hunter2 >/dev/null
ca notify ls | grep -c 'arn:minio:sqs::r1:redis' >/dev/null
if ca notify ls | grep -q hunter2; then echo "a target's password is listed"; exit 1; fi
must_fail "no setting" ca notify add redis r2 colour=blue
ca notify rm arn:minio:sqs::r1:redis >/dev/null
must_fail "no such" ca notify rm arn:minio:sqs::r1:redis
cat > rules.xml <<'X'
<NotificationConfiguration><QueueConfiguration><Queue>arn:minio:sqs::live:webhook</Queue><Event>s3:BucketCreated</Event></QueueConfiguration></NotificationConfiguration>
X
ca notify rules set rules.xml >/dev/null
ca notify rules get | grep -c "s3:BucketCreated" >/dev/null
echo '<NotificationConfiguration><QueueConfiguration><Queue>arn:minio:sqs::gone:webhook</Queue><Event>s3:BucketCreated</Event></QueueConfiguration></NotificationConfiguration>' > bad-rules.xml
must_fail "Unable to validate" ca notify rules set bad-rules.xml
R s3api create-bucket --bucket made-later >/dev/null
# (the rules are read as an event is delivered: wait for it before they go)
for _ in $(seq 100); do curl -sf -o /dev/null "$HOOK/?has=BucketCreated%20bucket%20made-later" && break; sleep 0.1; done
ca notify rules clear >/dev/null
test -z "$(ca notify rules get)"
mc admin config reset root notify_webhook:live >/dev/null
if mc admin config get root notify_webhook | grep -q live; then echo "the reset target is still listed"; exit 1; fi
R s3 cp f.txt s3://evts/live/two.txt >/dev/null
mc event rm root/evts arn:minio:sqs::live:webhook --event put --prefix live/ >/dev/null
must_fail "no such target\|Unable to validate\|not.*valid" mc event add root/evts arn:minio:sqs::live:webhook --event put
echo "iam.sh: all steps passed"
