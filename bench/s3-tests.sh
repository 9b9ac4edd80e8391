#!/usr/bin/env bash
# Runs the ceph/s3-tests conformance suite (a checkout you fetched; this
# script neither fetches nor commits it) against a fresh `cairn server`,
# with the suite's main, alt and tenant users as three cairn users
# (readwrite each; buckets private to their owners: --s3-dir-mode 0700
# --s3-file-mode 0600) and the lockout off (the suite signs badly on
# purpose), lifecycle days of 10 seconds applied every 2 seconds (the
# suite's lc_debug_interval, as Ceph RGW runs it). Needs Debian's python3 with python3-pytest, python3-boto3,
# python3-munch, python3-gevent, python3-isodate, python3-yaml,
# python3-httplib2, python3-lxml, python3-tz.
#
# Usage: S3TESTS=/path/to/s3-tests [S3TESTS_OUT=report.txt] [S3TESTS_K='pytest -k expression'] \
#          bench/s3-tests.sh ['pytest -m expression']
#   e.g. bench/s3-tests.sh 'bucket_policy and not fails_on_aws'
#   (default: every test of test_s3.py and test_headers.py but those AWS
#   itself fails, marked fails_on_aws)
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -d ${S3TESTS:-}/s3tests ]] || { echo "set S3TESTS to a checkout of ceph/s3-tests"; exit 1; }
MARK=${1:-not fails_on_aws}
OUT=${S3TESTS_OUT:-}
WORK=$(mktemp -d /tmp/cairn-s3-tests.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
go build -o "$WORK/cairn" ./cmd/cairn
PORT=9340
CAIRN_ROOT_USER=s3troot CAIRN_ROOT_PASSWORD=s3troot-secret "$WORK/cairn" server "$WORK/data" --address 127.0.0.1:$PORT \
  --s3-dir-mode 0700 --s3-file-mode 0600 --lockout-attempts 0 \
  --lifecycle-day 10s --lifecycle-interval 2s >"$WORK/server.log" 2>&1 &
for _ in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:$PORT/minio/health/ready && break; sleep 0.1; done
export CAIRN_ENDPOINT=http://127.0.0.1:$PORT CAIRN_ROOT_USER=s3troot CAIRN_ROOT_PASSWORD=s3troot-secret
# Each user's canonical id (S3 ACLs, owners) is its uid.
uid=20001
for u in testmain testalt testtenant; do
  "$WORK/cairn" admin user add $u $u-secret-1 >/dev/null
  "$WORK/cairn" admin user set-id $u $uid $uid >/dev/null
  "$WORK/cairn" admin policy attach readwrite --user $u >/dev/null
  uid=$((uid + 1))
done
user() { printf '[%s]\ndisplay_name = %s\nuser_id = %s\nemail = %s@example.com\naccess_key = %s\nsecret_key = %s-secret-1\n' "$1" "$2" "$3" "$2" "$2" "$2"; }
{
  printf '[DEFAULT]\nhost = 127.0.0.1\nport = %s\nis_secure = False\nssl_verify = False\n\n[fixtures]\nbucket prefix = s3t-{random}-\n\n' $PORT
  user "s3 main" testmain 20001; echo "api_name = us-east-1"; echo
  user "s3 alt" testalt 20002; echo
  user "s3 tenant" testtenant 20003; echo "tenant = tenant"; echo
  user iam testmain 20001; echo
  printf '[iam root]\naccess_key = s3troot\nsecret_key = s3troot-secret\nuser_id = root\nemail = root@example.com\n\n'
  printf '[iam alt root]\naccess_key = s3troot\nsecret_key = s3troot-secret\nuser_id = root\nemail = root@example.com\n'
} >"$WORK/s3tests.conf"
cd "$S3TESTS"
S3TEST_CONF="$WORK/s3tests.conf" /usr/bin/python3 -m pytest -q -p no:cacheprovider -rf -m "$MARK" ${S3TESTS_K:+-k "$S3TESTS_K"} \
  s3tests/functional/test_s3.py s3tests/functional/test_headers.py 2>&1 | tee "$WORK/out.txt" | tail -1 || true
[[ -z $OUT ]] || cp "$WORK/out.txt" "$OUT"
echo "-- failures by the error they met:"
{ grep -E "^E +botocore.exceptions.ClientError: An error occurred" "$WORK/out.txt" || true; } |
  sed -E 's/.*An error occurred \(([A-Za-z]+)\) when calling the ([A-Za-z]+) operation.*/\1 \2/' | sort | uniq -c | sort -rn | head -15
