package s3fs

import (
	"errors"
	"testing"
)

// Canned ACLs grant what AWS's documentation lists, and Allows reads
// them: users by uid, the public groups unless ignored, never a grant
// that is not there.
func TestCannedACLs(t *testing.T) {
	const owner, bucketOwner, other = 10, 20, 30
	type ask struct {
		perm          string
		uid           uint32
		authenticated bool
	}
	for _, c := range []struct {
		canned string
		yes    []ask
		no     []ask
	}{
		{"private", []ask{{PermRead, owner, true}, {PermWriteACP, owner, true}}, []ask{{PermRead, other, true}, {PermRead, bucketOwner, true}, {PermRead, 0, false}}},
		{"public-read", []ask{{PermRead, other, true}, {PermRead, 0, false}}, []ask{{PermWrite, other, true}, {PermReadACP, 0, false}}},
		{"public-read-write", []ask{{PermWrite, 0, false}, {PermRead, other, true}}, []ask{{PermWriteACP, other, true}}},
		{"authenticated-read", []ask{{PermRead, other, true}}, []ask{{PermRead, 0, false}, {PermWrite, other, true}}},
		{"bucket-owner-read", []ask{{PermRead, bucketOwner, true}}, []ask{{PermWrite, bucketOwner, true}, {PermRead, other, true}}},
		{"bucket-owner-full-control", []ask{{PermWriteACP, bucketOwner, true}}, []ask{{PermRead, other, true}}},
	} {
		a, err := CannedACL(c.canned, owner, bucketOwner)
		if err != nil || a.Owner != owner {
			t.Fatalf("%s: %+v %v", c.canned, a, err)
		}
		for _, y := range c.yes {
			if !a.Allows(y.perm, y.uid, y.authenticated, false) {
				t.Errorf("%s does not give %s to %d (%v)", c.canned, y.perm, y.uid, y.authenticated)
			}
		}
		for _, n := range c.no {
			if a.Allows(n.perm, n.uid, n.authenticated, false) {
				t.Errorf("%s gives %s to %d (%v)", c.canned, n.perm, n.uid, n.authenticated)
			}
		}
		if a.Public() != (c.canned == "public-read" || c.canned == "public-read-write" || c.canned == "authenticated-read") {
			t.Errorf("%s: Public() is %v", c.canned, a.Public())
		}
	}
	a, _ := CannedACL("public-read", owner, owner)
	if a.Allows(PermRead, 0, false, true) || a.Allows(PermRead, other, true, true) {
		t.Errorf("public grants count although ignored")
	}
	if a, _ := CannedACL("bucket-owner-full-control", owner, owner); !a.isDefault() {
		t.Errorf("bucket-owner-full-control by the bucket's owner: %+v", a)
	}
	if _, err := CannedACL("everyone-everything", owner, owner); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("an unknown canned ACL: %v", err)
	}
	if storedACL(&ACL{Owner: owner, Grants: []Grant{{UID: owner, Permission: PermFullControl}}}, owner) != nil {
		t.Errorf("the default ACL is stored")
	}
	if storedACL(&ACL{Owner: owner, Grants: []Grant{{UID: owner, Permission: PermFullControl}}}, other) == nil {
		t.Errorf("an S3 owner other than the file's is not stored")
	}
	if storedACL(&ACL{Owner: owner, Grants: []Grant{}}, owner) == nil {
		t.Errorf("an empty ACL (all revoked) is not stored")
	}
}
