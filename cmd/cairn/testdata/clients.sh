#!/usr/bin/env bash
# Drives a running `cairn server` with real clients: the aws CLI, boto3,
# curl (presigned URL) and rclone. Called by TestRealClients with
# ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and WORK set.
set -euo pipefail
export AWS_DEFAULT_REGION=us-east-1
aws() { command aws --endpoint-url "$ENDPOINT" "$@"; }
cd "$WORK"

step() { echo "== $*"; }

step "aws s3 sync of a 1,000-file tree, both ways"
aws s3 mb s3://sync >/dev/null
mkdir -p tree
for d in $(seq 0 9); do
  mkdir -p "tree/dir $d/sub"
  for f in $(seq 0 49); do echo "file $d/$f $RANDOM" > "tree/dir $d/f$f.txt"; done
  for f in $(seq 0 49); do head -c $((f * 97)) /dev/urandom > "tree/dir $d/sub/b$f.bin"; done
done
test "$(find tree -type f | wc -l)" -eq 1000
aws s3 sync tree s3://sync/tree --only-show-errors
test "$(aws s3 ls s3://sync/tree/ --recursive | wc -l)" -eq 1000
aws s3 sync s3://sync/tree back --only-show-errors
diff -r tree back
# A changed and a deleted file sync back up.
echo changed > "tree/dir 3/f7.txt"
rm "tree/dir 4/f1.txt"
aws s3 sync --delete tree s3://sync/tree --only-show-errors
test "$(aws s3 ls s3://sync/tree/ --recursive | wc -l)" -eq 999
test "$(aws s3 cp "s3://sync/tree/dir 3/f7.txt" -)" = changed

step "200 MiB multipart upload and download, compared by checksum"
head -c $((200 << 20)) /dev/urandom > big.bin
aws s3 cp big.bin s3://sync/big.bin --only-show-errors
aws s3api head-object --bucket sync --key big.bin > head.json
grep -q '"ContentLength": 209715200' head.json
grep -q -- '-[0-9]*\\""' head.json   # multipart ETag
aws s3 cp s3://sync/big.bin big.back --only-show-errors
test "$(sha256sum < big.bin)" = "$(sha256sum < big.back)"

step "presigned URL with curl"
url=$(aws s3 presign "s3://sync/tree/dir 1/f2.txt" --expires-in 300)
curl -fsS "$url" -o presigned.txt
cmp presigned.txt "tree/dir 1/f2.txt"
bad="${url%?*}?$(echo "${url#*\?}" | sed 's/Signature=[^&]*/Signature=AAAA/')"
code=$(curl -s -o /dev/null -w '%{http_code}' "$bad")
test "$code" = 403

step "boto3"
python3 - <<'PY'
import os, hashlib, boto3
from boto3.s3.transfer import TransferConfig
s3 = boto3.client("s3", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1")
s3.create_bucket(Bucket="boto")
s3.put_object(Bucket="boto", Key="a/b.txt", Body=b"hello boto", ContentType="text/plain", Metadata={"color": "blue"})
o = s3.get_object(Bucket="boto", Key="a/b.txt")
assert o["Body"].read() == b"hello boto"
assert o["ContentType"] == "text/plain" and o["Metadata"] == {"color": "blue"}, o
assert s3.get_object(Bucket="boto", Key="a/b.txt", Range="bytes=6-9")["Body"].read() == b"boto"
data = os.urandom(12 << 20)
with open("boto.bin", "wb") as f:
    f.write(data)
s3.upload_file("boto.bin", "boto", "multi.bin", Config=TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20))
s3.download_file("boto", "multi.bin", "boto.back")
assert hashlib.sha256(open("boto.back", "rb").read()).digest() == hashlib.sha256(data).digest()
keys = [k["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket="boto") for k in p.get("Contents", [])]
assert keys == ["a/b.txt", "multi.bin"], keys
pre = s3.list_objects_v2(Bucket="boto", Delimiter="/")
assert [c["Prefix"] for c in pre["CommonPrefixes"]] == ["a/"], pre
s3.copy_object(Bucket="boto", Key="copy.txt", CopySource={"Bucket": "boto", "Key": "a/b.txt"})
assert s3.get_object(Bucket="boto", Key="copy.txt")["Body"].read() == b"hello boto"
r = s3.delete_objects(Bucket="boto", Delete={"Objects": [{"Key": "a/b.txt"}, {"Key": "copy.txt"}, {"Key": "missing"}]})
assert len(r["Deleted"]) == 3, r
try:
    s3.get_object(Bucket="boto", Key="a/b.txt")
    raise SystemExit("deleted object still readable")
except s3.exceptions.NoSuchKey:
    pass
print("boto3 ok")
PY

step "rclone copy and check"
export RCLONE_CONFIG_CAIRN_TYPE=s3 RCLONE_CONFIG_CAIRN_PROVIDER=Other RCLONE_CONFIG_CAIRN_ENDPOINT="$ENDPOINT" \
  RCLONE_CONFIG_CAIRN_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" RCLONE_CONFIG_CAIRN_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" \
  RCLONE_CONFIG_CAIRN_REGION=us-east-1
unset AWS_CA_BUNDLE  # rclone cannot use a custom CA bundle with its own transport; the endpoint is plain http
rclone mkdir cairn:rcl
rclone copy tree cairn:rcl/tree
rclone check tree cairn:rcl/tree
rclone copy cairn:rcl/tree rback
diff -r tree rback
echo "all clients ok"
