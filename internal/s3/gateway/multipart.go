package gateway

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"cairn/internal/s3/s3err"
	"cairn/internal/s3/s3fs"
)

func (q *request) uploadID() string { return q.r.URL.Query().Get("uploadId") }

func (q *request) partNumber() (int, error) {
	n, err := strconv.Atoi(q.r.URL.Query().Get("partNumber"))
	if err != nil || n < 1 || n > s3fs.MaxParts {
		return 0, s3err.Newf(s3err.InvalidArgument, "Part number must be an integer between 1 and 10000, inclusive")
	}
	return n, nil
}

func (q *request) createMultipartUpload() (*response, error) {
	opt, err := q.putOptions()
	if err == nil {
		opt.ACL, err = q.newObjectACL()
	}
	if err != nil {
		return nil, err
	}
	// The checksum headers go out with an error of the backend's too.
	res := &response{}
	if opt.ChecksumType != "" || len(opt.Compute) > 0 {
		if len(opt.Compute) == 0 {
			return nil, s3err.Newf(s3err.InvalidRequest, "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.")
		}
		alg := opt.Compute[0]
		typ := opt.ChecksumType
		if typ == "" {
			typ = s3fs.DefaultChecksumType(alg)
		}
		if !s3fs.ValidChecksumType(alg, typ) {
			return nil, s3err.Newf(s3err.InvalidRequest, "The "+typ+" checksum type cannot be used with the "+strings.ToLower(alg)+" checksum algorithm.")
		}
		res.hdr().Set("x-amz-checksum-algorithm", alg)
		res.hdr().Set("x-amz-checksum-type", typ)
	}
	id, err := q.g.opt.Backend.CreateMultipartUpload(q.ctx, q.cred, q.bucket, q.key, opt)
	if err != nil {
		return res, err
	}
	res.xml = initiateMultipartUploadResult{NS: s3NS, Bucket: q.bucket, Key: q.key, UploadID: id}
	return res, nil
}

func (q *request) uploadPart() (*response, error) {
	n, err := q.partNumber()
	if err != nil {
		return nil, err
	}
	if err := q.needLength(); err != nil {
		return nil, err
	}
	opt, err := q.putOptions()
	if err != nil {
		return nil, err
	}
	p, err := q.g.opt.Backend.UploadPart(q.ctx, q.cred, q.bucket, q.key, q.uploadID(), n, q.r.Body, opt)
	if err != nil {
		return nil, err
	}
	res := empty(http.StatusOK)
	res.hdr().Set("ETag", p.ETag)
	setChecksumHeaders(res.hdr(), p.Checksums)
	return res, nil
}

