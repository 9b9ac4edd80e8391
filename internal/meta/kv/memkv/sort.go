package memkv

import (
	"bytes"
	"slices"
)

func sortItems(items []item, reverse bool) {
	slices.SortFunc(items, func(a, b item) int {
		c := bytes.Compare(a.key, b.key)
		if reverse {
			return -c
		}
		return c
	})
}
