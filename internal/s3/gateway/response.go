package gateway

import (
	"encoding/xml"
	"io"
	"net/http"
	"strconv"
	"sync"
)

// A response is a handler's answer; respond writes it. Handlers never
// touch the ResponseWriter: what they answer, headers included, is here.
type response struct {
	// status is the HTTP status; 0 means 200.
	status int
	// header is set over the common headers (request id, Server, CORS).
	// It goes out with an error too, when a handler returns both
	// (x-amz-delete-marker on a 404, …).
	header http.Header
	// The body, at most one of:
	xml    any           // marshalled as XML, with its Content-Type and Content-Length
	raw    []byte        // sent as is; its Content-Type is the handler's to set
	stream io.ReadCloser // n bytes sent with copyBody, then closed; Content-Length is the handler's to set
	n      int64
	// live is a body made while the client waits (an event stream):
	// respond calls it with a send that writes each piece at once, and it
	// returns when it is done or the client has gone.
	live func(send func([]byte) error) error
}

// empty is an answer of status without a body.
func empty(status int) *response { return &response{status: status} }

// xmlResponse answers 200 with v as XML.
func xmlResponse(v any) *response { return &response{xml: v} }

// rawResponse answers 200 with body, of contentType.
func rawResponse(contentType string, body []byte) *response {
	return &response{header: http.Header{"Content-Type": {contentType}}, raw: body}
}

// hdr is the response's header, made on first use.
func (r *response) hdr() http.Header {
	if r.header == nil {
		r.header = http.Header{}
	}
	return r.header
}

// discard drops an answer that will not be written (closing its body).
func (r *response) discard() {
	if r != nil && r.stream != nil {
		r.stream.Close()
	}
}

// respond writes a handler's answer: res's headers over the common ones,
// then, when err is nil, its status and body; else the S3 error of err
// (q.fail), with res's headers. A body stream is closed in any case; one
// that is cut short is logged, the status being gone.
func (q *request) respond(res *response, err error) {
	if res == nil {
		res = &response{}
	}
	if res.stream != nil {
		defer res.stream.Close()
	}
	wh := q.w.Header()
	for k, v := range res.header {
		wh[k] = v
	}
	if err != nil {
		q.fail(err)
		return
	}
	status := res.status
	if status == 0 {
		status = http.StatusOK
	}
	switch {
	case res.xml != nil:
		out, err := marshalXML(res.xml)
		if err != nil {
			q.fail(err)
			return
		}
		wh.Set("Content-Type", "application/xml")
		wh.Set("Content-Length", strconv.Itoa(len(xml.Header)+len(out)))
		q.w.WriteHeader(status)
		io.WriteString(q.w, xml.Header)
		q.w.Write(out)
	case res.raw != nil:
		q.w.WriteHeader(status)
		q.w.Write(res.raw)
	case res.stream != nil:
		q.w.WriteHeader(status)
		if err := copyBody(q.w, res.stream, res.n); err != nil {
			q.g.log.Warn(q.op+": body not sent in full", "request_id", q.id, "bucket", q.bucket, "key", q.key, "err", err)
		}
	case res.live != nil:
		q.w.WriteHeader(status)
		rc := http.NewResponseController(q.w)
		rc.Flush()
		err := res.live(func(b []byte) error {
			if _, err := q.w.Write(b); err != nil {
				return err
			}
			return rc.Flush()
		})
		if err != nil && q.r.Context().Err() == nil {
			q.g.log.Warn(q.op+": stream ended", "request_id", q.id, "bucket", q.bucket, "err", err)
		}
	default:
		q.w.WriteHeader(status)
	}
}

// marshalXML is v as XML (without the XML header); listings take their
// fast path.
func marshalXML(v any) ([]byte, error) {
	switch l := v.(type) {
	case listBucketResult:
		return l.appendXML(make([]byte, 0, 256+len(l.Contents)*256+len(l.CommonPrefixes)*64)), nil
	case listVersionsResult:
		return l.appendXML(make([]byte, 0, 256+len(l.Entries)*320+len(l.CommonPrefixes)*64)), nil
	}
	return xml.Marshal(v)
}

// sendBufSize is the buffer a GET body goes through: large enough that a
// big object takes few reads and socket writes (io.Copy's 32 KiB meant
// 512 of each for 16 MiB), small objects use a buffer of their size.
const sendBufSize = 1 << 20

var sendBufs = sync.Pool{New: func() any { b := make([]byte, sendBufSize); return &b }}

// copyBody sends n bytes of body to w. A body that can write itself (an
// s3fs object: cached blocks go to the socket as they are, block files by
// sendfile through w's ReadFrom) needs no buffer.
func copyBody(w io.Writer, body io.Reader, n int64) error {
	if wt, ok := body.(io.WriterTo); ok {
		_, err := wt.WriteTo(w)
		return err
	}
	if n < sendBufSize {
		_, err := io.CopyBuffer(onlyWriter{w}, body, make([]byte, max(n, 1)))
		return err
	}
	bp := sendBufs.Get().(*[]byte)
	defer sendBufs.Put(bp)
	_, err := io.CopyBuffer(onlyWriter{w}, body, *bp)
	return err
}

// onlyWriter hides any ReadFrom of the wrapped writer, so that CopyBuffer
// uses the buffer it is given.
type onlyWriter struct{ io.Writer }