func (q *request) uploadPartCopy() (*response, error) {
	n, err := q.partNumber()
	if err != nil {
		return nil, err
	}
	sb, sk, srcCred, err := q.copySource()
	if err != nil {
		return nil, err
	}
	opt := s3fs.CopyOptions{Source: q.copyConditions(), SourceCred: srcCred, SourceVersionID: q.copySourceVersion()}
	if s := q.r.Header.Get("X-Amz-Copy-Source-Range"); s != "" {
		rg := parseRange(s)
		if rg == nil || rg.Start < 0 || rg.Open {
			return nil, s3err.Newf(s3err.InvalidArgument, "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
		}
		opt.Range = rg
	}
	p, err := q.g.opt.Backend.UploadPartCopy(q.ctx, q.cred, q.bucket, q.key, q.uploadID(), n, sb, sk, opt)
	if errors.Is(err, s3fs.ErrNotModified) {
		err = s3fs.ErrPreconditionFailed
	}
	if err != nil {
		return nil, err
	}
	return xmlResponse(copyPartResult{NS: s3NS, LastModified: isoTime(p.ModTime), ETag: p.ETag}), nil
}

func (q *request) completeMultipartUpload() (*response, error) {
	var req completeMultipartUpload
	if err := q.readXML(8<<20, &req); err != nil {
		return nil, err
	}
	if len(req.Parts) == 0 {
		return nil, s3err.Newf(s3err.MalformedXML, "You must specify at least one part")
	}
	parts := make([]s3fs.CompletePart, len(req.Parts))
	for i, p := range req.Parts {
		parts[i] = s3fs.CompletePart{Number: p.PartNumber, ETag: p.ETag, Checksums: s3fs.Checksums{
			CRC32: p.ChecksumCRC32, CRC32C: p.ChecksumCRC32C, CRC64NVME: p.ChecksumCRC64NVME, SHA1: p.ChecksumSHA1, SHA256: p.ChecksumSHA256}}
	}
	opt := s3fs.PutOptions{IfMatch: q.r.Header.Get("If-Match"), IfNoneMatch: q.r.Header.Get("If-None-Match")}
	for _, alg := range checksumAlgs {
		// The whole object's checksum, when the client states it.
		if v := q.r.Header.Get("X-Amz-Checksum-" + alg); v != "" {
			opt.Expect.Set(alg, v)
		}
	}
	oi, err := q.g.opt.Backend.CompleteMultipartUpload(q.ctx, q.cred, q.bucket, q.key, q.uploadID(), parts, opt)
	if err != nil {
		return nil, err
	}
	res := xmlResponse(completeMultipartUploadResult{NS: s3NS, Location: "/" + q.bucket + "/" + q.key, Bucket: q.bucket, Key: q.key, ETag: oi.ETag,
		ChecksumCRC32: oi.Checksums.CRC32, ChecksumCRC32C: oi.Checksums.CRC32C, ChecksumCRC64NVME: oi.Checksums.CRC64NVME,
		ChecksumSHA1: oi.Checksums.SHA1, ChecksumSHA256: oi.Checksums.SHA256, ChecksumType: oi.Checksums.Type})
	setNewVersionHeader(res.hdr(), oi.VersionID)
	return res, nil
}

func (q *request) abortMultipartUpload() (*response, error) {
	if err := q.g.opt.Backend.AbortMultipartUpload(q.ctx, q.cred, q.bucket, q.key, q.uploadID()); err != nil {
		return nil, err
	}
	return empty(http.StatusNoContent), nil
}

func (q *request) listParts() (*response, error) {
	v := q.r.URL.Query()
	marker, max := 0, 1000
	if s := v.Get("part-number-marker"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return nil, s3err.Newf(s3err.InvalidArgument, "Argument part-number-marker must be an integer between 0 and 2147483647")
		}
		marker = n
	}
	if s := v.Get("max-parts"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return nil, s3err.Newf(s3err.InvalidArgument, "Argument max-parts must be an integer between 0 and 2147483647")
		}
		max = min(n, 1000)
	}
	lr, err := q.g.opt.Backend.ListParts(q.ctx, q.cred, q.bucket, q.key, q.uploadID(), marker, max)
	if err != nil {
		return nil, err
	}
	ow := q.owner(lr.Upload.OwnerUID)
	res := listPartsResult{NS: s3NS, Bucket: q.bucket, Key: q.key, UploadID: q.uploadID(), Initiator: ow, Owner: ow,
		StorageClass: "STANDARD", PartNumberMarker: marker, NextPartNumberMarker: lr.NextPartNumberMarker,
		MaxParts: max, IsTruncated: lr.IsTruncated, Parts: []partElem{}}
	for _, p := range lr.Parts {
		res.Parts = append(res.Parts, partElem{PartNumber: p.Number, LastModified: isoTime(p.ModTime), ETag: p.ETag, Size: p.Size})
	}
	return xmlResponse(res), nil
}

func (q *request) listMultipartUploads() (*response, error) {
	v := q.r.URL.Query()
	opt := s3fs.ListUploadsOptions{Prefix: v.Get("prefix"), Delimiter: v.Get("delimiter"), KeyMarker: v.Get("key-marker"),
		UploadIDMarker: v.Get("upload-id-marker"), MaxUploads: 1000}
	if s := v.Get("max-uploads"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return nil, s3err.Newf(s3err.InvalidArgument, "Argument max-uploads must be an integer between 0 and 2147483647")
		}
		opt.MaxUploads = min(n, 1000)
	}
	enc := v.Get("encoding-type")
	if enc != "" && enc != "url" {
		return nil, s3err.Newf(s3err.InvalidArgument, "Invalid Encoding Method specified in Request")
	}
	p := listParams{encoding: enc}
	lr, err := q.g.opt.Backend.ListMultipartUploads(q.ctx, q.cred, q.bucket, opt)
	if err != nil {
		return nil, err
	}
	res := listMultipartUploadsResult{NS: s3NS, Bucket: q.bucket, KeyMarker: p.enc(opt.KeyMarker), UploadIDMarker: opt.UploadIDMarker,
		NextKeyMarker: p.enc(lr.NextKeyMarker), NextUploadIDMarker: lr.NextUploadIDMarker, Prefix: p.enc(opt.Prefix),
		Delimiter: p.enc(opt.Delimiter), MaxUploads: opt.MaxUploads, IsTruncated: lr.IsTruncated, EncodingType: enc,
		Uploads: []uploadElem{}, CommonPrefixes: []prefixElem{}}
	for _, u := range lr.Uploads {
		ow := q.owner(u.OwnerUID)
		res.Uploads = append(res.Uploads, uploadElem{Key: p.enc(u.Key), UploadID: u.UploadID, Initiator: ow, Owner: ow,
			StorageClass: "STANDARD", Initiated: isoTime(u.Initiated)})
	}
	for _, cp := range lr.CommonPrefixes {
		res.CommonPrefixes = append(res.CommonPrefixes, prefixElem{Prefix: p.enc(cp)})
	}
	return xmlResponse(res), nil
}
