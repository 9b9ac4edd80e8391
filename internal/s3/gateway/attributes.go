package gateway

import (
	"encoding/xml"
	"net/http"
	"strconv"
	"strings"

	"cairn/internal/s3/s3err"
	"cairn/internal/s3/s3fs"
)

// getObjectAttributesResponse is GetObjectAttributes' answer; only the
// attributes asked for are filled.
type getObjectAttributesResponse struct {
	XMLName      xml.Name         `xml:"GetObjectAttributesResponse"`
	NS           string           `xml:"xmlns,attr"`
	ETag         string           `xml:"ETag,omitempty"`
	Checksum     *checksumElem    `xml:"Checksum,omitempty"`
	ObjectParts  *objectPartsElem `xml:"ObjectParts,omitempty"`
	StorageClass string           `xml:"StorageClass,omitempty"`
	ObjectSize   *int64           `xml:"ObjectSize,omitempty"`
}

type checksumElem struct {
	CRC32     string `xml:"ChecksumCRC32,omitempty"`
	CRC32C    string `xml:"ChecksumCRC32C,omitempty"`
	CRC64NVME string `xml:"ChecksumCRC64NVME,omitempty"`
	SHA1      string `xml:"ChecksumSHA1,omitempty"`
	SHA256    string `xml:"ChecksumSHA256,omitempty"`
	Type      string `xml:"ChecksumType,omitempty"`
}

type objectPartsElem struct {
	IsTruncated          bool           `xml:"IsTruncated"`
	MaxParts             int            `xml:"MaxParts"`
	NextPartNumberMarker int            `xml:"NextPartNumberMarker"`
	PartNumberMarker     int            `xml:"PartNumberMarker"`
	Parts                []partAttrElem `xml:"Part"`
	PartsCount           int            `xml:"PartsCount"`
}

type partAttrElem struct {
	CRC32      string `xml:"ChecksumCRC32,omitempty"`
	CRC32C     string `xml:"ChecksumCRC32C,omitempty"`
	CRC64NVME  string `xml:"ChecksumCRC64NVME,omitempty"`
	SHA1       string `xml:"ChecksumSHA1,omitempty"`
	SHA256     string `xml:"ChecksumSHA256,omitempty"`
	PartNumber int    `xml:"PartNumber"`
	Size       int64  `xml:"Size"`
}

var objectAttributes = []string{"ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"}

func (q *request) getObjectAttributes() (*response, error) {
	want := map[string]bool{}
	for _, v := range q.r.Header.Values("X-Amz-Object-Attributes") {
		for _, a := range strings.Split(v, ",") {
			if a = strings.TrimSpace(a); a != "" {
				if !contains(objectAttributes, a) {
					return nil, s3err.Newf(s3err.InvalidArgument, "Invalid attribute name specified: "+a)
				}
				want[a] = true
			}
		}
	}
	if len(want) == 0 {
		return nil, s3err.Newf(s3err.InvalidArgument, "The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty.")
	}
	maxParts, marker := 1000, 0
	if s := q.r.Header.Get("X-Amz-Max-Parts"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return nil, s3err.Newf(s3err.InvalidArgument, "Argument max-parts must be an integer between 0 and 2147483647")
		}
		maxParts = min(n, 1000)
	}
	if s := q.r.Header.Get("X-Amz-Part-Number-Marker"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return nil, s3err.Newf(s3err.InvalidArgument, "Argument part-number-marker must be an integer between 0 and 2147483647")
		}
		marker = n
	}
	oi, err := q.g.opt.Backend.HeadObject(q.ctx, q.cred, q.bucket, q.key, s3fs.GetOptions{VersionID: q.versionID()})
	if err != nil {
		return nil, err
	}
	out := getObjectAttributesResponse{NS: s3NS}
	if want["ETag"] {
		out.ETag = s3fs.TrimETag(oi.ETag)
	}
	if want["StorageClass"] {
		out.StorageClass = oi.StorageClass
	}
	if want["ObjectSize"] {
		out.ObjectSize = &oi.Size
	}
	if c := oi.Checksums; want["Checksum"] && (c.CRC32 != "" || c.CRC32C != "" || c.CRC64NVME != "" || c.SHA1 != "" || c.SHA256 != "") {
		out.Checksum = &checksumElem{CRC32: c.CRC32, CRC32C: c.CRC32C, CRC64NVME: c.CRC64NVME, SHA1: c.SHA1, SHA256: c.SHA256, Type: c.Type}
	}
	if want["ObjectParts"] && oi.PartsCount > 0 {
		op := &objectPartsElem{MaxParts: maxParts, PartNumberMarker: marker, PartsCount: oi.PartsCount}
		for i, size := range oi.PartSizes {
			n := i + 1
			if n <= marker {
				continue
			}
			if len(op.Parts) == maxParts {
				op.IsTruncated = true
				break
			}
			pe := partAttrElem{PartNumber: n, Size: size}
			if i < len(oi.PartChecksums) {
				c := oi.PartChecksums[i]
				pe.CRC32, pe.CRC32C, pe.CRC64NVME, pe.SHA1, pe.SHA256 = c.CRC32, c.CRC32C, c.CRC64NVME, c.SHA1, c.SHA256
			}
			op.Parts = append(op.Parts, pe)
			op.NextPartNumberMarker = n
		}
		out.ObjectParts = op
	}
	res := xmlResponse(out)
	setVersionHeader(res.hdr(), oi.VersionID)
	res.hdr().Set("Last-Modified", oi.ModTime.UTC().Format(http.TimeFormat))
	return res, nil
}
