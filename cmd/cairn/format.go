package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"cairn/internal/meta"
)

func newFormatCmd() *cobra.Command {
	var (
		storage   string
		bucket    string
		blockSize = sizeValue(4 << 20)
		capacity  sizeValue
		inodes    uint64
		enableACL bool
		durable   durability
		accessKey string
		secretKey string
	)
	cmd := &cobra.Command{
		Use:   "format META-URL NAME",
		Short: "Create a volume: metadata in META-URL, blocks in an object store",
		Example: `  cairn format sqlite3://data/meta.db myvol
  cairn format sqlite3://data/meta.db myvol --storage file --bucket data/blocks --capacity 100G
  cairn format "postgres://cairn:secret@db.example.com/cairn" myvol --bucket /srv/cairn/blocks
  cairn format redis://redis.example.com:6379/1 myvol --storage s3 --bucket https://s3.example.com/cairn-blocks`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			metaURL, name := args[0], args[1]
			if blockSize < 64<<10 || blockSize > 16<<20 || blockSize&(blockSize-1) != 0 {
				return fmt.Errorf("--block-size must be a power of two between 64K and 16M, not %d", blockSize)
			}
			if bucket == "" {
				bucket = defaultBucket(metaURL)
			}
			if storage == "s3" && bucket == "" {
				return errors.New("--storage s3 needs --bucket http(s)://HOST[:PORT]/BUCKET[/PREFIX]")
			}
			if (accessKey == "") != (secretKey == "") {
				return errors.New("--access-key and --secret-key go together")
			}
			if storage == "file" {
				abs, err := filepath.Abs(bucket)
				if err != nil {
					return err
				}
				bucket = abs
			}
			f := meta.Format{Name: name, Storage: storage, Bucket: bucket, BlockSize: int(blockSize),
				Capacity: uint64(capacity), Inodes: inodes, EnableACL: enableACL, AccessKey: accessKey, SecretKey: secretKey}
			if _, err := openObjects(cmd.Context(), f, false); err != nil {
				return err
			}
			ctx := cmd.Context()
			store, err := openStore(ctx, metaURL, durable)
			if err != nil {
				return err
			}
			defer store.Close()
			f, err = meta.FormatVolume(ctx, store, f)
			if err != nil {
				return fmt.Errorf("format %s: %w", metaURL, err)
			}
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(f.Redacted())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&storage, "storage", "file", "object store kind: file (a local directory), s3 (a bucket of any S3-compatible service) or mem")
	fl.StringVar(&bucket, "bucket", "", "object store location: for file, a directory (default: blocks/ next to the SQLite file); for s3, http(s)://HOST[:PORT]/BUCKET[/PREFIX][?region=R&lookup=dns]")
	fl.StringVar(&accessKey, "access-key", "", "s3: access key, kept in the volume's settings (default: CAIRN_STORAGE_ACCESS_KEY or AWS_ACCESS_KEY_ID at every start)")
	fl.StringVar(&secretKey, "secret-key", "", "s3: secret key, kept in the volume's settings (default: CAIRN_STORAGE_SECRET_KEY or AWS_SECRET_ACCESS_KEY at every start)")
	fl.Var(&blockSize, "block-size", "size of stored blocks (64K to 16M, a power of two)")
	fl.Var(&capacity, "capacity", "volume capacity, e.g. 100G (0: unlimited)")
	fl.Uint64Var(&inodes, "inodes", 0, "most inodes the volume may hold (0: unlimited)")
	fl.Var(&durable, "durability", durabilityUsage+" (checked against a Redis server's settings)")
	fl.BoolVar(&enableACL, "enable-acl", true, "POSIX ACLs (on by default, as on ext4; once a volume has them they cannot be turned off)")
	return cmd
}
