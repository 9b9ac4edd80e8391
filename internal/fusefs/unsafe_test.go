package fusefs_test

import "unsafe"

func unsafePointer(gs []uint32) unsafe.Pointer { return unsafe.Pointer(&gs[0]) }
