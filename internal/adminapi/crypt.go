package adminapi

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"
)

// The admin API's payload encryption, as MinIO's admin clients (`mc
// admin`) speak it. A payload is sealed with a key derived from the
// caller's secret key:
//
//	salt (32 bytes) | algorithm (1 byte) | nonce (8 bytes) | stream
//
// algorithm 0 is Argon2id (time 1, memory 64 MiB, 4 lanes) with
// AES-256-GCM, 1 the same key with ChaCha20-Poly1305, 2 PBKDF2-SHA256
// (8,192 rounds) with AES-256-GCM. The stream is the plaintext cut into
// fragments of 16 KiB (the last holding 0 to 16 KiB: a plaintext that
// fills its last fragment exactly ends with that full fragment), each
// sealed with the AEAD under the nonce (8 bytes) followed by a fragment
// number (4 bytes, little-endian) counted from 1. Every fragment's
// additional data is a flag byte (0x80 on the last fragment, 0 on the
// others) followed by the AEAD's tag of an empty message under fragment
// number 0, which binds the fragments to one stream; the last fragment
// keeps the number that follows the one before it.
const (
	algArgon2AESGCM   = 0x00
	algArgon2ChaCha   = 0x01
	algPBKDF2AESGCM   = 0x02
	saltSize          = 32
	streamNonceSize   = 8
	fragmentSize      = 1 << 14
	headerSize        = saltSize + 1 + streamNonceSize
	maxPayload        = 1 << 20 // what cairn accepts in one admin request
	argon2Memory      = 64 * 1024
	argon2Threads     = 4
	pbkdf2Iterations  = 8192
	derivedKeyLength  = 32
	lastFragmentFlag  = 0x80
	firstFragmentNumb = 1
)

// errNotAuthentic is a payload that does not decrypt with the secret.
var errNotAuthentic = errors.New("adminapi: the payload is not sealed with the caller's secret key")

func deriveAEAD(alg byte, secret string, salt []byte) (cipher.AEAD, error) {
	var key []byte
	switch alg {
	case algArgon2AESGCM, algArgon2ChaCha:
		key = argon2.IDKey([]byte(secret), salt, 1, argon2Memory, argon2Threads, derivedKeyLength)
	case algPBKDF2AESGCM:
		var err error
		if key, err = pbkdf2.Key(sha256.New, secret, salt, pbkdf2Iterations, derivedKeyLength); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("adminapi: unknown payload algorithm %d", alg)
	}
	if alg == algArgon2ChaCha {
		return chacha20poly1305.New(key)
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// streamAD is the additional data of a stream's fragments, flag unset.
func streamAD(aead cipher.AEAD, nonce []byte) ([]byte, []byte) {
	full := make([]byte, aead.NonceSize())
	copy(full, nonce)
	ad := make([]byte, 1, 1+aead.Overhead())
	ad = aead.Seal(ad, full, nil, nil) // fragment number 0
	return ad, full
}

// seal encrypts plain for a caller whose secret key is secret.
func seal(secret string, plain []byte) ([]byte, error) {
	out := make([]byte, headerSize, headerSize+len(plain)+(len(plain)/fragmentSize+1)*16)
	if _, err := rand.Read(out[:saltSize]); err != nil {
		return nil, err
	}
	out[saltSize] = algArgon2AESGCM
	if _, err := rand.Read(out[saltSize+1 : headerSize]); err != nil {
		return nil, err
	}
	aead, err := deriveAEAD(algArgon2AESGCM, secret, out[:saltSize])
	if err != nil {
		return nil, err
	}
	ad, nonce := streamAD(aead, out[saltSize+1:headerSize])
	seq := uint32(firstFragmentNumb)
	for len(plain) > fragmentSize {
		binary.LittleEndian.PutUint32(nonce[streamNonceSize:], seq)
		out = aead.Seal(out, nonce, plain[:fragmentSize], ad)
		plain = plain[fragmentSize:]
		seq++
	}
	binary.LittleEndian.PutUint32(nonce[streamNonceSize:], seq)
	ad[0] = lastFragmentFlag
	return aead.Seal(out, nonce, plain, ad), nil
}

// open decrypts a payload sealed with secret (by any of the three
// algorithms).
func open(secret string, sealed []byte) ([]byte, error) {
	if len(sealed) < headerSize {
		return nil, errNotAuthentic
	}
	if len(sealed) > maxPayload+headerSize+(maxPayload/fragmentSize+1)*16 {
		return nil, fmt.Errorf("adminapi: the payload is over %d bytes", maxPayload)
	}
	aead, err := deriveAEAD(sealed[saltSize], secret, sealed[:saltSize])
	if err != nil {
		return nil, err
	}
	ad, nonce := streamAD(aead, sealed[saltSize+1:headerSize])
	body := sealed[headerSize:]
	chunk := fragmentSize + aead.Overhead()
	var plain bytes.Buffer
	seq := uint32(firstFragmentNumb)
	for {
		binary.LittleEndian.PutUint32(nonce[streamNonceSize:], seq)
		if len(body) <= chunk {
			ad[0] = lastFragmentFlag
			p, err := aead.Open(nil, nonce, body, ad)
			if err != nil {
				return nil, errNotAuthentic
			}
			plain.Write(p)
			return plain.Bytes(), nil
		}
		p, err := aead.Open(nil, nonce, body[:chunk], ad)
		if err != nil {
			return nil, errNotAuthentic
		}
		plain.Write(p)
		body = body[chunk:]
		seq++
	}
}
