package sigv4

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"

	"cairn/internal/s3/s3err"
)

// Body is a verified request body. Read returns the payload (decoded for
// aws-chunked streams) and fails with an *s3err.Error when the payload
// does not match its signature or hash; data is only handed out after the
// chunk it belongs to has been verified.
type Body struct {
	r        io.Reader
	c        io.Closer
	trailers map[string]string
	err      error
}

// Read implements io.Reader.
func (b *Body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

// Close closes the underlying request body.
func (b *Body) Close() error {
	if b.c == nil {
		return nil
	}
	return b.c.Close()
}

// Trailers returns the trailing headers of an aws-chunked body (lower-case
// names, e.g. "x-amz-checksum-crc32"), available once Read returned EOF.
func (b *Body) Trailers() map[string]string { return b.trailers }

func plainBody(r *http.Request) *Body {
	if r.Body == nil {
		return &Body{r: bytes.NewReader(nil)}
	}
	return &Body{r: r.Body, c: r.Body}
}

// hashedBody checks the SHA-256 of the body at EOF.
func hashedBody(r *http.Request, want []byte) *Body {
	b := plainBody(r)
	b.r = &hashReader{r: b.r, h: sha256.New(), want: want}
	return b
}

type hashReader struct {
	r    io.Reader
	h    hash.Hash
	want []byte
}

func (h *hashReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	if err == io.EOF && !bytes.Equal(h.h.Sum(nil), h.want) {
		return n, s3err.New(s3err.XAmzContentSHA256Mismatch)
	}
	return n, err
}

// streamState carries what chunk signatures chain from.
type streamState struct {
	key              []byte
	scope            string
	date             string
	prev             string // previous signature (the seed: the request's)
	signed           bool
	trailer          bool
	declaredTrailers []string
}

// maxChunk bounds one chunk of an aws-chunked body: a chunk is held in
// memory until its signature is checked.
const maxChunk = 16 << 20

func newChunkedBody(rc io.ReadCloser, decoded int64, st streamState) *Body {
	b := &Body{c: rc}
	cr := &chunkReader{br: bufio.NewReaderSize(rc, 64<<10), st: st, left: decoded, body: b}
	b.r = cr
	return b
}

type chunkReader struct {
	br   *bufio.Reader
	st   streamState
	buf  []byte // verified bytes not yet returned
	left int64  // decoded bytes still expected
	eof  bool
	body *Body
	// lenient accepts lines ending in a bare LF (trailer lines only).
	lenient bool
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for len(c.buf) == 0 {
		if c.eof {
			return 0, io.EOF
		}
		if err := c.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}

func malformed(msg string) error {
	return s3err.Newf(s3err.IncompleteBody, "aws-chunked body: "+msg)
}

func (c *chunkReader) line() (string, error) {
	l, err := c.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return "", malformed("header line too long")
	}
	if err == io.EOF && len(l) == 0 {
		return "", io.ErrUnexpectedEOF
	}
	if err != nil && err != io.EOF {
		return "", err
	}
	s := string(l)
	if !strings.HasSuffix(s, "\r\n") {
		if c.lenient && strings.HasSuffix(s, "\n") {
			return s[:len(s)-1], nil
		}
		return "", malformed("line not terminated by CRLF")
	}
	return s[:len(s)-2], nil
}

// next reads and verifies one chunk.
func (c *chunkReader) next() error {
	hdr, err := c.line()
	if err == io.ErrUnexpectedEOF {
		return s3err.New(s3err.IncompleteBody)
	}
	if err != nil {
		return err
	}
	sizeStr, ext, _ := strings.Cut(hdr, ";")
	size, err := strconv.ParseInt(strings.TrimSpace(sizeStr), 16, 64)
	if err != nil || size < 0 {
		return malformed("bad chunk size")
	}
	if size > maxChunk {
		return s3err.Newf(s3err.InvalidArgument, "aws-chunked chunk larger than 16 MiB")
	}
	if size > c.left {
		return s3err.Newf(s3err.IncompleteBody, "aws-chunked body longer than x-amz-decoded-content-length")
	}
	var sig string
	if c.st.signed {
		v, ok := strings.CutPrefix(ext, "chunk-signature=")
		if !ok || len(v) != 64 {
			return s3err.Newf(s3err.SignatureDoesNotMatch, "aws-chunked chunk without a valid chunk-signature")
		}
		sig = v
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(c.br, data); err != nil {
		return s3err.New(s3err.IncompleteBody)
	}
	if c.st.signed {
		h := sha256.Sum256(data)
		sts := "AWS4-HMAC-SHA256-PAYLOAD\n" + c.st.date + "\n" + c.st.scope + "\n" + c.st.prev + "\n" + emptySHA256 + "\n" + hex.EncodeToString(h[:])
		want := hex.EncodeToString(hmacSHA256(c.st.key, sts))
		if !hmac.Equal([]byte(want), []byte(sig)) {
			return s3err.New(s3err.SignatureDoesNotMatch)
		}
		c.st.prev = sig
	}
	if size == 0 {
		return c.finish()
	}
	if crlf, err := c.line(); err != nil || crlf != "" {
		return malformed("chunk data not followed by CRLF")
	}
	c.left -= size
	c.buf = data
	return nil
}

// finish reads the trailer section after the last chunk.
func (c *chunkReader) finish() error {
	if c.left != 0 {
		return s3err.New(s3err.IncompleteBody)
	}
	trailers := map[string]string{}
	var canon strings.Builder
	var trailerSig string
	// minio-go ends each trailer line with a bare LF (then CRLF CRLF).
	c.lenient = true
	defer func() { c.lenient = false }()
	for {
		l, err := c.line()
		if err == io.ErrUnexpectedEOF {
			break // some clients end right after the last CRLF
		}
		if err != nil {
			return err
		}
		if l == "" {
			break
		}
		name, val, ok := strings.Cut(l, ":")
		if !ok {
			return malformed("bad trailer line")
		}
		name = strings.ToLower(strings.TrimSpace(name))
		val = strings.TrimSpace(val)
		if name == "x-amz-trailer-signature" {
			trailerSig = val
			continue
		}
		if !c.st.trailer {
			return malformed("unexpected trailer")
		}
		trailers[name] = val
		canon.WriteString(name + ":" + val + "\n")
	}
	for _, want := range c.st.declaredTrailers {
		if _, ok := trailers[want]; !ok {
			return s3err.Newf(s3err.InvalidRequest, "The trailer "+want+" declared in x-amz-trailer is missing.")
		}
	}
	if c.st.signed && c.st.trailer {
		h := sha256.Sum256([]byte(canon.String()))
		sts := "AWS4-HMAC-SHA256-TRAILER\n" + c.st.date + "\n" + c.st.scope + "\n" + c.st.prev + "\n" + hex.EncodeToString(h[:])
		want := hex.EncodeToString(hmacSHA256(c.st.key, sts))
		if !hmac.Equal([]byte(want), []byte(trailerSig)) {
			return s3err.Newf(s3err.SignatureDoesNotMatch, "The trailer signature does not match.")
		}
	}
	c.body.trailers = trailers
	c.eof = true
	return nil
}
